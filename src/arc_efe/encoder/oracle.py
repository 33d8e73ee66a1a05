"""RuleOracle: a diagnostic stand-in for the task encoder whose prompt names the generator rule instance that
reproduces the demonstrations.

It answers one question: can the agent use a perfect prompt at all? An agent trained on generated families with
the oracle's prompt, against a prompt-blind one with the same recipe, bounds what any encoder could add through
the agent's current conditioning. A family's instances are one drawn instance and its `alternatives` (which D8
element, which direction, ...); a context takes the first instance that reproduces every demo, and a context no
instance reproduces takes a last "none" row. Not a solver's encoder: it reads the rule off a fixed list.

`jitter` > 0 adds to each prompt a fixed vector drawn from the task's demos (seeded by their bytes, N(0, jitter²)
per dimension): variation that does not depend on the rule, as a real encoder's prompt has. It asks whether
the agent still reads the rule's row through it (session 14: it did not read a comparer prompt that carried
the rule among other variation).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from arc_efe.data.generators import FAMILIES
from arc_efe.data.task import Pair

__all__ = ["RuleOracle"]


class RuleOracle(nn.Module):
    """`projection` is a learned table, one row per (family, instance) and a last row for none, [rows, P]."""

    def __init__(self, families: Sequence[str], prompt_dim: int, jitter: float = 0.0) -> None:
        super().__init__()
        self.jitter = jitter
        self.instances = []  # (family, params) in table-row order
        for name in families:
            family = FAMILIES.get(name)
            if family is None or family.alternatives is None:
                raise ValueError(f"RuleOracle: family {name!r} is unknown or lists no alternative instances")
            first = family.draw_params(np.random.default_rng(0), 0.0)
            self.instances += [(family, params) for params in [first, *family.alternatives(first)]]
        self.projection = nn.Embedding(len(self.instances) + 1, prompt_dim)

    def encoder_parameters(self) -> list[nn.Parameter]:
        return []

    def projection_parameters(self) -> list[nn.Parameter]:
        return list(self.projection.parameters())

    def instance(self, pairs: Sequence[Pair]) -> int:
        """Row of the first instance that maps every demo input to its output; len(instances) if none does."""
        return next((row for row, (family, params) in enumerate(self.instances) if family.fits(params, pairs)),
                    len(self.instances))

    def forward(self, contexts: list[list[Pair]]) -> Tensor:
        """Prompts [B, prompt_dim] for B tasks, each given as its list of demonstration pairs."""
        if not contexts or any(len(ctx) == 0 for ctx in contexts):
            raise ValueError("RuleOracle needs at least one task and at least one pair per task")
        rows = torch.tensor([self.instance(ctx) for ctx in contexts], device=self.projection.weight.device)
        prompts = self.projection(rows)
        if self.jitter > 0:
            prompts = prompts + torch.stack([self._jitter(ctx) for ctx in contexts]).to(prompts)
        return prompts

    def _jitter(self, pairs: Sequence[Pair]) -> Tensor:
        """The task's fixed rule-independent offset [P], seeded by its demos' bytes."""
        seed = 0
        for pair in pairs:
            seed = zlib.crc32(np.ascontiguousarray(pair.input).tobytes(), seed)
            seed = zlib.crc32(np.ascontiguousarray(pair.output).tobytes(), seed)
        noise = np.random.default_rng(seed).standard_normal(self.projection.weight.shape[1])
        return torch.from_numpy(noise * self.jitter)
