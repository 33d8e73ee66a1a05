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

from arc_efe.agent.rule_table import RuleTable, WriteParts
from arc_efe.data.grid import NUM_COLORS
from arc_efe.system import ArcSystem

if TYPE_CHECKING:
    from arc_efe.solving.ttt import UpdateRows

IDENTITY_COLORS = tuple(range(NUM_COLORS))
KEPT_TABLES = 1024  # written tables a task keeps for reuse (each the table's width in floats, ~30 kB induced)


class RowTables:
    """Leave-one-out tables of a task's rows, written from the demo rows test-time training already holds
    (`UpdateRows`: every demo in every view, recoloured on demand)."""

    def __init__(self, system: ArcSystem, rows: UpdateRows):
        self.system, self.rows = system, rows
        self.same_size = (rows.input_size == rows.output_size).all(dim=1).numpy()  # [V * N] pairs written from
        self._parts: WriteParts | None = None
        grids = torch.cat([rows.inputs, rows.outputs])
        self.present = torch.unique(grids).tolist()  # the task's colours (0 too: the canvas around the grids)
        self._tables: dict[tuple[int, int, tuple[int, ...]], torch.Tensor] = {}  # `apply`'s written tables
        # Canvas rules (AgentConfig.rule_table_induced_canvas) of a task whose demos change size are induced from
        # every other demo, not the same-size ones the slots are written from.
        table = system.agent.rule_table
        self.canvas = table is not None and table.induced_canvas and not self.same_size.all()

    def _all_parts(self, device: torch.device) -> WriteParts:
        """Every row's `RuleTable.write_parts` in its demo's own colours, on the canvas that holds them all: an
        update recolours those of the pairs it writes instead of computing them again (the same numbers)."""
        side = int(self.rows.side.max())
        every = np.arange(len(self.same_size))
        grids = self.rows.batch(every // self.rows.demos, (every % self.rows.demos).tolist(),
                                [IDENTITY_COLORS] * len(every), canvas=side)
        with torch.no_grad():
            return self.system.agent.rule_table.write_parts(grids.query_input.to(device),
                                                            grids.query_output.to(device),
                                                            grids.query_input_mask.to(device))

    @classmethod
    def of(cls, system: ArcSystem, rows: UpdateRows, wanted: bool) -> RowTables | None:
        """The row tables of `rows` when `wanted` (`TTTConfig.row_tables`) and the agent reads a table, else None."""
        return cls(system, rows) if wanted and system.reads_tables else None

    def apply(self, prompts: torch.Tensor, views: np.ndarray | torch.Tensor, demos: list[int] | torch.Tensor,
              colors: list[tuple[int, ...]] | None = None) -> torch.Tensor:
        """`prompts` [R, P] of rows (view index, demo index, colour map; identity colours when None) with their
        table part written from the other same-size demos of the row's view, recoloured by the row's map.
        A frozen table's rows are kept by (view, demo, the map of the task's colours) and reused: where every colour
        of a task is in every demo, test-time training draws no other colouring and writes each table once."""
        views, demos = np.asarray(views), np.asarray(demos)
        colors = [IDENTITY_COLORS] * len(views) if colors is None else list(colors)
        if any(p.requires_grad for p in self.system.agent.rule_table.parameters()):  # tuned: tables change
            return self._write(prompts, views, demos, colors)
        width = self.system.agent.prompt_dim
        keys = [(int(v), int(d), tuple(c[k] for k in self.present)) for v, d, c in zip(views, demos, colors)]
        missing = [r for r, key in enumerate(keys) if key not in self._tables]
        fresh = {}
        if missing:
            written = self._write(prompts[missing], views[missing], demos[missing], [colors[r] for r in missing])
            for r, table in zip(missing, written[:, width:]):
                fresh[r] = table
                if len(self._tables) < KEPT_TABLES:
                    self._tables[keys[r]] = table
        tables = torch.stack([fresh[r] if r in fresh else self._tables[keys[r]] for r in range(len(keys))])
        return torch.cat([prompts[:, :width], tables], dim=1)

    def _write(self, prompts: torch.Tensor, views: np.ndarray, demos: np.ndarray,
               colors: list[tuple[int, ...]]) -> torch.Tensor:
        """`apply`, every table written afresh."""
        written = self._write_same_size(prompts, views, demos, colors)
        if not self.canvas:
            return written
        rule_table = self.system.agent.rule_table
        rules = rule_table.induced_part(self._other_pairs(views, demos, colors)).to(written.device)
        return torch.cat([written[:, : written.shape[1] - rule_table.induced_dim], rules], dim=1)

    def _other_pairs(self, views: np.ndarray, demos: np.ndarray,
                     colors: list[tuple[int, ...]]) -> list[list[tuple[np.ndarray, np.ndarray]]]:
        """Per row, every other demo of its view in its colours, as (input, output) arrays of their own sizes."""
        n = self.rows.demos
        owner, other = (np.arange(n)[None, :] != demos[:, None]).nonzero()
        part = self.rows.batch(views[owner], other.tolist(), [colors[r] for r in owner])
        pairs: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(len(views))]
        sizes = zip(part.input_size.tolist(), part.output_size.tolist())
        for r, x, y, ((h, w), (oh, ow)) in zip(owner, part.query_input.numpy(), part.query_output.numpy(), sizes):
            pairs[r].append((x[:h, :w], y[:oh, :ow]))
        return pairs

    def _write_same_size(self, prompts: torch.Tensor, views: np.ndarray, demos: np.ndarray,
                         colors: list[tuple[int, ...]]) -> torch.Tensor:
        """`apply`'s tables from the other same-size demos, every table written afresh."""
        n = self.rows.demos
        others = np.arange(n)
        pick = (others[None, :] != demos[:, None]) & self.same_size[views[:, None] * n + others[None, :]]
        owner, other = pick.nonzero()  # [M] the row each pair is written into, and its demo
        device = prompts.device
        if len(owner) == 0:  # no other same-size demo: every table is empty
            grids = self.rows.inputs[:0].to(device)
            return self.system.with_tables(prompts, grids, grids, grids.bool(), torch.zeros(0, dtype=torch.long,
                                                                                         device=device))
        written = [colors[r] for r in owner]
        part = self.rows.batch(views[owner], other.tolist(), written)
        side = part.query_input.shape[-1]
        index = torch.from_numpy(views[owner] * n + other).to(device)
        self._parts = self._all_parts(device) if self._parts is None else self._parts
        cached = WriteParts(*(t[index, :side, :side] for t in self._parts))
        parts = RuleTable.recolour(cached, torch.tensor(written, device=device))
        return self.system.with_tables(prompts, part.query_input.to(device), part.query_output.to(device),
                                       part.query_input_mask.to(device), torch.from_numpy(owner).to(device), parts)
