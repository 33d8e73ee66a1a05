"""One ranked list of candidates per test input from every expert, and the two attempts it gives.

Each expert proposes distinct grids: the search expert verified programs (shortest first: a short
program that reproduces every demo is the likelier rule), the neural expert its vote over views (most
votes first). `likelihood` is the product-of-experts score: the test-time-trained agent's mean log-likelihood
of a candidate, averaged over the spatial views (`likelihood.py`); it breaks ties within an expert's
list and, under the "likelihood" rule, orders the whole mixed list.

Rules:
- "search_first": verified programs, then the vote, then the fallback (plain) attempts.
- "likelihood": every candidate by likelihood (candidates the agent could not score last, in
  search_first order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from arc_efe.data.grid import grid_key

MergeRule = Literal["search_first", "likelihood"]


@dataclass
class Ranked:
    """A candidate grid with the expert that proposed it, its program (search), votes (neural) and score."""

    grid: np.ndarray
    expert: str  # "search" | "neural" | "plain"
    program: str | None = None
    length: int = 0  # program length (search)
    votes: int = 0  # views that voted for it (neural)
    likelihood: float | None = None  # mean log-likelihood under the agent, averaged over views


def _tie_break(r: Ranked) -> float:
    return -(r.likelihood if r.likelihood is not None else -np.inf)


def merge(search: list[Ranked], neural: list[Ranked], fallback: list[Ranked], rule: MergeRule) -> list[Ranked]:
    """Distinct candidates of one test input, best first, by `rule` (module docstring)."""
    # Stable sorts: the expert's own order stands where the agent cannot tell two candidates apart.
    ordered = (sorted(search, key=lambda r: (r.length, _tie_break(r)))
               + sorted(neural, key=lambda r: (-r.votes, _tie_break(r))) + fallback)
    if rule == "likelihood":
        ordered = sorted(ordered, key=_tie_break)
    seen, out = set(), []
    for r in ordered:
        key = grid_key(r.grid)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def attempts_from(ranked: list[Ranked], attempts: int) -> list[Ranked]:
    """Exactly `attempts` entries: the best distinct ones, then copies of the first."""
    if not ranked:
        raise ValueError("no candidate to choose attempts from")
    chosen = ranked[:attempts]
    return chosen + [chosen[0]] * (attempts - len(chosen))
