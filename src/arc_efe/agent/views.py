"""Geometric views of the input on the predicted output canvas: resized and tiled copies.

Many ARC outputs are the input scaled (nearest neighbour) or tiled to a new size. Once the agent has
predicted an output size, these two views put the matching input colour under every output cell, so
scaling and tiling become local problems instead of long-range gathers the core must learn first.
The views are index arithmetic on the argmax size: they carry no gradient and nothing is interpolated.
"""

from __future__ import annotations

import torch

from arc_efe.data.grid import MAX_SIZE


def grid_size(mask: torch.Tensor) -> torch.Tensor:
    """Height and width [B, 2] of top-left grids from their mask [B, 30, 30]; at least 1 each."""
    height = mask.any(dim=2).sum(dim=1)  # [B]
    width = mask.any(dim=1).sum(dim=1)  # [B]
    return torch.stack([height, width], dim=-1).clamp(min=1)


def _gather(grid: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, valid: torch.Tensor,
            pad: int) -> torch.Tensor:
    """grid[b, rows[b, r], cols[b, c]] where valid [B, 30, 30], else `pad`. rows, cols [B, 30]."""
    batch = torch.arange(grid.shape[0], device=grid.device)[:, None, None]
    picked = grid[batch, rows[:, :, None], cols[:, None, :]]  # [B, 30, 30]
    return torch.where(valid, picked, torch.full_like(picked, pad))


def input_views(grid: torch.Tensor, mask: torch.Tensor, out_size: torch.Tensor,
                pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Resized and tiled views [B, 30, 30] long of grid (valid where mask) on an out_size [B, 2] canvas.

    Resized: output cell (r, c) shows input (r * H_in // H_out, c * W_in // W_out); tiled: input
    (r mod H_in, c mod W_in). Cells outside the output size, or whose source is masked, hold `pad`.
    """
    in_size = grid_size(mask)  # [B, 2]
    index = torch.arange(MAX_SIZE, device=grid.device)[None, :]  # [1, 30]
    inside = (index < out_size[:, :1])[:, :, None] & (index < out_size[:, 1:])[:, None, :]  # [B, 30, 30]
    views = []
    for rows, cols in (
        (index * in_size[:, :1] // out_size[:, :1], index * in_size[:, 1:] // out_size[:, 1:]),
        (index % in_size[:, :1], index % in_size[:, 1:]),
    ):
        rows, cols = rows.clamp(max=MAX_SIZE - 1), cols.clamp(max=MAX_SIZE - 1)
        source_valid = _gather(mask.long(), rows, cols, inside, 0).bool()
        views.append(_gather(grid, rows, cols, source_valid, pad))
    return views[0], views[1]
