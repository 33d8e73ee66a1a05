"""The Task and Pair types every other module works with."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Pair:
    """One input grid and, when known, its output grid (int64 arrays [H, W], colours 0-9)."""

    input: np.ndarray
    output: np.ndarray | None = None


@dataclass
class Task:
    """An ARC task: demonstration pairs (`train`) and test pairs whose outputs may be unknown."""

    id: str
    train: list[Pair]
    test: list[Pair]
    source: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def has_test_outputs(self) -> bool:
        return all(p.output is not None for p in self.test)

    def __repr__(self) -> str:
        return f"Task({self.id!r}, {len(self.train)} demos, {len(self.test)} tests, source={self.source!r})"
