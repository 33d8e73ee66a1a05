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
        # Adds the 1 of `1 + scale` once per pass (a constant, not saved), so each norm needs one addcmul.
        self.register_buffer("ones", torch.tensor([1.0, 0.0, 1.0, 0.0])[:, None], persistent=False)

    def forward(self, prompt: torch.Tensor) -> torch.Tensor:
        """prompt [B, P] -> [B, blocks, 4, C] (1 + scale1, shift1, 1 + scale2, shift2)."""
        film = self.proj(prompt).view(prompt.shape[0], self.blocks, FILM_PARAMS_PER_BLOCK, self.channels)
        return film + self.ones


class Region(NamedTuple):
    """Each sample's active top-left box on an S canvas, with what every block reads from it (computed
    once per planning step, not once per block). Axis 0 of the stacked fields: row heads, column heads."""

    rows: torch.Tensor  # [B, S] bool, row inside the box
    cols: torch.Tensor  # [B, S] bool, column inside the box
    cells: torch.Tensor  # [B, S, S, 1] float, 1 inside the box
    lines: torch.Tensor  # [2, B, 1, 1] float, the box's height and width (at least 1)
    keys: torch.Tensor  # [2, B, 1, 1, 1, S] key bias: row heads' keys are columns, column heads' rows
    queries: torch.Tensor  # [2, B, S, 1, 1, 1] float, 1 on query lines inside the box (rows, then columns)


def active_region(size: torch.Tensor, canvas: int) -> Region:
    """The box of (height, width) size [B, 2] on a canvas x canvas grid, clipped to the canvas."""
    index = torch.arange(canvas, device=size.device)[None, :]  # [1, S]
    rows, cols = index < size[:, :1], index < size[:, 1:]  # each [B, S]
    cells = (rows[:, :, None] & cols[:, None, :]).unsqueeze(-1).float()  # [B, S, S, 1]
    lines = torch.stack([rows, cols])  # [2, B, S]
    extent = lines.sum(dim=2).clamp(min=1).float()[:, :, None, None]  # [2, B, 1, 1]
    keys = key_bias(torch.stack([cols, rows]))[:, :, None, None, None, :]  # [2, B, 1, 1, 1, S]
    return Region(rows, cols, cells, extent, keys, lines.float()[:, :, :, None, None, None])


def key_bias(valid: torch.Tensor) -> torch.Tensor:
    """Additive attention bias [..., L]: 0 on valid keys, -inf elsewhere. A region has >= 1 row and
    column, so every softmax keeps a finite key; queries outside the region are zeroed afterwards."""
    return torch.zeros(valid.shape, device=valid.device).masked_fill(~valid, float("-inf"))


def axial_means(x: torch.Tensor, region: Region) -> torch.Tensor:
    """Means over the region of each column and each row of x [B, S, S, C], which is zero outside the
    region -> [2, B, S, C] (column means, then row means); lines outside the region get zeros."""
    return torch.stack([x.sum(dim=1), x.sum(dim=2)]) / region.lines  # a column sums over the box's height


