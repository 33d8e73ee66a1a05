"""RowQueryParts: a table-reading agent's per-cell query features, computed once per task instead of per update.

Every forward of a table-reading agent (`model.agent.rule_table`) describes each query cell's neighbourhood,
its lines and its object (`RuleTable.query_parts`) before any learned weight: about 5 ms of an update's ~75 ms
on two held-out training tasks, one CPU thread (BENCHMARKS.md, session 27). Test-time training's rows are always
one of the task's demos in one of its views, recoloured by a permutation that keeps the background, which only
renames colours in those parts (`RuleTable.recolour_query`). So they are computed once for every demo in every
view and gathered per update; the agent's outputs are the same numbers (tests/solving/test_query_parts.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from arc_efe.agent.rule_table import QueryParts, RuleTable
from arc_efe.solving.row_tables import IDENTITY_COLORS
from arc_efe.system import ArcSystem

if TYPE_CHECKING:
    from arc_efe.solving.ttt import UpdateRows


class RowQueryParts:
    """The `QueryParts` of every demo input of a task in every view (`UpdateRows`), on the canvas that holds
    them all, in the demos' own colours."""

    def __init__(self, system: ArcSystem, rows: UpdateRows, device: torch.device):
        self.rows = rows
        every = np.arange(len(rows.side))
        grids = rows.batch(every // rows.demos, (every % rows.demos).tolist(), [IDENTITY_COLORS] * len(every),
                           canvas=int(rows.side.max()))
        with torch.no_grad():
            self.parts = system.agent.rule_table.query_parts(grids.query_input.to(device),
                                                             grids.query_input_mask.to(device))

    @classmethod
    def of(cls, system: ArcSystem, rows: UpdateRows, device: torch.device) -> RowQueryParts | None:
        """The rows' query parts when the agent reads a rule table, else None (nothing to compute)."""
        return cls(system, rows, device) if system.reads_tables else None

    def take(self, views: np.ndarray, demos: list[int], colors: list[tuple[int, ...]] | None,
             side: int) -> QueryParts:
        """The parts of rows (view index views[r], demo demos[r], colour map colors[r], keeping 0; None: the demos'
        own colours, as checks read them) as `UpdateRows.batch` places them on a `side` x `side` canvas."""
        index = torch.from_numpy(views * self.rows.demos + np.asarray(demos)).to(self.parts.fixed.device)
        cropped = QueryParts(*(None if t is None else t[index, :side, :side] for t in self.parts))
        if colors is None:
            return cropped
        return RuleTable.recolour_query(cropped, torch.tensor(colors, device=index.device))
