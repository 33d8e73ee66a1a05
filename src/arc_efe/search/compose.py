"""The composition final: a demo output assembled from two states the search has already computed.

`overlay(B, A)` paints state B's non-background cells (background 0) over state A. A *piece* is a grid
state shaped like the demo output in every demo. Per piece the pool keeps, over the cells of all demos at
once, two packed bit vectors: the cells equal to the output (`right`) and the cells it paints (non-zero,
`paint`). A piece may lie on top only if it is *clean*: every cell it paints is right in every demo. A
clean top B and a base A fit when B's painted cells and A's right cells together cover every cell; then
`overlay(B, A)` reproduces every demo output, and the test prediction is the same overlay of their test
values. A base already equal to the outputs, or a top equal to them, is found by cheaper finals and not
paired. Marks and labels (values from 10 up) are coloured first, each by the output colour most of its
cells show over the demos, where it shows one colour in two demos or more (the colour map a final would
fit), and that map is part of the piece. The pool
grows as the search builds states; each `compose()` pairs only what is new.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from arc_efe.search.grids import BG, MARK

OVERLAY_LENGTH = 1  # the overlay counts as one step on top of its two programs
MAX_PIECES = 4096  # pieces kept per search (a memory and time guard)
MAX_FITS = 8  # compositions returned per `compose()` call, shortest first


@dataclass(frozen=True)
class Composition:
    """`overlay(top, base)`: its text, its length, and the two pieces' test values."""

    text: str
    length: int
    top: tuple
    base: tuple
    top_map: np.ndarray | None = None
    base_map: np.ndarray | None = None
    top_clear: bool = False  # the top's background is its most common colour


    def predict(self) -> list[np.ndarray] | None:
        """The test outputs: the top's non-background cells over the base; None where shapes differ or a
        mark the demos never coloured remains."""
        out = []
        for top, base in zip(self.top, self.base):
            top, base = _coloured(top, self.top_map), _coloured(base, self.base_map)
            if top is None or base is None or top.shape != base.shape:
                return None
            out.append(np.where(top != (_majority(top) if self.top_clear else BG), top, base).astype(np.uint8))
        return out


def _mark_map(flat: np.ndarray, target: np.ndarray, demo_of: np.ndarray, demos: int) -> np.ndarray | None:
    """Value -> colour, from every demo cell at once (`flat` the state's, `target` the output's, `demo_of`
    each cell's demo): colours stay; a mark becomes the one output colour all its cells show, where it shows
    in two demos or more (once is a memorised demo, not a rule); other marks -1. None without marks."""
    marked = flat >= MARK
    if not marked.any():
        return None
    values = flat[marked]
    counts = np.bincount(values * 10 + target[marked], minlength=256 * 10).reshape(256, 10)
    demos_with = (np.bincount(values * demos + demo_of[marked], minlength=256 * demos).reshape(256, demos) > 0
                  ).sum(axis=1)
    table = np.where(((counts > 0).sum(axis=1) == 1) & (demos_with >= 2), counts.argmax(axis=1), -1)
    table[:MARK] = np.arange(MARK)
    return table


def _majority(grid: np.ndarray) -> int:
    """The most common colour (the lowest on ties), marks the demos never coloured (-1) not counted."""
    counts = np.bincount(grid[grid >= 0].ravel(), minlength=1)
    return int(counts.argmax())


def _coloured(grid: np.ndarray, table: np.ndarray | None) -> np.ndarray | None:
    if table is None:
        return grid
    out = table[grid]
    return None if (out < 0).any() else out


def _map_text(table: np.ndarray) -> str:
    return "recolour{" + ",".join(f"{m}>{c}" for m, c in enumerate(table) if m >= MARK and c >= 0) + "}"


