"""RowTables: every test-time-training row reads a rule table of the other demos, in the row's own view and colours.

A table-reading agent (`model.agent.rule_table`) is trained with the table of the *other* demos in the query's
own colours. Test-time training reads its rows with the view's prompt of all demos, whose table then holds the
row's own answer, and in the demos' colours while the row is recoloured: the fit learns to copy a leaked table
that is wrong in every permuted row. Here the table part of each row's prompt is written again from the other
same-size demos of the row's view, recoloured as the row is (the encoder's part of the prompt is kept). Checks
get the same leave-one-out tables in the demos' own colours, so the held-out demo's score is not leaked either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from arc_efe.data.grid import NUM_COLORS
from arc_efe.system import ArcSystem

if TYPE_CHECKING:
    from arc_efe.solving.ttt import UpdateRows

IDENTITY_COLORS = tuple(range(NUM_COLORS))


class RowTables:
    """Leave-one-out tables of a task's rows, written from the demo rows test-time training already holds
    (`UpdateRows`: every demo in every view, recoloured on demand)."""

    def __init__(self, system: ArcSystem, rows: UpdateRows):
        self.system, self.rows = system, rows
        self.same_size = (rows.input_size == rows.output_size).all(dim=1).numpy()  # [V * N] pairs written from

    @classmethod
    def of(cls, system: ArcSystem, rows: UpdateRows, wanted: bool) -> RowTables | None:
        """The row tables of `rows` when `wanted` (`TTTConfig.row_tables`) and the agent reads a table, else None."""
        return cls(system, rows) if wanted and system.reads_tables else None

    def apply(self, prompts: torch.Tensor, views: np.ndarray | torch.Tensor, demos: list[int] | torch.Tensor,
              colors: list[tuple[int, ...]] | None = None) -> torch.Tensor:
        """`prompts` [R, P] of rows (view index, demo index, colour map; identity colours when None) with their
        table part written from the other same-size demos of the row's view, recoloured by the row's map."""
        views, demos = np.asarray(views), np.asarray(demos)
        n = self.rows.demos
        others = np.arange(n)
        pick = (others[None, :] != demos[:, None]) & self.same_size[views[:, None] * n + others[None, :]]
        owner, other = pick.nonzero()  # [M] the row each pair is written into, and its demo
        device = prompts.device
        if len(owner) == 0:  # no other same-size demo: every table is empty
            grids = self.rows.inputs[:0].to(device)
            return self.system.with_tables(prompts, grids, grids, grids.bool(), torch.zeros(0, dtype=torch.long,
                                                                                         device=device))
        colors = [IDENTITY_COLORS] * len(views) if colors is None else colors
        part = self.rows.batch(views[owner], other.tolist(), [colors[r] for r in owner])
        return self.system.with_tables(prompts, part.query_input.to(device), part.query_output.to(device),
                                       part.query_input_mask.to(device), torch.from_numpy(owner).to(device))
