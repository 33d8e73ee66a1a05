"""The weight-tied core's building blocks: prompt FiLM, the active region, global (axial) mixing and
the residual block.

All tensors here are channels-last, [B, S, S, C] on a square canvas S <= 30, so the per-cell linear
layers are plain GEMMs. Cells only read each other inside a per-sample active region (a top-left box):
the state is zeroed outside it before local convs and axial means, and attention keys outside it are
masked. Cells outside the region still read the region, so every output on an S canvas equals the
30x30 canvas's output cropped to S x S whenever the region fits in S.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

# Each block has two pre-norms, each modulated by a (scale, shift) pair from the prompt.
FILM_PARAMS_PER_BLOCK = 4


class PromptFiLM(nn.Module):
    """Maps the prompt to per-block, per-channel (scale, shift) pairs, computed once per pass and reused
    at every planning step (the core is weight-tied, so its conditioning is too)."""

    def __init__(self, prompt_dim: int, channels: int, blocks: int):
        super().__init__()
        self.channels = channels
        self.blocks = blocks
        self.proj = nn.Linear(prompt_dim, blocks * FILM_PARAMS_PER_BLOCK * channels)

    def forward(self, prompt: torch.Tensor) -> torch.Tensor:
        """prompt [B, P] -> [B, blocks, 4, C] (scale1, shift1, scale2, shift2)."""
        return self.proj(prompt).view(prompt.shape[0], self.blocks, FILM_PARAMS_PER_BLOCK, self.channels)


class Region(NamedTuple):
    """Each sample's active top-left box on an S canvas."""

    rows: torch.Tensor  # [B, S] bool, row inside the box
    cols: torch.Tensor  # [B, S] bool, column inside the box
    cells: torch.Tensor  # [B, S, S, 1] float, 1 inside the box


def active_region(size: torch.Tensor, canvas: int) -> Region:
    """The box of (height, width) size [B, 2] on a canvas x canvas grid, clipped to the canvas."""
    index = torch.arange(canvas, device=size.device)[None, :]  # [1, S]
    rows, cols = index < size[:, :1], index < size[:, 1:]  # each [B, S]
    cells = (rows[:, :, None] & cols[:, None, :]).unsqueeze(-1).float()  # [B, S, S, 1]
    return Region(rows, cols, cells)


def key_bias(valid: torch.Tensor) -> torch.Tensor:
    """Additive attention bias [B, L]: 0 on valid keys, -inf elsewhere. A region has >= 1 row and
    column, so every softmax keeps a finite key; queries outside the region are zeroed afterwards."""
    return torch.zeros(valid.shape, device=valid.device).masked_fill(~valid, float("-inf"))


def axial_means(x: torch.Tensor, region: Region) -> tuple[torch.Tensor, torch.Tensor]:
    """Means over the region of each row [B, S, C] and each column [B, S, C] of x [B, S, S, C], which is
    zero outside the region; lines outside the region get zeros."""
    height = region.rows.sum(dim=1).clamp(min=1)[:, None, None]  # [B, 1, 1]
    width = region.cols.sum(dim=1).clamp(min=1)[:, None, None]  # [B, 1, 1]
    return x.sum(dim=2) / width, x.sum(dim=1) / height