class Pieces:
    """The pool of output-shaped states and their bit vectors; `add` pieces, then `compose` the new ones."""

    def __init__(self, outputs: Sequence[np.ndarray], cap: int = MAX_PIECES):
        self.outputs = list(outputs)
        self.cap = cap
        cells = sum(o.size for o in self.outputs)
        self.target = np.concatenate([o.ravel() for o in self.outputs]).astype(np.int64)
        self.demo_of = np.repeat(np.arange(len(self.outputs)), [o.size for o in self.outputs])
        self.valid = np.packbits(np.ones(cells, dtype=bool))  # the bits that stand for cells (packbits pads)
        self.right = np.zeros((cap, self.valid.size), dtype=np.uint8)
        self.paint = np.zeros((cap, self.valid.size), dtype=np.uint8)
        # a piece right everywhere is neither (cheaper finals have it)
        self.top = np.zeros(cap, dtype=bool)  # clean: right wherever it paints
        self.base = np.zeros(cap, dtype=bool)  # a piece with background 0
        self.steps: list[tuple[str, ...]] = []
        self.tests: list[tuple] = []
        self.maps: list[np.ndarray | None] = []
        self.clears: list[bool] = []  # its background is its most common colour, not 0
        self.keys: set[bytes] = set()
        self.done = 0  # pieces already composed with every earlier piece

    def __len__(self) -> int:
        return len(self.steps)

    def add(self, steps: tuple[str, ...], demos: Sequence[np.ndarray], tests: tuple) -> bool:
        """Keep a state as a piece when it is output-shaped in every demo, new on the demos and the pool
        has room; True when kept. A state whose most common colour is not background in some demo is kept
        a second time, as a top only, that colour (per grid) its background."""
        if len(self.steps) >= self.cap or any(d.shape != o.shape for d, o in zip(demos, self.outputs)):
            return False
        flat = np.concatenate([d.ravel() for d in demos]).astype(np.int64)
        table = _mark_map(flat, self.target, self.demo_of, len(self.outputs))
        if table is not None:
            flat = table[flat]  # a mark left at -1 is never right
        key = flat.astype(np.int8).tobytes()
        if key in self.keys:
            return False
        self.keys.add(key)
        right = np.packbits(flat == self.target)
        self._keep(steps, tests, table, False, right, flat != BG)
        # per demo its most common colour (the lowest on ties), marks left at -1 not counted
        counts = np.bincount(self.demo_of * 11 + flat + 1, minlength=11 * len(self.outputs))
        clears = counts.reshape(-1, 11)[:, 1:].argmax(axis=1)
        if (clears != BG).any() and len(self.steps) < self.cap:
            self._keep(steps, tests, table, True, right, flat != clears[self.demo_of])
        return True

    def _keep(self, steps: tuple[str, ...], tests: tuple, table: np.ndarray | None, clear: bool,
              right: np.ndarray, painted: np.ndarray) -> None:
        n = len(self.steps)
        paint = np.packbits(painted)
        self.right[n], self.paint[n] = right, paint
        useful = not np.array_equal(right, self.valid)
        self.top[n] = useful and not (paint & ~right).any()
        self.base[n] = useful and not clear
        self.steps.append(steps)
        self.tests.append(tests)
        self.maps.append(table)
        self.clears.append(clear)

    def _text(self, i: int) -> str:
        """A piece's program as a nested call on the input x: ("flip_lr", "crop") -> crop(flip_lr(x))."""
        text = "x"
        for step in self.steps[i]:
            text = f"{step}({text})"
        if self.maps[i] is not None:
            text = f"{_map_text(self.maps[i])}({text})"
        return f"clear_majority({text})" if self.clears[i] else text

    def _length(self, i: int) -> int:
        return len(self.steps[i]) + (self.maps[i] is not None) + self.clears[i]

    def compose(self, check: Callable[[], None]) -> list[Composition]:
        """Every clean top and base that cover every demo cell, where at least one of them was added since
        the last call; shortest first (then top, then base, in the order they were added). `check()`, the
        caller's clock, is called once per top and may raise."""
        n, done = len(self.steps), self.done
        if n == done:
            return []
        fits: list[tuple[int, int, int]] = []
        for top in np.flatnonzero(self.top[:n]):
            check()
            start = 0 if top >= done else done  # an old top meets only the new bases
            need = self.valid & ~self.paint[top]
            missed = (need & ~self.right[start:n]).any(axis=1)
            for base in start + np.flatnonzero(~missed & self.base[start:n]):
                if base != top:
                    fits.append((self._length(top) + self._length(base), int(top), int(base)))
        self.done = n
        fits.sort()
        return [Composition(f"overlay({self._text(t)}, {self._text(b)})", length + OVERLAY_LENGTH,
                            self.tests[t], self.tests[b], self.maps[t], self.maps[b], self.clears[t])
                for length, t, b in fits[:MAX_FITS]]
