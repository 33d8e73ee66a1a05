"""RuleTable: what the demonstrations did to cells that look alike, written from the demos, read per query cell.

A pooled prompt vector has not carried local edit rules (outline the objects in colour c, delete the isolated
cells, fill the holes): on those generator families the agent copied its input (BENCHMARKS.md, session 16).
This module gives the agent the demos cell by cell instead. Every cell gets a fixed description of its
neighbourhood that no palette permutation changes apart from the background (for each cell within `RADIUS`:
same colour as the centre, background, off the grid; the centre's own colour), and a learned soft assignment
of that description to K slots, besides 50 fixed slots by kind (a background centre or not, and how many of its
side and corner neighbours share its colour). Writing: over the cells of every demo whose output has its input's size,
each slot averages what the output holds there (its colour, and whether it is unchanged). Reading: each query
cell looks up the slots its own neighbourhood is assigned to, and the agent gets that mix as an extra input
and as a gated proposal added to its colour logits.
The table rides in the prompt vector (its last `dim` numbers), so the cache, prompt swaps and the solver's
prompt handling carry it unchanged; the refiner policy offsets only the encoder's part.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from arc_efe.agent.cell_context import CONTEXT_FEATURES, DIRECTIONS, context_features, nearest_colours
from arc_efe.agent import induced_rules
from arc_efe.agent.canvas_rules import SIZE_NUMBERS
from arc_efe.agent.exact_keys import KINDS, exact_keys, exact_slots, keys_and_fingerprints
from arc_efe.data.grid import MAX_SIZE, NUM_COLORS
from arc_efe.data.task import Pair

RADIUS = 2
# Fixed slots: whether the centre is background, and how many of its 4 side and 4 corner neighbours share its
# colour (0..4 each): kinds of cell that edge, interior and isolated-cell rules tell apart.
FIXED_SLOTS = 2 * 5 * 5
SIDES = ((-1, 0), (1, 0), (0, -1), (0, 1))
CORNERS = ((-1, -1), (-1, 1), (1, -1), (1, 1))
WINDOW = (2 * RADIUS + 1) ** 2 - 1  # neighbours of a cell, the cell itself excluded
FEATURES = 3 * WINDOW + 1 + NUM_COLORS  # per neighbour: same colour, background, off the grid; centre bg; centre colour
VALUES = NUM_COLORS + 1  # the output's colour at the cell, and whether it equals the input's
# With `context`, also whether the output's colour is that of the nearest coloured input cell along each line.
CONTEXT_VALUES = len(DIRECTIONS)
# The `specific` proposal's gates: per exact key kind, and by how many demo cells the deciding slot holds.
MASS_BINS = (1, 2, 4)  # a bin's least cell count: one cell, two or three, four or more
AGREED = 1.0 - 1e-4  # a slot "agrees" when one colour holds this share of its cells
SAME_PRINT = 0.25 / 2**10  # fingerprints closer than this are one key's (exact_keys.FINGERPRINT_BITS = 10)
# With `induced`: how many of a task's induced rules ride in the prompt (a chain; a second rule fills the cells the
# first has no key for), and the bins of a rule's demo cells per distinct key (its gate's second index).
INDUCED_RULES = 3
SUPPORT_BINS = (2.0, 8.0)


def neighbourhoods(grid: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """grid [B, S, S] long, mask [B, S, S] bool -> [B, S, S, FEATURES] float, a fixed function of each cell's
    neighbourhood (colours enter only as "same as the centre" and "background", plus the centre's one-hot)."""
    pad = RADIUS
    g = F.pad(grid, (pad, pad, pad, pad), value=-1)
    m = F.pad(mask, (pad, pad, pad, pad), value=False)
    size = grid.shape[-1]
    same, background, outside = [], [], []
    for dr in range(2 * RADIUS + 1):
        for dc in range(2 * RADIUS + 1):
            if dr == RADIUS and dc == RADIUS:
                continue
            ng = g[:, dr : dr + size, dc : dc + size]
            nm = m[:, dr : dr + size, dc : dc + size]
            same.append(nm & (ng == grid))
            background.append(nm & (ng == 0))
            outside.append(~nm)
    centre = F.one_hot(grid.clamp(0, NUM_COLORS - 1), NUM_COLORS).bool()
    parts = [torch.stack(same, -1), torch.stack(background, -1), torch.stack(outside, -1), (grid == 0)[..., None],
             centre]
    return torch.cat(parts, dim=-1).float() * mask[..., None]


def _window_index(dr: int, dc: int) -> int:
    """Position of the neighbour at offset (dr, dc) in `neighbourhoods`' per-neighbour blocks."""
    flat = (dr + RADIUS) * (2 * RADIUS + 1) + (dc + RADIUS)
    return flat - (flat > WINDOW // 2)  # the centre itself has no entry


SIDE_INDEX = [_window_index(dr, dc) for dr, dc in SIDES]
CORNER_INDEX = [_window_index(dr, dc) for dr, dc in CORNERS]


def fixed_slots(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`neighbourhoods` features [B, S, S, FEATURES], mask [B, S, S] -> [B, S, S, FIXED_SLOTS] one-hot: the
    cell's kind (see FIXED_SLOTS), read off the same-colour flags of its side and corner neighbours; zero
    outside the grid."""
    same = features[..., :WINDOW].long()
    background = features[..., 3 * WINDOW].long()
    kind = background * 25 + same[..., SIDE_INDEX].sum(-1) * 5 + same[..., CORNER_INDEX].sum(-1)
    return F.one_hot(kind, FIXED_SLOTS).float() * mask[..., None]


def _moved(t: torch.Tensor, start: int, source: torch.Tensor) -> torch.Tensor:
    """`t` [N, S, S, ...] with its one-hot colour columns start .. start + 10 permuted (source [N, 1, 1, 10]: each
    new colour's old colour)."""
    out = t.clone()
    one_hot = t[..., start : start + NUM_COLORS]
    out[..., start : start + NUM_COLORS] = one_hot.gather(-1, source.expand_as(one_hot))
    return out


def _extent(mask: np.ndarray) -> tuple[int, int]:
    """The (height, width) of the grid a canvas mask [S, S] holds at its top left."""
    return int(mask.any(1).sum()), int(mask.any(0).sum())


class Decision(NamedTuple):
    """`RuleTable._decide`'s per-cell result, each [B, S, S]: the colour, the key kind (0 colour, 1 relative,
    2 absolute) and MASS_BINS bin of the deciding key, and whether any key decides."""

    colour: torch.Tensor
    kind: torch.Tensor
    bin: torch.Tensor
    decided: torch.Tensor


class WriteParts(NamedTuple):
    """Same-size demo pairs' cells as `write_grids` reads them before the learned assignment, each [N, S, S, ...]:
    what the learned slots are assigned by, the fixed (and line) slots' one-hot assignment, and what each cell
    writes. A colour permutation that keeps the background changes them only by renaming the centre and output
    colours' one-hots (`RuleTable.recolour`), so test-time training computes them once per demo and view."""

    features: torch.Tensor
    fixed: torch.Tensor
    values: torch.Tensor


class QueryParts(NamedTuple):
    """A query grid's cells as `read` sees them before any learned weight, each [B, S, S, ...]: what the learned
    slots are assigned by, the fixed (and line) slots' one-hots, and with `context` the nearest colour along each
    line (else None). Like `WriteParts` a colour permutation keeping the background only renames the centre's
    one-hot and the nearest colours (`RuleTable.recolour_query`), so test-time training computes them once per
    demo and view instead of on every forward (`solving/query_parts.py`)."""

    features: torch.Tensor
    fixed: torch.Tensor
    nearest: torch.Tensor | None


class RuleTable(nn.Module):
    """50 fixed and `learned` soft slots of what demo outputs hold at cells of each kind; see the module docstring.

    `context` adds cell_context.py's line and object features to what the learned slots are assigned by, and to
    what a slot records whether the output took the colour of the nearest coloured cell along each line (a ray,
    a line fill, a segment between two points), which the proposal then paints in that cell's own colours;
    `line_slots` adds 16 fixed slots by line and centre kind (see `__init__`). `consistent` makes the proposal a
    mix of the cell's slots weighted by how much each slot's demo cells agreed (see `_trusted`), instead of
    their sum. `exact` > 0 adds exact_keys.py's slots (a cell's colour, and its hashed 3x3 neighbourhood, in
    `exact` buckets per kind), looked up by index rather than through the dense assignment. `specific` (needs
    `exact`) adds to the proposal the output colour of the cell's most specific exact key whose demo cells all
    agreed, as a rule lookup would decide it (see `_decide`); each slot then also keeps its cells' mean key
    fingerprint, so a key that only shares a hash bucket with the demos' does not decide. `specific_input` (needs
    `specific`) also embeds that decision (its colour, key kind and cell count) into the agent's input, so the
    agent can learn where to follow it rather than only being outvoted by it. `induced` N > 0 adds induced_rules.py's
    per-task rules (the key kinds, beyond 3x3 windows, that the demos' outputs are a function of), hashed into N
    buckets each; a cell one of them decides gets its colour times a learned gate (see `_induced`); `induced_views`
    lets those rules also key a cell on the colour of its D8 image or of a side neighbour (flips, symmetry
    completion, one-cell shifts). `induced_canvas` adds the demos' size rule and, where demos change size, rules on
    the output's cells (canvas_rules.py: scalings, tilings, crops, overlays); the size rule is also a gated proposal
    to the agent's size logits (`size_proposal`). `induced_blind` adds colour-free kinds whose rules may answer
    "unchanged" (induced_rules.BLIND_KIND_NAMES)."""

    def __init__(self, learned: int, channels: int, context: bool = False, line_slots: bool = False,
                 consistent: bool = False, exact: int = 0, specific: bool = False, specific_input: bool = False,
                 induced: int = 0, induced_views: bool = False, induced_canvas: bool = False,
                 induced_blind: bool = False):
        super().__init__()
        if line_slots and not context:
            raise ValueError("RuleTable: line_slots needs context")
        if specific and not exact:
            raise ValueError("RuleTable: specific needs exact slots")
        if specific_input and not specific:
            raise ValueError("RuleTable: specific_input needs specific")
        if induced_views and not induced:
            raise ValueError("RuleTable: induced_views needs induced")
        if induced_canvas and not induced:
            raise ValueError("RuleTable: induced_canvas needs induced")
        if induced_blind and not induced:
            raise ValueError("RuleTable: induced_blind needs induced")
        # With `line_slots`, 16 more fixed slots: a background or coloured cell that sees a coloured cell along
        # line d (a cell is in every one of them its lines allow), so "paint along line d" needs no learning.
        self.line_slots = 2 * len(DIRECTIONS) if line_slots else 0
        self.slots = FIXED_SLOTS + self.line_slots + learned  # the densely assigned ones
        self.buckets = exact
        self.exact = exact_slots(exact) if exact else 0  # the indexed ones, after the dense ones
        self.context = context
        self.values = VALUES + (CONTEXT_VALUES if context else 0)
        # A slot's numbers: its mean values, its log cell count, then with `specific` its mean key fingerprint
        # (last, so that everything else reads the first values + 1 numbers as a view).
        self.width = self.values + 1 + int(specific)
        self.assign = nn.Linear(FEATURES + (CONTEXT_FEATURES if context else 0), learned)
        # Sharp at the start (logits of spread ~3): a near-uniform assignment averages every cell into every slot,
        # and then no slot tells cells apart for the gradient to build on (seen on outline_objects).
        nn.init.normal_(self.assign.weight, std=0.6)
        self.embed = nn.Linear(self.values + 1, channels)
        # How much the table's own proposal (`read`'s second result) adds to the colour logits; it starts able to
        # move an argmax, since through the embedding alone the agent had not learned to use the table in 250 steps.
        self.gate = nn.Parameter(torch.tensor(2.0))
        # With `consistent`: how sharply the proposal prefers a cell's most consistent slot, and how much it
        # trusts each group of slots (fixed, line, learned, then the exact kinds) before seeing any (`_trusted`).
        self.sharpness = nn.Parameter(torch.tensor(5.0)) if consistent else None
        self.trust = nn.Parameter(torch.zeros(3 + KINDS)) if consistent else None
        group = [0] * FIXED_SLOTS + [1] * self.line_slots + [2] * learned
        self.register_buffer("group", torch.tensor(group), persistent=False)
        self.register_buffer("exact_group", torch.arange(3, 3 + KINDS), persistent=False)
        # With `specific`: how far the deciding key's colour moves the logits, per key kind and MASS_BINS bin;
        # it starts above the dense proposal's gate, so a rule the demos state exactly can win an argmax.
        self.specific_gate = nn.Parameter(torch.full((KINDS, len(MASS_BINS)), 3.0)) if specific else None
        self.register_buffer("mass_bins", torch.tensor(MASS_BINS[1:], dtype=torch.float), persistent=False)
        decision = NUM_COLORS + KINDS * len(MASS_BINS)  # its colour; its key kind and cell count bin
        self.specific_embed = nn.Linear(decision, channels) if specific_input else None
        # With `induced`: the induced rules' buckets, and how far a rule's colour moves the logits, per rule in the
        # chain and SUPPORT_BINS bin; it starts where the specific gates do.
        self.induced_buckets = induced
        self.induced_views = induced_views
        self.induced_canvas = induced_canvas
        self.induced_blind = induced_blind
        self.induced_dim = induced_rules.width(INDUCED_RULES, induced, induced_canvas) if induced else 0
        self.induced_gate = (nn.Parameter(torch.full((INDUCED_RULES, len(SUPPORT_BINS) + 1), 3.0))
                             if induced else None)
        # ... plus this times the share of the query's cells the rules decide: when they decide every cell, they
        # were right on 23 of 23 ARC-AGI-1 training tasks' test inputs (36 of 39 generated), a task-level trust.
        self.coverage_gate = nn.Parameter(torch.tensor(2.0)) if induced else None
        # With `induced_canvas`: how far the demos' size rule moves the size logits (it starts able to win an argmax).
        self.size_gate = nn.Parameter(torch.tensor(5.0)) if induced_canvas else None

    @property
    def dim(self) -> int:
        """The table's width in the prompt: per slot, its mean values, its log cell count (and fingerprint); then
        the induced rules."""
        return (self.slots + self.exact) * self.width + self.induced_dim

    def query_parts(self, grid: torch.Tensor, mask: torch.Tensor) -> QueryParts:
        """The `QueryParts` of query grids [B, S, S] long (mask [B, S, S] bool)."""
        nearest = nearest_colours(grid, mask) if self.context else None
        return QueryParts(*self._cell_features(grid, mask, nearest), nearest)

    @staticmethod
    def recolour_query(parts: QueryParts, colors: torch.Tensor) -> QueryParts:
        """`parts` of grids as they are after each grid's colours c become colors[n, c] (colors [N, 10], a
        permutation keeping 0): the centre's one-hot columns move and the nearest colours are renamed."""
        features = _moved(parts.features, 3 * WINDOW + 1, torch.argsort(colors, dim=1)[:, None, None, :])
        nearest = parts.nearest
        if nearest is not None:
            renamed = colors.gather(1, nearest.clamp(min=0).flatten(1)).view_as(nearest)
            nearest = torch.where(nearest >= 0, renamed, nearest)
        return QueryParts(features, parts.fixed, nearest)

    def _cell_features(self, grid: torch.Tensor, mask: torch.Tensor,
                       nearest: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(what the learned slots are assigned by [B, S, S, F], the fixed slots' one-hots [B, S, S, fixed]):
        no learned weight enters either."""
        features = neighbourhoods(grid, mask)
        fixed = [fixed_slots(features, mask)]
        if self.context:
            features = torch.cat([features, context_features(grid, mask, nearest)], dim=-1)
        if self.line_slots:
            seen = (nearest >= 0) & mask[..., None]
            background = (grid == 0)[..., None]
            fixed.append(torch.cat([seen & background, seen & ~background], dim=-1).float())
        return features, torch.cat(fixed, dim=-1)

    def _assign(self, features: torch.Tensor, fixed: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[B, S, S, slots]: the fixed slots' one-hots, then the learned slots' soft assignment of `features`."""
        learned = torch.softmax(self.assign(features), dim=-1) * mask[..., None]
        return torch.cat([fixed, learned], dim=-1)

    def write(self, contexts: Sequence[Sequence[Pair]], device: torch.device) -> torch.Tensor:
        """[len(contexts), dim]: each task's table from its demos whose output has the input's size (a task with
        none gets an empty table: zero means, zero counts)."""
        rows = [(t, p) for t, ctx in enumerate(contexts) for p in ctx if p.input.shape == p.output.shape]
        if not rows and self.induced_canvas:  # no slots to write, but size-changing demos have canvas rules
            return self._with_rules(torch.zeros(len(contexts), self.dim - self.induced_dim, device=device),
                                    [[(p.input, p.output) for p in ctx] for ctx in contexts])
        if not rows:
            return torch.zeros(len(contexts), self.dim, device=device)  # zero means, log1p(0) counts, no rules
        size = max(max(p.input.shape) for _, p in rows)
        inputs = np.zeros((len(rows), size, size), dtype=np.int64)
        outputs = np.zeros_like(inputs)
        mask = np.zeros(inputs.shape, dtype=bool)
        for i, (_, p) in enumerate(rows):
            h, w = p.input.shape
            inputs[i, :h, :w], outputs[i, :h, :w], mask[i, :h, :w] = p.input, p.output, True
        x, y, m = (torch.from_numpy(a).to(device) for a in (inputs, outputs, mask))
        owner = torch.tensor([t for t, _ in rows], device=device)
        return self._with_rules(self._write_slots(x, y, m, owner, len(contexts)),
                                [[(p.input, p.output) for p in ctx] for ctx in contexts])

    def write_grids(self, inputs: torch.Tensor, outputs: torch.Tensor, mask: torch.Tensor, owner: torch.Tensor,
                    tables: int, parts: WriteParts | None = None) -> torch.Tensor:
        """[tables, dim] from same-size demo pairs already on a canvas: inputs, outputs [N, S, S] long, mask
        [N, S, S] bool, owner [N] (which table each pair is written into), and their `write_parts` if already
        known. Test-time training writes its rows' tables this way, from grids it holds in every view and
        colouring, with parts it computed once per view and recoloured (`recolour`)."""
        table = self._write_slots(inputs, outputs, mask, owner, tables, parts)
        if not self.induced_dim:
            return table
        pairs: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(tables)]
        for t, x, y, m in zip(owner.tolist(), inputs.cpu().numpy(), outputs.cpu().numpy(), mask.cpu().numpy()):
            h, w = _extent(m)
            pairs[t].append((x[:h, :w], y[:h, :w]))
        return self._with_rules(table, pairs)

    def _with_rules(self, table: torch.Tensor,
                    pairs: Sequence[Sequence[tuple[np.ndarray, np.ndarray]]]) -> torch.Tensor:
        """`table` [tables, dim - induced_dim] followed by each table's induced rules from its demo `pairs`."""
        if not self.induced_dim:
            return table
        return torch.cat([table, self.induced_part(pairs).to(table.device)], dim=1)

    def induced_part(self, pairs: Sequence[Sequence[tuple[np.ndarray, np.ndarray]]]) -> torch.Tensor:
        """[tables, induced_dim] (on the CPU): each table's induced rules from its demo `pairs` (input, output)."""
        rules = [induced_rules.write(p, INDUCED_RULES, self.induced_buckets, self.induced_views, self.induced_canvas,
                                     self.induced_blind) for p in pairs]
        return torch.from_numpy(np.stack(rules)) if rules else torch.zeros(0, self.induced_dim)

    def write_parts(self, inputs: torch.Tensor, outputs: torch.Tensor, mask: torch.Tensor) -> WriteParts:
        """The `WriteParts` of same-size pairs on a canvas (inputs, outputs [N, S, S] long, mask [N, S, S])."""
        nearest = nearest_colours(inputs, mask) if self.context else None
        features, fixed = self._cell_features(inputs, mask, nearest)
        parts = [F.one_hot(outputs, NUM_COLORS).float(), (outputs == inputs)[..., None].float()]
        if self.context:
            parts.append((nearest == outputs[..., None]).float())
        return WriteParts(features, fixed, torch.cat(parts, -1) * mask[..., None])

    @staticmethod
    def recolour(parts: WriteParts, colors: torch.Tensor) -> WriteParts:
        """`parts` of pairs as they are after each pair's colours c become colors[n, c] (colors [N, 10], a
        permutation keeping 0; the one-hot columns of the centre's and the output's colour move, nothing else)."""
        source = torch.argsort(colors, dim=1)[:, None, None, :]  # new colour -> old colour
        return WriteParts(_moved(parts.features, 3 * WINDOW + 1, source), parts.fixed,
                          _moved(parts.values, 0, source))

    def _write_slots(self, inputs: torch.Tensor, outputs: torch.Tensor, mask: torch.Tensor, owner: torch.Tensor,
                     tables: int, parts: WriteParts | None = None) -> torch.Tensor:
        """`write_grids` without the induced rules."""
        columns = self.width - 1  # the values, and with `specific` the fingerprint
        table = torch.zeros(tables, self.slots, columns, device=inputs.device)
        mass = torch.zeros(tables, self.slots, device=inputs.device)
        exact = torch.zeros(tables * self.exact, columns, device=inputs.device)  # indexed slots, flat
        exact_mass = torch.zeros(tables * self.exact, device=inputs.device)
        if len(inputs):
            parts = self.write_parts(inputs, outputs, mask) if parts is None else parts
            a = self._assign(parts.features, parts.fixed, mask)  # [N, S, S, K]
            values = parts.values
            dense = F.pad(values, (0, columns - self.values))  # the dense slots' fingerprints stay zero
            table = table.index_add(0, owner, torch.einsum("nhwk,nhwv->nkv", a, dense))
            mass = mass.index_add(0, owner, a.sum(dim=(1, 2)))
            if self.exact:  # each cell adds its values to its KINDS indexed slots of its own task's table
                if self.specific_gate is not None:
                    keys, prints = keys_and_fingerprints(inputs, mask, self.buckets)
                else:
                    keys, prints = exact_keys(inputs, mask, self.buckets), None
                keys = keys[mask]  # [cells, KINDS]
                rows = (owner[:, None, None].expand_as(mask)[mask][:, None] * self.exact + keys).flatten()
                added = values[mask][:, None, :].expand(-1, KINDS, -1)  # [cells, KINDS, values]
                if prints is not None:
                    added = torch.cat([added, prints[mask][..., None]], dim=-1)
                exact = exact.index_add(0, rows, added.reshape(len(rows), columns))
                exact_mass = exact_mass.index_add(0, rows, values.new_ones(len(rows)))
        table = torch.cat([table, exact.view(tables, self.exact, columns)], dim=1)
        mass = torch.cat([mass, exact_mass.view(tables, self.exact)], dim=1)
        means = table / (mass[..., None] + 1.0)  # the +1: a slot no demo cell reaches reads as zero
        counted = [means[..., : self.values], torch.log1p(mass)[..., None], means[..., self.values :]]
        return torch.cat(counted, dim=-1).flatten(1)

    def read(self, grid: torch.Tensor, mask: torch.Tensor, table: torch.Tensor,
             parts: QueryParts | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """grid, mask [B, S, S], table [B, dim] -> (each cell's mix of the slots it is assigned to, embedded
        [B, S, S, C]; the table's proposal as colour logits [B, S, S, 10]: the slots' output colours, "unchanged"
        counted as the cell's own colour, times `gate`; with `specific`, plus `_specific`'s logits). `parts`: the
        grids' `query_parts`, if already known (the same numbers)."""
        rules = table[:, table.shape[1] - self.induced_dim :]
        full = table[:, : table.shape[1] - self.induced_dim].view(table.shape[0], self.slots + self.exact, self.width)
        rows = full[..., : self.values + 1]  # the fingerprints, last, serve `_decide` only
        specific = None
        slots = rows[:, : self.slots]
        parts = self.query_parts(grid, mask) if parts is None else parts
        nearest = parts.nearest
        assignment = self._assign(parts.features, parts.fixed, mask)
        looked_up = torch.einsum("bhwk,bkv->bhwv", assignment, slots)
        indexed = None
        if self.exact:  # [B, S, S, KINDS, values + 1]: the rows of the cell's exact slots
            if self.specific_gate is not None:
                keys, query_prints = keys_and_fingerprints(grid, mask, self.buckets)
            else:
                keys = exact_keys(grid, mask, self.buckets)
            flat = keys.flatten(1)  # [B, S*S*KINDS]
            picked = rows[:, self.slots :].gather(1, flat[..., None].expand(-1, -1, self.values + 1))
            indexed = picked.view(*grid.shape, KINDS, self.values + 1)
            looked_up = looked_up + indexed.sum(dim=-2)
            if self.specific_gate is not None:
                held = full[:, self.slots :, -1].gather(1, flat).view(*grid.shape, KINDS)
                specific = self._decide(indexed, held, query_prints)
        looked_up = looked_up * mask[..., None]
        embedded = self.embed(looked_up) * mask[..., None]
        if self.specific_embed is not None:
            embedded = embedded + self.specific_embed(self._decision_features(specific)) * mask[..., None]
        if self.sharpness is not None:
            looked_up = self._trusted(assignment, slots, indexed) * mask[..., None]
        own = F.one_hot(grid.clamp(0, NUM_COLORS - 1), NUM_COLORS).float()
        proposal = looked_up[..., :NUM_COLORS] + looked_up[..., NUM_COLORS : NUM_COLORS + 1] * own
        if self.context:  # "the nearest coloured cell's colour along line d", in this grid's colours
            seen = F.one_hot(nearest.clamp(min=0), NUM_COLORS).float() * (nearest >= 0)[..., None].float()
            weights = looked_up[..., VALUES : VALUES + CONTEXT_VALUES]
            proposal = proposal + torch.einsum("bhwd,bhwdc->bhwc", weights, seen)
        proposal = self.gate * proposal
        if specific is not None:
            proposal = proposal + self._specific(specific) * mask[..., None]
        if self.induced_dim:
            proposal = proposal + self._induced(grid, mask, rules)
        return embedded, proposal

    def _induced(self, grid: torch.Tensor, mask: torch.Tensor, rules: torch.Tensor) -> torch.Tensor:
        """[B, S, S, 10] logits: the colour of each cell's deciding induced rule (grid, mask [B, S, S]; rules
        [B, induced_dim], `induced_rules.encode`'s) times `induced_gate` of that rule's place in the chain and
        support bin plus `coverage_gate` times the share of the query's cells decided; zero where no rule decides."""
        colour = torch.full(grid.shape, -1, dtype=torch.long)
        rank = torch.full(grid.shape, -1, dtype=torch.long)
        cells = []  # coverage's denominator per row: the input's cells (canvas rules: the output's)
        encoded = rules.detach().cpu().numpy()
        side = grid.shape[-1]
        for b, (g, m) in enumerate(zip(grid.cpu().numpy(), mask.cpu().numpy())):
            h, w = _extent(m)
            c, r = induced_rules.decide(encoded[b], g[:h, :w], INDUCED_RULES, self.induced_buckets)
            cells.append(c.size)
            c, r = c[:side, :side], r[:side, :side]  # an output beyond the canvas is clipped there
            colour[b, : c.shape[0], : c.shape[1]], rank[b, : r.shape[0], : r.shape[1]] = map(torch.from_numpy, (c, r))
        colour, rank = colour.to(grid.device), rank.to(grid.device)
        start = NUM_COLORS + (SIZE_NUMBERS if self.induced_canvas else 0)
        support = rules[:, start:].reshape(len(rules), INDUCED_RULES, -1)[:, :, 1].contiguous()  # log cells/key
        bins = torch.bucketize(support, support.new_tensor(SUPPORT_BINS).log(), right=True)
        gate = self.induced_gate.gather(1, bins.T.contiguous()).T  # [B, rules]: each rule's gate
        decided = rank >= 0
        coverage = decided.sum(dim=(1, 2)) / torch.tensor(cells, device=grid.device).clamp(min=1)  # [B]
        gate = gate + self.coverage_gate * coverage[:, None]
        chosen = gate.gather(1, rank.clamp(min=0).flatten(1)).view(grid.shape) * decided
        return F.one_hot(colour.clamp(min=0), NUM_COLORS).float() * chosen[..., None]

    def size_proposal(self, grid: torch.Tensor, mask: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """[B, 2, MAX_SIZE] logits for the output's height and width: `size_gate` at the size the demos' size rule
        gives each query (grid, mask [B, S, S]; table [B, dim]), zero where there is none; all zero without
        `induced_canvas`."""
        proposal = torch.zeros(len(grid), 2, MAX_SIZE, device=grid.device)
        if not self.induced_canvas:
            return proposal
        encoded = table[:, table.shape[1] - self.induced_dim :].detach().cpu().numpy()
        for b, (g, m) in enumerate(zip(grid.cpu().numpy(), mask.cpu().numpy())):
            h, w = _extent(m)
            box = induced_rules.output_box(encoded[b], g[:h, :w], INDUCED_RULES, self.induced_buckets)
            if box is not None:
                proposal[b, 0, box[2] - 1] = proposal[b, 1, box[3] - 1] = 1.0
        return proposal * self.size_gate

    def _trusted(self, assignment: torch.Tensor, slots: torch.Tensor, indexed: torch.Tensor | None) -> torch.Tensor:
        """[B, S, S, values + 1]: each cell's slots (dense `slots` [B, K, values + 1] by `assignment`
        [B, S, S, K], and its exact slots' rows `indexed` [B, S, S, KINDS, values + 1] or None) mixed in proportion
        to their assignment times `_weight`. A summed lookup lets a cell's many line slots outvote its one fixed
        and its learned slots; a weighted mean lets whichever of them the demos were consistent about decide, as
        a rule would."""
        weighted = assignment * self._weight(slots, self.group)[:, None, None, :]  # [B, S, S, K]
        mixed = torch.einsum("bhwk,bkv->bhwv", weighted, slots)
        total = weighted.sum(dim=-1, keepdim=True)
        if indexed is not None:
            weight = self._weight(indexed, self.exact_group)  # [B, S, S, KINDS]
            mixed = mixed + (weight[..., None] * indexed).sum(dim=-2)
            total = total + weight.sum(dim=-1, keepdim=True)
        return mixed / total.clamp(min=1e-6)

    def _decide(self, indexed: torch.Tensor, held: torch.Tensor, query: torch.Tensor) -> Decision:
        """Each cell's most specific exact key (absolute 3x3, then relative 3x3, then its colour) whose slot holds
        demo cells of this very key (`held`, the slot's mean fingerprint, equals the cell's own, `query`; both
        [B, S, S, KINDS]) that all turned one colour. `indexed` [B, S, S, KINDS, values + 1] are the cell's exact
        slots. Every key includes the cell's colour, so "unchanged" is one colour here."""
        mass = torch.expm1(indexed[..., -1])
        scale = (mass + 1.0) / mass.clamp(min=1e-6)  # the table's means divide by mass + 1
        share, colour = (indexed[..., :NUM_COLORS] * scale[..., None]).max(dim=-1)
        same_key = (held * scale - query).abs() < SAME_PRINT
        decides = (mass > 0.5) & (share > AGREED) & same_key  # [B, S, S, KINDS]
        kinds = torch.arange(1, KINDS + 1, device=indexed.device)
        level = (decides * kinds).argmax(dim=-1, keepdim=True)  # the most specific kind that decides
        bins = torch.bucketize(mass.gather(-1, level)[..., 0] + 0.5, self.mass_bins, right=True)
        return Decision(colour.gather(-1, level)[..., 0], level[..., 0], bins, decides.gather(-1, level)[..., 0])

    def _specific(self, decision: Decision) -> torch.Tensor:
        """[B, S, S, 10] logits: the deciding key's colour times its kind's and cell count's gate; zero where no
        key decides."""
        gate = self.specific_gate[decision.kind, decision.bin] * decision.decided
        return F.one_hot(decision.colour, NUM_COLORS).float() * gate[..., None]

    def _decision_features(self, decision: Decision) -> torch.Tensor:
        """[B, S, S, 10 + KINDS * bins] one-hots of the decided colour and of its kind and cell count bin; zero
        where no key decides."""
        colour = F.one_hot(decision.colour, NUM_COLORS)
        kind = F.one_hot(decision.kind * len(MASS_BINS) + decision.bin, KINDS * len(MASS_BINS))
        return torch.cat([colour, kind], dim=-1).float() * decision.decided[..., None]

    def _weight(self, rows: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
        """rows [..., values + 1] (means, log1p mass) -> [...]: exp(sharpness * (agreement - 1) + trust[group]),
        zero for a slot no demo cell reached. A slot's agreement is its largest mean value (one colour,
        "unchanged" or one line's nearest colour) as a share of its cells, with a pseudo-count of 1/4: near 1
        when every demo cell in it did the same, a little lower when few did."""
        mass = torch.expm1(rows[..., self.values])
        agreement = rows[..., : self.values].amax(dim=-1) * (mass + 1.0) / (mass + 0.25)
        return torch.exp(self.sharpness * (agreement - 1.0) + self.trust[group]) * (mass > 0)

