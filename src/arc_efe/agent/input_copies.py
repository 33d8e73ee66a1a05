"""Resized and tiled copies of the input on the predicted output canvas.

Many ARC outputs are the input scaled (nearest neighbour) or tiled to a new size. Once the agent has
predicted an output size, these two copies put the matching input colour under every output cell, so
scaling and tiling become local problems instead of long-range gathers the core must learn first.
The copies are index arithmetic on the argmax size: they carry no gradient and nothing is interpolated.

Optional further copies, chosen D8 images of the input (AgentConfig.d8_copies), do the same for flips, turns
and transposes: with axial attention a flip is one hop (a move along rows or along columns), a half turn two and
a transpose or quarter turn three, but an element shown as a copy needs none.
"""

from __future__ import annotations

import torch


def grid_size(mask: torch.Tensor) -> torch.Tensor:
    """Height and width [B, 2] of top-left grids from their mask [B, S, S]; at least 1 each."""
    height = mask.any(dim=2).sum(dim=1)  # [B]
    width = mask.any(dim=1).sum(dim=1)  # [B]
    return torch.stack([height, width], dim=-1).clamp(min=1)


def input_copies(grid: torch.Tensor, mask: torch.Tensor, out_size: torch.Tensor, pad: int,
                 in_size: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Resized and tiled copies [B, S, S] long of grid [B, S, S] (valid where mask) for an output of
    out_size [B, 2] (1..30; for a size beyond S they are the 30x30 canvas's copies cropped to S x S).
    `in_size` is grid_size(mask) when the caller has it already.

    Resized: output cell (r, c) shows input (r * H_in // H_out, c * W_in // W_out); tiled: input
    (r mod H_in, c mod W_in). Cells outside the output size, or whose source is masked, hold `pad`.
    Both copies come from one gather (they run at every planning step, so their op count matters).
    """
    canvas = grid.shape[-1]
    in_size = grid_size(mask) if in_size is None else in_size  # [B, 2]
    index = torch.arange(canvas, device=grid.device)[None, :, None]  # [1, S, 1]
    # Source row / column of every output row / column, resized then tiled: [2, B, S, 2 (row, col)].
    source = torch.stack([index * in_size[:, None, :] // out_size[:, None, :], index % in_size[:, None, :]])
    source = source.clamp(max=canvas - 1)
    rows, cols = source[..., 0, None], source[..., None, :, 1]  # [2, B, S, 1], [2, B, 1, S]
    batch = torch.arange(grid.shape[0], device=grid.device)[None, :, None, None]  # [1, B, 1, 1]
    inside = (index < out_size[:, None, :]).unbind(-1)  # each [B, S]: rows, columns inside the output size
    valid = (inside[0][:, :, None] & inside[1][:, None, :]) & mask[batch, rows, cols]  # [2, B, S, S]
    copies = torch.where(valid, grid[batch, rows, cols], pad)
    return copies[0], copies[1]


def d8_sources(r: torch.Tensor, c: torch.Tensor, h: torch.Tensor, w: torch.Tensor, element: int
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Source (row, column) of output cell (r, c) in the image of an h x w grid under D8 `element`
    (arc_efe.data.augment's numbering: 1 rot90, 2 rot180, 3 rot270, 4 transpose, 5 up-down flip,
    6 anti-transpose, 7 left-right flip)."""
    # A match, not a dict of all seven: only the requested element's index arithmetic runs (every planning step).
    match element:
        case 1:
            return c, w - 1 - r
        case 2:
            return h - 1 - r, w - 1 - c
        case 3:
            return h - 1 - c, r
        case 4:
            return c, r
        case 5:
            return h - 1 - r, c
        case 6:
            return h - 1 - c, w - 1 - r
        case 7:
            return r, w - 1 - c
    raise KeyError(element)


def d8_copies(grid: torch.Tensor, mask: torch.Tensor, out_size: torch.Tensor, pad: int,
              elements: tuple[int, ...], in_size: torch.Tensor | None = None) -> torch.Tensor:
    """The input's images under `elements` [K, B, S, S] long, each at the top left of the output canvas: output
    cell (r, c) of copy k shows the image's cell (r, c). Cells outside the output size or the image hold `pad`.
    One gather for all K (they run at every planning step)."""
    b, canvas = grid.shape[0], grid.shape[-1]
    in_size = grid_size(mask) if in_size is None else in_size
    index = torch.arange(canvas, device=grid.device)
    r, c = index[None, None, :, None], index[None, None, None, :]  # [1, 1, S, 1], [1, 1, 1, S]
    h, w = in_size[None, :, 0, None, None], in_size[None, :, 1, None, None]  # [1, B, 1, 1]
    sources = [d8_sources(r, c, h, w, k) for k in elements]
    rows = torch.cat([torch.broadcast_to(s[0], (1, b, canvas, canvas)) for s in sources])  # [K, B, S, S]
    cols = torch.cat([torch.broadcast_to(s[1], (1, b, canvas, canvas)) for s in sources])
    inside = (r < out_size[None, :, 0, None, None]) & (c < out_size[None, :, 1, None, None])  # [1, B, S, S]
    valid = inside & (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    rows, cols = rows.clamp(0, canvas - 1), cols.clamp(0, canvas - 1)
    batch = torch.arange(b, device=grid.device)[None, :, None, None]
    valid = valid & mask[batch, rows, cols]
    return torch.where(valid, grid[batch, rows, cols], pad)
