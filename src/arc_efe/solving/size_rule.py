"""Output-size rules read off a task's demonstrations, so the solver need not learn the size per task.

About 86 % of ARC-AGI-1 tasks give every output a size that is a simple function of its input's size:
the same, a fixed shape, an integer (or fractional) multiple, or a mix per side (height fixed, width
doubled). `infer_size_rule` finds, for each output side, the first of these forms that every demo
obeys; the solver then feeds that size to the agent as its fixed size guess and crops to it, instead
of trusting the size head. Tasks whose output size depends on content (crops, counts) get no rule and
keep the agent's own size prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from arc_efe.data.augment import Augmentation
from arc_efe.data.grid import MAX_SIZE
from arc_efe.data.task import Task

Shape = tuple[int, int]


@dataclass(frozen=True)
class SideRule:
    """One output side: `ratio` × the input's side `axis` (0 height, 1 width), or the constant `ratio`
    when `axis` is None."""

    axis: int | None
    ratio: Fraction

    def apply(self, shape: Shape) -> int | None:
        value = self.ratio if self.axis is None else self.ratio * shape[self.axis]
        return int(value) if value.denominator == 1 and 1 <= value <= MAX_SIZE else None

    def __str__(self) -> str:
        if self.axis is None:
            return str(self.ratio)
        side = "hw"[self.axis]
        return side if self.ratio == 1 else f"{self.ratio}{side}"


@dataclass(frozen=True)
class SizeRule:
    """Output (height, width) as a function of the input's (height, width)."""

    height: SideRule
    width: SideRule

    def apply(self, shape: Shape) -> Shape | None:
        """The output shape for an input of `shape`, or None when the rule gives no whole size in 1..30."""
        height, width = self.height.apply(shape), self.width.apply(shape)
        return None if height is None or width is None else (height, width)

    def __str__(self) -> str:
        return f"{self.height}x{self.width}"


def _side_rules(side: int, pairs: list[tuple[Shape, Shape]]) -> list[SideRule]:
    """Every form of output side `side` that all pairs obey, in order of preference: a multiple of the
    same input side, a multiple of the other side, a constant."""
    rules = []
    for axis in (side, 1 - side):
        ratios = {Fraction(out[side], inp[axis]) for inp, out in pairs}
        if len(ratios) == 1:
            rules.append(SideRule(axis, ratios.pop()))
    constants = {out[side] for _, out in pairs}
    if len(constants) == 1:
        rules.append(SideRule(None, Fraction(constants.pop())))
    return rules


def infer_size_rule(pairs: list[tuple[Shape, Shape]], queries: list[Shape]) -> SizeRule | None:
    """The first rule (per side, see `_side_rules`) that every (input, output) shape pair obeys and that
    gives every query input a whole size; None when there is none (or no pairs)."""
    if not pairs:
        return None
    chosen = []
    for side in (0, 1):
        usable = [r for r in _side_rules(side, pairs) if all(r.apply(q) is not None for q in queries)]
        if not usable:
            return None
        chosen.append(usable[0])
    return SizeRule(*chosen)


def task_size_rule(task: Task) -> SizeRule | None:
    """The size rule of `task`'s demos that also gives each of its test inputs a size, or None."""
    pairs = [(pair.input.shape, pair.output.shape) for pair in task.train]
    return infer_size_rule(pairs, [pair.input.shape for pair in task.test])


def view_sizes(rule: SizeRule, inputs: list[np.ndarray], d8: int) -> list[Shape]:
    """The rule's output shape for each input seen in spatial view `d8` (the rule was read in the
    identity view: a view that swaps height and width swaps the rule's sides too)."""
    sizes = []
    for grid in inputs:
        shape = rule.apply(grid.shape)
        if shape is None:
            raise ValueError(f"size rule {rule} gives no size for an input of shape {grid.shape}")
        sizes.append(Augmentation(d8).apply(np.zeros(shape, dtype=np.int64)).shape)
    return sizes
