"""What a cell sees beyond its neighbourhood: the nearest coloured cell along each of 8 lines, and its object.

The rule table's neighbourhood (radius 2) cannot tell a background cell on a source pixel's ray from one beside
it, a cell between two same-coloured points from one outside them, or the largest object's cells from a small
one's: on the generator families with those rules (rays_to_border, cross_lines, connect_points,
recolour_by_size, recolour_extreme) the table model's plain solve stayed 0 (BENCHMARKS.md, session 20). These
features make such rules a per-cell lookup. Like the neighbourhood they name no colour: only "there is one",
"the same colour as this cell", "the same colour on both sides", and object sizes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Eight lines out of a cell: the four sides, then the four diagonals, each next to its reverse (AXES pairs them).
DIRECTIONS = ((0, -1), (0, 1), (-1, 0), (1, 0), (-1, -1), (1, 1), (-1, 1), (1, -1))
AXES = ((0, 1), (2, 3), (4, 5), (6, 7))  # pairs of opposite lines: row, column, the two diagonals
SIZE_BINS = 9  # object sizes 1..8, and 9 or more
# Per line: a coloured cell on it, and whether the nearest one has this cell's colour; per axis: the nearest
# coloured cells on both sides share a colour; the object's size bin, and whether it is the grid's largest or
# smallest object.
CONTEXT_FEATURES = 2 * len(DIRECTIONS) + len(AXES) + SIZE_BINS + 2


def nearest_colours(grid: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """grid [B, H, W] long, mask [B, H, W] bool -> [B, H, W, 8] long: the colour of the nearest non-background
    cell of the grid along each of DIRECTIONS (the cell itself excluded), -1 where the line has none. Found by
    doubling: knowing each cell's answer within `span` steps, a cell without one takes that of the cell `span`
    steps along, so log2(side) rounds instead of one per distance (the rule table reads this every forward)."""
    h, w = grid.shape[-2:]
    coloured = torch.where(mask & (grid != 0), grid, torch.full_like(grid, -1))
    found = _step(coloured[..., None].expand(-1, -1, -1, len(DIRECTIONS)), 1)  # within one step
    span = 1
    while span < max(h, w) - 1:
        found = torch.where(found < 0, _step(found, span), found)
        span *= 2
    return found


def _step(values: torch.Tensor, k: int) -> torch.Tensor:
    """values [B, H, W, 8] -> each cell's value of its own line d (the last dim) read k steps along DIRECTIONS[d]
    (-1 off the grid)."""
    h, w = values.shape[1:3]
    padded = F.pad(values, (0, 0, k, k, k, k), value=-1)
    return torch.stack([padded[:, k + k * dr : k + h + k * dr, k + k * dc : k + w + k * dc, d]
                        for d, (dr, dc) in enumerate(DIRECTIONS)], dim=-1)


def component_sizes(grid: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """grid, mask [B, H, W] -> [B, H, W] long: the number of cells of each non-background cell's 4-connected
    same-colour object, 0 on background and off the grid. Labels spread as the largest index among connected
    cells until nothing changes (a few dozen rounds on ARC-sized objects)."""
    batch, h, w = grid.shape
    fg = mask & (grid != 0)
    index = torch.arange(1, h * w + 1, device=grid.device).view(1, h, w).expand(batch, -1, -1)
    labels = torch.where(fg, index, torch.zeros_like(index))
    colour = torch.where(fg, grid, torch.full_like(grid, -1))
    links = []  # for each side: this cell and that neighbour are in one object
    for dr, dc in DIRECTIONS[:4]:
        neighbour = torch.roll(colour, shifts=(-dr, -dc), dims=(1, 2))
        inside = torch.ones_like(fg)
        if dr:
            inside[:, (h - 1 if dr > 0 else 0), :] = False
        if dc:
            inside[:, :, (w - 1 if dc > 0 else 0)] = False
        links.append((dr, dc, fg & inside & (neighbour == colour)))
    for _ in range(h * w):
        spread = labels
        for dr, dc, link in links:
            across = torch.roll(labels, shifts=(-dr, -dc), dims=(1, 2))
            spread = torch.where(link, torch.maximum(spread, across), spread)
        if torch.equal(spread, labels):
            break
        labels = spread
    counts = torch.zeros(batch, h * w + 1, dtype=torch.long, device=grid.device)
    counts.scatter_add_(1, labels.flatten(1), torch.ones_like(labels.flatten(1)))
    counts[:, 0] = 0
    return counts.gather(1, labels.flatten(1)).view(batch, h, w)


def context_features(grid: torch.Tensor, mask: torch.Tensor, nearest: torch.Tensor) -> torch.Tensor:
    """grid, mask [B, H, W], `nearest_colours(grid, mask)` -> [B, H, W, CONTEXT_FEATURES] float, zero off the
    grid (see CONTEXT_FEATURES)."""
    with torch.no_grad():
        seen = nearest >= 0
        same = seen & (nearest == grid[..., None])
        between = torch.stack([seen[..., a] & (nearest[..., a] == nearest[..., b]) for a, b in AXES], dim=-1)
        sizes = component_sizes(grid, mask)
        fg = sizes > 0
        bins = F.one_hot((sizes.clamp(1, SIZE_BINS) - 1), SIZE_BINS).bool() & fg[..., None]
        big = sizes.flatten(1).max(1).values.view(-1, 1, 1)
        small = torch.where(fg, sizes, torch.full_like(sizes, 1 << 20)).flatten(1).min(1).values.view(-1, 1, 1)
        extremes = torch.stack([fg & (sizes == big), fg & (sizes == small)], dim=-1)
        parts = [seen, same, between, bins, extremes]
        return torch.cat(parts, dim=-1).float() * mask[..., None]
