"""RowTables: every test-time-training row reads a rule table of the other demos, in the row's own view and colours.

A table-reading agent (`model.agent.rule_table`) is trained with the table of the *other* demos in the query's
own colours. Test-time training reads its rows with the view's prompt of all demos, whose table then holds the
row's own answer, and in the demos' colours while the row is recoloured: the fit learns to copy a leaked table
that is wrong in every permuted row. Here the table part of each row's prompt is written again from the other
same-size demos of the row's view, recoloured as the row is (the encoder's part of the prompt is kept). Checks
get the same leave-one-out tables in the demos' own colours, so the held-out demo's score is not leaked either.
"""

from __future__ import annotations

import numpy as np
import torch

from arc_efe.data.grid import NUM_COLORS
from arc_efe.system import ArcSystem

IDENTITY_COLORS = tuple(range(NUM_COLORS))


class RowTables:
    """Leave-one-out tables of a task's rows, written from the demo grids test-time training already holds
    (`UpdateRows`: every demo in every view on a 30x30 canvas, view-major)."""

    def __init__(self, system: ArcSystem, inputs: torch.Tensor, outputs: torch.Tensor, input_size: torch.Tensor,
                 output_size: torch.Tensor, demos: int):
        self.system, self.demos = system, demos
        self.inputs, self.outputs, self.size = inputs, outputs, input_size  # [V * N, 30, 30], [V * N, 2]
        self.same_size = (input_size == output_size).all(dim=1)  # [V * N] pairs a table is written from

    def apply(self, prompts: torch.Tensor, views: np.ndarray | torch.Tensor, demos: list[int] | torch.Tensor,
              colors: list[tuple[int, ...]] | None = None) -> torch.Tensor:
        """`prompts` [R, P] of rows (view index, demo index, colour map; identity colours when None) with their
        table part written from the other same-size demos of the row's view, recoloured by the row's map."""
        views, demos = torch.as_tensor(views).long().cpu(), torch.as_tensor(demos).long().cpu()
        rows = len(views)
        others = torch.arange(self.demos)
        pick = others[None, :] != demos[:, None]  # [R, N] the other demos of each row
        index = views[:, None] * self.demos + others[None, :]  # [R, N] their grids
        pick &= self.same_size[index]
        owner, demo = pick.nonzero(as_tuple=True)
        grids = index[owner, demo]  # [M]
        side = int(self.size[grids].max()) if len(grids) else 1
        lut = torch.tensor([IDENTITY_COLORS] * rows if colors is None else colors)  # [R, 10]
        place = torch.arange(side)
        size = self.size[grids]
        mask = (place[None, :, None] < size[:, :1, None]) & (place[None, None, :] < size[:, 1:, None])

        def recolour(canvas: torch.Tensor) -> torch.Tensor:
            grid = canvas[grids, :side, :side]
            mapped = lut[owner].gather(1, grid.flatten(1)).view_as(grid)
            return torch.where(mask, mapped, torch.zeros_like(grid))

        device = prompts.device
        return self.system.with_tables(prompts, recolour(self.inputs).to(device), recolour(self.outputs).to(device),
                                       mask.to(device), owner.to(device))
