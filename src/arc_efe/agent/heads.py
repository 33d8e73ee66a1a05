"""Read-out heads applied after every planning step: per-cell colour and confidence, and from the
masked-pooled state the output height, width and the halting logit."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from arc_efe.data.grid import MAX_SIZE, NUM_COLORS


def masked_pool(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean and max of x [B, H, W, C] over cells where mask [B, H, W] is true -> [B, 2C].

    Only valid cells count, so the pooled summary does not change with the canvas padding; an empty
    mask pools to zeros instead of NaN/-inf.
    """
    m = mask.unsqueeze(-1)  # [B, H, W, 1]
    count = m.sum(dim=(1, 2)).clamp(min=1)  # [B, 1]
    mean = (x * m).sum(dim=(1, 2)) / count  # [B, C]
    maxed = x.masked_fill(~m, float("-inf")).amax(dim=(1, 2))  # [B, C]
    maxed = torch.where(torch.isfinite(maxed), maxed, torch.zeros_like(maxed))
    return torch.cat([mean, maxed], dim=-1)


class Readout(NamedTuple):
    """What the heads read from one planning step's state."""

    cell_logits: torch.Tensor  # [B, S, S, 10]
    confidence_logits: torch.Tensor  # [B, S, S]
    height_logits: torch.Tensor  # [B, 30] whatever the canvas
    width_logits: torch.Tensor  # [B, 30]
    halt_logits: torch.Tensor  # [B]


class Heads(nn.Module):
    """One shared norm, then per-cell colour + confidence logits and pooled height/width/halt logits."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.cells = nn.Linear(channels, NUM_COLORS + 1)  # 10 colours + 1 confidence
        self.pooled = nn.Sequential(
            nn.Linear(2 * channels, channels),
            nn.GELU(),
            nn.Linear(channels, 2 * MAX_SIZE + 1),  # height, width, halt
        )

    def beliefs(self, h: torch.Tensor) -> torch.Tensor:
        """Colour logits only (the backward pass needs no size): h [B, H, W, C] -> [B, H, W, 10]."""
        return self.cells(self.norm(h))[..., :NUM_COLORS]

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> Readout:
        """h [B, H, W, C]; mask [B, H, W] marks the cells the size/halt summary pools over."""
        normed = self.norm(h)
        colors, confidence = self.cells(normed).split([NUM_COLORS, 1], dim=-1)
        pooled = self.pooled(masked_pool(normed, mask))  # [B, 61]
        height, width, halt = pooled.split([MAX_SIZE, MAX_SIZE, 1], dim=-1)
        return Readout(colors, confidence.squeeze(-1), height, width, halt.squeeze(-1))