def modulate(x: torch.Tensor, gain: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """x [B, S, S, C]; gain, shift [B, C]. The gain is FiLM's `1 + scale`, which keeps an untrained
    FiLM near identity."""
    return torch.addcmul(shift[:, None, None, :], x, gain[:, None, None, :])


class AxialAttention(nn.Module):
    """Criss-cross attention: half the heads attend along the cell's row, half along its column, so two
    blocks connect every cell of the region to every other. Cost is O(S^3) on an S x S canvas.

    Besides content scores, each head adds "pointer" logits over the positions of its axis, computed
    from the mean state of the query's row (column heads) or column (row heads): row r can ask for
    source row r // 2 or H - 1 - r directly from its coordinate features, a mapping that dot-product
    scores over summed position embeddings learn far more slowly (their rank is at most the head dim).

    Both halves run as one batch of sequences [2, B, line, head, position, d]: index 0 holds the row
    heads (lines are rows), 1 the column heads on the transposed canvas (lines are columns). On the
    small canvases of test-time training an update costs per op, not per flop, so the layout keeps ops
    few. Softmax attention is written out: for L <= 30 it beats CPU flash SDPA (6x under bf16 autocast).
    Scores go to fp32 before the softmax, as autocast would do.
    """

    def __init__(self, channels: int, heads: int, positions: int, pointer_maps: int = 0):
        super().__init__()
        self.heads = heads
        self.positions = positions
        self.qkv = nn.Linear(channels, 3 * channels)
        self.row_pointer = nn.Linear(channels, heads // 2 * positions)
        self.col_pointer = nn.Linear(channels, heads // 2 * positions)
        self.out = nn.Linear(channels, channels)
        # Prompt-mixed pointer maps [K, 2 (row, column heads), half, positions, C]; zero: no effect at first.
        shape = (pointer_maps, 2, heads // 2, positions, channels)
        self.maps = nn.Parameter(torch.zeros(shape)) if pointer_maps else None

    def forward(self, x: torch.Tensor, region: Region, mix: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, S, S, C], zero outside the region; mix [B, K], the prompt's weights of the pointer maps
        -> [B, S, S, C]."""
        b, h, w, c = x.shape
        if h != w or h > self.positions:
            raise ValueError(f"AxialAttention: canvas must be square and at most {self.positions}, got {h}x{w}")
        half, d = self.heads // 2, c // self.heads
        # unbind, not indexing: each index's backward would fill a zero tensor the size of the whole qkv.
        qkv = self.qkv(x).view(b, h, w, 3, 2, half, d).unbind(dim=3)
        rows, cols = zip(*(t.unbind(dim=3) for t in qkv))  # q, k, v, each [B, H, W, half, d]
        # q, k, v of the row heads [B, row, half, col, d], then of the column heads [B, col, half, row, d].
        parts = torch.stack([t.transpose(2, 3) for t in rows] + [t.permute(0, 2, 3, 1, 4) for t in cols])
        q, k, v = parts.view(2, 3, -1, h, d).unbind(dim=1)  # each [2, B * line * half, S, d]
        scores = (q @ k.transpose(-1, -2)).view(2, b, h, half, h, h).float()  # [2, B, line, half, query, key]
        scores = torch.add(self.pointers(x, region, mix), scores, alpha=d**-0.5)
        probs = scores.softmax(dim=-1).view(2, -1, h, h).to(v.dtype)
        by_row, by_col = ((probs @ v).view(2, b, h, half, h, d) * region.queries).unbind(0)  # 0 off the region
        # Back to [B, H, W, heads, d]: row heads sit at (line, position), column heads at (position, line).
        merged = torch.stack([by_row.transpose(2, 3), by_col.permute(0, 3, 1, 2, 4)], dim=3)
        return self.out(merged.view(b, h, w, c))

    def pointers(self, x: torch.Tensor, region: Region, mix: torch.Tensor | None = None) -> torch.Tensor:
        """Pointer logits plus the key mask, [2, B, 1, half, query, key], shared by the lines of an axis:
        the row heads' from their query's column mean, the column heads' from their query's row mean; with
        `mix` [B, K], plus each sample's mixture of the K pointer maps read from the same means."""
        b, s, _, c = x.shape
        half = self.heads // 2
        # Only the canvas's key positions: the weights are sliced, not the [2, B * S, half * 30] logits.
        weight = torch.stack([self.row_pointer.weight, self.col_pointer.weight]).view(2, half, self.positions, c)
        bias = torch.stack([self.row_pointer.bias, self.col_pointer.bias]).view(2, 1, half, self.positions)
        weight, bias = weight[:, :, :s].reshape(2, half * s, c), bias[..., :s].reshape(2, 1, half * s)
        means = axial_means(x, region).view(2, b * s, c)  # [2, B * S, C]
        logits = torch.baddbmm(bias, means, weight.transpose(1, 2)).view(2, b, s, half, s)
        if self.maps is not None and mix is not None:
            maps = self.maps[:, :, :, :s]  # [K, 2, half, s, C]
            per_map = torch.einsum("absc,kahpc->kabshp", means.view(2, b, s, c), maps)  # [K, 2, B, S, half, s]
            logits = logits + torch.einsum("bk,kabshp->abshp", mix, per_map)
        return logits.transpose(2, 3)[:, :, None].float() + region.keys


class AxialPool(nn.Module):
    """Row and column means broadcast back to every cell: global in two blocks, no attention."""

    def __init__(self, channels: int):
        super().__init__()
        self.row = nn.Linear(channels, channels)
        self.col = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor, region: Region) -> torch.Tensor:
        """x [B, S, S, C], zero outside the region -> [B, S, S, C]."""
        col_mean, row_mean = axial_means(x, region)  # [B, W, C], [B, H, C]
        return self.row(row_mean)[:, :, None, :] + self.col(col_mean)[:, None, :, :]


class CoreBlock(nn.Module):
    """Pre-norm residual block: (local depthwise conv + global mixing), then a per-cell MLP; both
    sub-layers see the prompt through FiLM on their norm."""

    def __init__(self, channels: int, heads: int, kernel_size: int, mlp_ratio: int, mixing: str,
                 positions: int, pointer_maps: int = 0):
        super().__init__()
        self.norm1 = nn.LayerNorm(channels, elementwise_affine=False)
        self.norm2 = nn.LayerNorm(channels, elementwise_affine=False)
        self.local = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)
        attention = mixing == "attention"
        self.mix = AxialAttention(channels, heads, positions, pointer_maps) if attention else AxialPool(channels)
        self.mlp = nn.Sequential(
            nn.Linear(channels, mlp_ratio * channels),
            nn.GELU(),
            nn.Linear(mlp_ratio * channels, channels),
        )

    def forward(self, x: torch.Tensor, film: torch.Tensor, region: Region,
                pointer_mix: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, S, S, C]; film [B, 4, C] (PromptFiLM's gains and shifts); pointer_mix [B, K] or None
        -> [B, S, S, C]."""
        y = modulate(self.norm1(x), film[:, 0], film[:, 1]) * region.cells  # only the region is read
        local = self.local(y.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)  # [B, S, S, C]
        mixed = self.mix(y, region, pointer_mix) if pointer_mix is not None else self.mix(y, region)
        x = x + local + mixed
        y = modulate(self.norm2(x), film[:, 2], film[:, 3])
        return x + self.mlp(y)