def modulate(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """x [B, S, S, C]; scale, shift [B, C]. `1 + scale` keeps an untrained FiLM near identity."""
    return x * (1 + scale[:, None, None, :]) + shift[:, None, None, :]


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Softmax attention over [..., L, d] plus an additive score bias broadcastable to [..., L, L].

    Written out by hand: for L = 30 it beats CPU flash SDPA (6x under bf16 autocast, whose flash
    backward is slow on short sequences). Scores go to fp32 before the softmax: autocast would do the
    same, but its fused cast-and-softmax kernel is 2x slower than this.
    """
    scores = ((q * q.shape[-1] ** -0.5) @ k.transpose(-1, -2)).float() + bias.float()  # [..., L, L]
    return scores.softmax(dim=-1) @ v


class AxialAttention(nn.Module):
    """Criss-cross attention: half the heads attend along the cell's row, half along its column, so two
    blocks connect every cell of the region to every other. Cost is O(S^3) on an S x S canvas.

    Besides content scores, each head adds "pointer" logits over the positions of its axis, computed
    from the mean state of the query's row (column heads) or column (row heads): row r can ask for
    source row r // 2 or H - 1 - r directly from its coordinate features, a mapping that dot-product
    scores over summed position embeddings learn far more slowly (their rank is at most the head dim).
    """

    def __init__(self, channels: int, heads: int, positions: int):
        super().__init__()
        self.heads = heads
        self.positions = positions
        self.qkv = nn.Linear(channels, 3 * channels)
        self.row_pointer = nn.Linear(channels, heads // 2 * positions)
        self.col_pointer = nn.Linear(channels, heads // 2 * positions)
        self.out = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor, region: Region) -> torch.Tensor:
        """x [B, S, S, C], zero outside the region -> [B, S, S, C]."""
        b, h, w, c = x.shape
        if h != w or h > self.positions:
            raise ValueError(f"AxialAttention: canvas must be square and at most {self.positions}, got {h}x{w}")
        half, d = self.heads // 2, c // self.heads
        q, k, v = self.qkv(x).view(b, h, w, 3, self.heads, d).unbind(dim=3)  # each [B, H, W, nh, d]
        row_mean, col_mean = axial_means(x, region)  # [B, H, C], [B, W, C]
        # Pointers are per axis line, shared by its cells: [B, half, query position, key position], the
        # keys sliced to the canvas and masked outside the region.
        by_col = self.row_pointer(col_mean).view(b, w, half, self.positions)[..., :w].transpose(1, 2)
        by_col = by_col + key_bias(region.cols)[:, None, None, :]  # [B, half, W, W]
        by_row = self.col_pointer(row_mean).view(b, h, half, self.positions)[..., :h].transpose(1, 2)
        by_row = by_row + key_bias(region.rows)[:, None, None, :]  # [B, half, H, H]
        # Row heads: each row is a sequence over W; rows outside the region have no keys, so output 0.
        rows = [t[..., :half, :].transpose(2, 3) for t in (q, k, v)]  # each [B, H, half, W, d]
        rows_out = attend(*rows, by_col[:, None]).transpose(2, 3)  # [B, H, W, half, d]
        rows_out = rows_out * region.rows[:, :, None, None, None]
        # Column heads: each column is a sequence over H.
        cols = [t[..., half:, :].permute(0, 2, 3, 1, 4) for t in (q, k, v)]  # each [B, W, half, H, d]
        cols_out = attend(*cols, by_row[:, None]).permute(0, 3, 1, 2, 4)  # [B, H, W, half, d]
        cols_out = cols_out * region.cols[:, None, :, None, None]
        merged = torch.cat([rows_out, cols_out], dim=3).reshape(b, h, w, c)  # [B, H, W, C]
        return self.out(merged)


class AxialPool(nn.Module):
    """Row and column means broadcast back to every cell: global in two blocks, no attention."""

    def __init__(self, channels: int):
        super().__init__()
        self.row = nn.Linear(channels, channels)
        self.col = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor, region: Region) -> torch.Tensor:
        """x [B, S, S, C], zero outside the region -> [B, S, S, C]."""
        row_mean, col_mean = axial_means(x, region)  # [B, H, C], [B, W, C]
        return self.row(row_mean)[:, :, None, :] + self.col(col_mean)[:, None, :, :]


class CoreBlock(nn.Module):
    """Pre-norm residual block: (local depthwise conv + global mixing), then a per-cell MLP; both
    sub-layers see the prompt through FiLM on their norm."""

    def __init__(self, channels: int, heads: int, kernel_size: int, mlp_ratio: int, mixing: str,
                 positions: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(channels, elementwise_affine=False)
        self.norm2 = nn.LayerNorm(channels, elementwise_affine=False)
        self.local = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)
        attention = mixing == "attention"
        self.mix = AxialAttention(channels, heads, positions) if attention else AxialPool(channels)
        self.mlp = nn.Sequential(
            nn.Linear(channels, mlp_ratio * channels),
            nn.GELU(),
            nn.Linear(mlp_ratio * channels, channels),
        )

    def forward(self, x: torch.Tensor, film: torch.Tensor, region: Region) -> torch.Tensor:
        """x [B, S, S, C]; film [B, 4, C] -> [B, S, S, C]."""
        y = modulate(self.norm1(x), film[:, 0], film[:, 1]) * region.cells  # only the region is read
        local = self.local(y.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)  # [B, S, S, C]
        x = x + local + self.mix(y, region)
        y = modulate(self.norm2(x), film[:, 2], film[:, 3])
        return x + self.mlp(y)
