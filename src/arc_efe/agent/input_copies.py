"""Resized and tiled copies of the input on the predicted output canvas.

Many ARC outputs are the input scaled (nearest neighbour) or tiled to a new size. Once the agent has
predicted an output size, these two copies put the matching input colour under every output cell, so
scaling and tiling become local problems instead of long-range gathers the core must learn first.
The copies are index arithmetic on the argmax size: they carry no gradient and nothing is interpolated.
"""

from __future__ import annotations

import torch


def grid_size(mask: torch.Tensor) -> torch.Tensor:
    """Height and width [B, 2] of top-left grids from their mask [B, S, S]; at least 1 each."""
    height = mask.any(dim=2).sum(dim=1)  # [B]
    width = mask.any(dim=1).sum(dim=1)  # [B]
    return torch.stack([height, width], dim=-1).clamp(min=1)


def _gather(grid: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, valid: torch.Tensor,
            pad: int) -> torch.Tensor:
    """grid[b, rows[b, r], cols[b, c]] where valid [B, S, S], else `pad`. rows, cols [B, S]."""
    batch = torch.arange(grid.shape[0], device=grid.device)[:, None, None]
    picked = grid[batch, rows[:, :, None], cols[:, None, :]]  # [B, S, S]
    return torch.where(valid, picked, torch.full_like(picked, pad))


def input_copies(grid: torch.Tensor, mask: torch.Tensor, out_size: torch.Tensor,
                pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Resized and tiled copies [B, S, S] long of grid [B, S, S] (valid where mask) for an output of
    out_size [B, 2] (1..30; for a size beyond S they are the 30x30 canvas's copies cropped to S x S).

    Resized: output cell (r, c) shows input (r * H_in // H_out, c * W_in // W_out); tiled: input
    (r mod H_in, c mod W_in). Cells outside the output size, or whose source is masked, hold `pad`.
    """
    canvas = grid.shape[-1]
    in_size = grid_size(mask)  # [B, 2]
    index = torch.arange(canvas, device=grid.device)[None, :]  # [1, S]
    inside = (index < out_size[:, :1])[:, :, None] & (index < out_size[:, 1:])[:, None, :]  # [B, S, S]
    copies = []
    for rows, cols in (
        (index * in_size[:, :1] // out_size[:, :1], index * in_size[:, 1:] // out_size[:, 1:]),
        (index % in_size[:, :1], index % in_size[:, 1:]),
    ):
        rows, cols = rows.clamp(max=canvas - 1), cols.clamp(max=canvas - 1)
        source_valid = _gather(mask.long(), rows, cols, inside, 0).bool()
        copies.append(_gather(grid, rows, cols, source_valid, pad))
    return copies[0], copies[1]
