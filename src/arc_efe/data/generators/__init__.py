"""Procedural ARC task generators: families of hidden rules, each rendering demos and tests.

`FAMILIES` maps a family name to its Family; `generate(name, rng, difficulty)` renders one task and
`generate_task(name, seed, difficulty)` renders the same task for the same (name, seed) on any machine.
"""

from __future__ import annotations

import zlib

import numpy as np

from arc_efe.data.generators import colour, counting, geometry, lines, motion, objects, patterns, regions, shapes
from arc_efe.data.generators.base import Family, GenerationError, render, render_twin
from arc_efe.data.generators.concepts import CONCEPTS
from arc_efe.data.grid import grid_to_list
from arc_efe.data.task import Task

__all__ = ["CONCEPTS", "FAMILIES", "Family", "GenerationError", "generate", "generate_task", "render_twin",
           "task_to_json"]

_MODULES = (geometry, colour, objects, shapes, lines, motion, regions, counting, patterns)
FAMILIES: dict[str, Family] = {f.name: f for module in _MODULES for f in module.FAMILIES}


def generate(name: str, rng: np.random.Generator, difficulty: float) -> Task:
    """One task of family `name` drawn from `rng`; `difficulty` in [0, 1] widens sizes and counts."""
    if name not in FAMILIES:
        raise KeyError(f"unknown generator family {name!r}; known: {', '.join(sorted(FAMILIES))}")
    return render(FAMILIES[name], rng, difficulty)


def generate_task(name: str, seed: int, difficulty: float = 0.5) -> Task:
    """The task for (name, seed): the rng is seeded from the name's CRC32 (stable across processes,
    unlike the salted built-in hash) and the seed."""
    rng = np.random.default_rng([zlib.crc32(name.encode("utf-8")), int(seed)])
    task = generate(name, rng, difficulty)
    task.id = f"gen-{name}-{seed}"
    return task


def task_to_json(task: Task) -> dict:
    """The task in ARC JSON form: {"train": [{"input", "output"}], "test": [{"input"[, "output"]}]}."""

    def pair(p) -> dict:
        out = {"input": grid_to_list(p.input)}
        if p.output is not None:
            out["output"] = grid_to_list(p.output)
        return out

    return {"train": [pair(p) for p in task.train], "test": [pair(p) for p in task.test]}
