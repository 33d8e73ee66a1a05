"""Resized and tiled copies of the input on the predicted output canvas.

Many ARC outputs are the input scaled (nearest neighbour) or tiled to a new size. Once the agent has
predicted an output size, these two copies put the matching input colour under every output cell, so
scaling and tiling become local problems instead of long-range gathers the core must learn first.
The copies are index arithmetic on the argmax size: they carry no gradient and nothing is interpolated.

An optional third copy, the input transposed, does the same for transposes and quarter turns: with axial
attention a transpose needs three hops (row, column, row), a flip one, so with the transposed copy every D8
element is at most two hops away (AgentConfig.transposed_copy).
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


def transposed_copy(grid: torch.Tensor, mask: torch.Tensor, out_size: torch.Tensor, pad: int) -> torch.Tensor:
    """The input transposed [B, S, S] long: output cell (r, c) shows input (c, r). Cells outside the output size,
    or whose source is masked, hold `pad`."""
    index = torch.arange(grid.shape[-1], device=grid.device)[None, :]  # [1, S]
    inside = index < out_size[:, :1], index < out_size[:, 1:]  # each [B, S]: rows, columns inside the output
    valid = mask.transpose(1, 2) & inside[0][:, :, None] & inside[1][:, None, :]
    return torch.where(valid, grid.transpose(1, 2), pad)
