"""Task augmentations: the 8 symmetries of the square (D8) times a colour permutation.

Each augmentation is a (forward, inverse, id) triple: training applies it to a whole task, solving
applies it to a test input and inverts the prediction before voting, and the id names it in logs,
prompt-cache keys and vote records.

D8 index `d8` (0..7), acting on a grid `g` (numpy convention: rot90 turns counter-clockwise):
    d8 = k      (k = 0..3): np.rot90(g, k)               -- identity, rot 90, rot 180, rot 270
    d8 = 4 + k  (k = 0..3): np.rot90(g.T, k)             -- transpose first, then rotate k times
so 4 is the transpose (main-diagonal flip), 5 an up-down flip, 6 the anti-diagonal flip and
7 a left-right flip; d8 in {1, 3, 4, 6} swaps height and width. Colours then map each cell value c
to `colors[c]` (colour maps commute with the spatial part, so the order is a convention).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from arc_efe.data.grid import NUM_COLORS
from arc_efe.data.task import Pair

_IDENTITY_COLORS = tuple(range(NUM_COLORS))


@dataclass(frozen=True)
class Augmentation:
    """One D8 transform `d8` (see the module docstring) followed by the colour map `colors`."""

    d8: int
    colors: tuple[int, ...] = _IDENTITY_COLORS

    def __post_init__(self) -> None:
        # Accept any int-like sequence, store plain ints so ids, hashes and equality are stable.
        object.__setattr__(self, "d8", int(self.d8))
        object.__setattr__(self, "colors", tuple(int(c) for c in self.colors))
        if not 0 <= self.d8 < 8:
            raise ValueError(f"Augmentation: d8 must be in 0..7, got {self.d8}")
        if sorted(self.colors) != list(_IDENTITY_COLORS):
            raise ValueError(f"Augmentation: colors must be a permutation of 0..9, got {self.colors}")

    @property
    def id(self) -> str:
        """Short stable name, e.g. `d3.c0213456789`; `Augmentation.from_id` parses it back."""
        return f"d{self.d8}.c{''.join(str(c) for c in self.colors)}"

    @classmethod
    def from_id(cls, s: str) -> Augmentation:
        parts = s.split(".")
        ok = (
            len(parts) == 2
            and parts[0][:1] == "d"
            and parts[0][1:].isdigit()
            and parts[1][:1] == "c"
            and parts[1][1:].isdigit()
            and len(parts[1]) == NUM_COLORS + 1
        )
        if not ok:
            raise ValueError(f"not an augmentation id (expected like 'd3.c0123456789'): {s!r}")
        return cls(int(parts[0][1:]), tuple(int(c) for c in parts[1][1:]))

    def inverse(self) -> Augmentation:
        """The augmentation that undoes this one: `a.inverse().apply(a.apply(g)) == g`."""
        k, flip = self.d8 % 4, self.d8 >= 4
        # Rotations invert to the opposite rotation; every reflection is its own inverse.
        d8 = self.d8 if flip else (4 - k) % 4
        return Augmentation(d8, tuple(int(c) for c in np.argsort(self.colors)))

    def apply(self, grid: np.ndarray) -> np.ndarray:
        g = _as_grid(grid)
        if self.d8 >= 4:
            g = g.T
        g = np.rot90(g, self.d8 % 4)
        # Fancy indexing copies, so the result never aliases the caller's grid.
        return np.asarray(self.colors, dtype=np.int64)[g]

    def invert(self, grid: np.ndarray) -> np.ndarray:
        """Map a grid in augmented space back to the original space (exact inverse of `apply`)."""
        g = np.asarray(np.argsort(self.colors), dtype=np.int64)[_as_grid(grid)]
        g = np.rot90(g, -(self.d8 % 4))
        if self.d8 >= 4:
            g = g.T
        return np.ascontiguousarray(g)

    def apply_pair(self, pair: Pair) -> Pair:
        output = None if pair.output is None else self.apply(pair.output)
        return Pair(self.apply(pair.input), output)


IDENTITY = Augmentation(0, _IDENTITY_COLORS)


def _as_grid(grid: np.ndarray) -> np.ndarray:
    g = np.asarray(grid, dtype=np.int64)
    if g.ndim != 2:
        raise ValueError(f"augmentation expects a 2-D grid, got shape {g.shape}")
    return g


def random_augmentation(
    rng: np.random.Generator, *, d8: bool = True, colors: bool = True, keep_background: bool = True
) -> Augmentation:
    """Draw a uniform D8 element and/or colour permutation; colour 0 stays 0 when keep_background.

    Always consumes the same random draws for the same flags, so seeded samplers stay reproducible.
    """
    k = int(rng.integers(8)) if d8 else 0
    if not colors:
        return Augmentation(k, _IDENTITY_COLORS)
    if keep_background:
        perm = (0, *(int(c) for c in rng.permutation(np.arange(1, NUM_COLORS))))
    else:
        perm = tuple(int(c) for c in rng.permutation(NUM_COLORS))
    return Augmentation(k, perm)


def all_d8() -> list[Augmentation]:
    """The 8 spatial symmetries with identity colours, in d8 order (0 = identity)."""
    return [Augmentation(k, _IDENTITY_COLORS) for k in range(8)]
