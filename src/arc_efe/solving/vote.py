"""Voting over augmented predictions: map each back to the original frame, count, rank, pick attempts.

A prediction made on an augmented test input lives in the augmented frame; `Augmentation.invert` maps
it back exactly, so agreeing augmentations produce byte-identical grids and can be counted. Candidates
rank by vote count, then by mean confidence, then by first appearance (so ties are deterministic).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from arc_efe.data.augment import Augmentation
from arc_efe.data.grid import grid_key


@dataclass
class Candidate:
    """One distinct grid (original frame), how many predictions gave it and their mean confidence."""

    grid: np.ndarray
    votes: int
    confidence: float


def tally(predictions: Iterable[tuple[np.ndarray, float]]) -> list[Candidate]:
    """Distinct grids from (grid, confidence) predictions, best first: votes, then mean confidence,
    then the order in which each grid first appeared."""
    order: dict[tuple[tuple[int, ...], bytes], int] = {}
    grids: list[np.ndarray] = []
    counts: list[int] = []
    sums: list[float] = []
    for grid, confidence in predictions:
        key = grid_key(grid)
        if key not in order:
            order[key] = len(grids)
            grids.append(np.asarray(grid, dtype=np.int64))
            counts.append(0)
            sums.append(0.0)
        i = order[key]
        counts[i] += 1
        sums[i] += float(confidence)
    ranked = sorted(range(len(grids)), key=lambda i: (-counts[i], -sums[i] / counts[i], i))
    return [Candidate(grids[i], counts[i], sums[i] / counts[i]) for i in ranked]


def tally_augmented(predictions: Iterable[tuple[Augmentation, np.ndarray, float]]) -> list[Candidate]:
    """`tally` after mapping each (augmentation, augmented-frame grid, confidence) back with the inverse."""
    return tally((aug.invert(grid), confidence) for aug, grid, confidence in predictions)


def choose_attempts(
    candidates: Sequence[Candidate], attempts: int = 2, fallback: Sequence[np.ndarray] = ()
) -> list[np.ndarray]:
    """Exactly `attempts` grids: the top distinct candidates, then distinct `fallback` grids (e.g. the
    plain prediction) when the vote was unanimous, then copies of the first, so a caller always has
    as many attempts as Kaggle requires. Needs at least one candidate or fallback grid.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    chosen: list[np.ndarray] = []
    seen: set[tuple[tuple[int, ...], bytes]] = set()
    for grid in [c.grid for c in candidates] + [np.asarray(g, dtype=np.int64) for g in fallback]:
        key = grid_key(grid)
        if key not in seen:
            seen.add(key)
            chosen.append(grid)
        if len(chosen) == attempts:
            return chosen
    if not chosen:
        raise ValueError("choose_attempts needs at least one candidate or fallback grid")
    return chosen + [chosen[0].copy() for _ in range(attempts - len(chosen))]
