"""The Family type and the renderer that turns one hidden rule instance into a Task.

A family is three pure pieces: `draw_params` picks the hidden rule instance (JSON-ready values),
`draw_input` draws one input grid, and `apply(params, grid)` is the rule. Every output, demo or test,
is `apply(params, input)`, so all pairs of a task follow one instance by construction, and a test can
check it by recomputing outputs from `task.meta["params"]`.

Families whose hidden parameter changes the output for the same inputs list the other instances in
`alternatives`; the renderer redraws until no alternative reproduces every demo yet differs on a test,
so the demonstrations are needed to find the rule and enough to pin it down. `render_twin` renders a
task's inputs again under one of those alternatives: a twin that shares every input and differs in the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from arc_efe.data.grid import MAX_SIZE, NUM_COLORS
from arc_efe.data.task import Pair, Task

Params = dict[str, Any]
Rng = np.random.Generator

# Attempts at a whole task, and at each input within it, before the family is declared broken.
_TASK_TRIES = 30
_INPUT_TRIES = 60


class GenerationError(RuntimeError):
    """A family could not render a valid task: a bug in that family, not bad luck."""


@dataclass(frozen=True)
class Family:
    """One task family. Calling it, `family(rng, difficulty)`, renders a Task."""

    name: str
    concepts: tuple[str, ...]
    draw_params: Callable[[Rng, float], Params]
    draw_input: Callable[[Rng, float, Params], np.ndarray | None]
    apply: Callable[[Params, np.ndarray], np.ndarray]
    alternatives: Callable[[Params], list[Params]] | None = None

    def __call__(self, rng: Rng, difficulty: float) -> Task:
        return render(self, rng, difficulty)

    def fits(self, params: Params, pairs: Sequence[Pair]) -> bool:
        """True when the rule instance `params` maps every pair's input to its output."""
        return all(_same(self.apply(params, p.input), p.output) for p in pairs)


def valid_grid(grid: np.ndarray) -> bool:
    """A legal ARC grid: 2-D integers, 1..30 per side, colours 0..9."""
    return (
        isinstance(grid, np.ndarray)
        and grid.ndim == 2
        and np.issubdtype(grid.dtype, np.integer)
        and 1 <= grid.shape[0] <= MAX_SIZE
        and 1 <= grid.shape[1] <= MAX_SIZE
        and int(grid.min()) >= 0
        and int(grid.max()) < NUM_COLORS
    )


def render(family: Family, rng: Rng, difficulty: float) -> Task:
    """Draw one rule instance and 3-5 demos plus 1-2 tests from it; redraw what breaks an invariant."""
    difficulty = float(np.clip(difficulty, 0.0, 1.0))
    for _ in range(_TASK_TRIES):
        params = family.draw_params(rng, difficulty)
        n_demo, n_test = int(rng.integers(3, 6)), int(rng.integers(1, 3))
        pairs = _draw_pairs(family, rng, difficulty, params, n_demo + n_test)
        if pairs is None:
            continue
        demos, tests = pairs[:n_demo], pairs[n_demo:]
        if not _identified(family, params, demos, tests):
            continue
        meta = {"family": family.name, "params": params, "difficulty": difficulty}
        return Task(id=f"gen-{family.name}", train=demos, test=tests, source="gen", meta=meta)
    raise GenerationError(f"family {family.name!r} failed to render a valid task in {_TASK_TRIES} tries")


def render_twin(family: Family, task: Task, rng: Rng) -> Task | None:
    """`task`'s inputs under another instance of its rule (one of `alternatives`, drawn from `rng`), or None.

    A usable alternative changes the output of every demo (so a twin never teaches the original's answer
    and never fits its demos), keeps every pair valid and changed by the rule, and is itself identified
    by its demos, as `render` requires of any task. Families without alternatives have no twin.
    """
    if family.alternatives is None:
        return None
    params = task.meta["params"]
    usable = []
    for alt in family.alternatives(params):
        demos = _rerender(family, alt, task.train)
        tests = _rerender(family, alt, task.test)
        # A demo output left as it was would fail the first rule; one changed in every demo cannot fit the demos.
        if demos is None or tests is None or any(_same(t.output, p.output) for t, p in zip(demos, task.train)):
            continue
        if _identified(family, alt, demos, tests):
            usable.append((alt, demos, tests))
    if not usable:
        return None
    alt, demos, tests = usable[int(rng.integers(len(usable)))]
    meta = dict(task.meta, params=alt, twin_of=params)
    return Task(id=f"{task.id}-twin", train=demos, test=tests, source=task.source, meta=meta)


def _rerender(family: Family, params: Params, pairs: Sequence[Pair]) -> list[Pair] | None:
    """`pairs`' inputs with outputs from `params`; None if an output is invalid or leaves its input as is."""
    out = []
    for p in pairs:
        grid = np.asarray(family.apply(params, p.input), dtype=np.int64)
        if not valid_grid(grid) or _same(grid, p.input):
            return None
        out.append(Pair(p.input, grid))
    return out


def _draw_pairs(family: Family, rng: Rng, difficulty: float, params: Params, count: int) -> list[Pair] | None:
    """`count` pairs with distinct inputs, each valid and each changed by the rule."""
    pairs: list[Pair] = []
    seen: set[bytes] = set()
    for _ in range(_INPUT_TRIES):
        if len(pairs) == count:
            break
        drawn = family.draw_input(rng, difficulty, params)
        # None means the draw did not fit (objects that found no room); just draw again.
        grid = None if drawn is None else np.asarray(drawn, dtype=np.int64)
        if grid is None or not valid_grid(grid):
            continue
        out = np.asarray(family.apply(params, grid), dtype=np.int64)
        key = _key(grid)
        # An unchanged pair teaches nothing about the rule; a repeated input would duplicate a demo.
        if key in seen or not valid_grid(out) or (out.shape == grid.shape and np.array_equal(out, grid)):
            continue
        seen.add(key)
        pairs.append(Pair(grid, out))
    return pairs if len(pairs) == count else None


def _identified(family: Family, params: Params, demos: list[Pair], tests: list[Pair]) -> bool:
    """False when another rule instance fits every demo but answers some test differently."""
    if family.alternatives is None:
        return True
    return not any(family.fits(alt, demos) and not family.fits(alt, tests) for alt in family.alternatives(params))


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a, b)


def _key(grid: np.ndarray) -> bytes:
    return bytes(grid.shape) + grid.astype(np.int8).tobytes()
