"""PairComparer: each demonstration's output compared with its input cell by cell, as a second part of the prompt.

The LLM reads a pair as one token sequence, so relating output cell (r, c) to the input cell that a flip, a turn
or a fall sends there is a long-range match it has not learned: no encoder variant tried in session 13
(trained, frozen, InfoNCE, twins, grid coordinates) separated D8 elements or gravity directions, while a
perfect prompt did help the agent on both (BENCHMARKS.md). This module lays a pair's input and output on one
canvas and gives a small conv net, per cell, what such rules are made of: both colours, their colour
transition, whether the output equals each D8 image of the input there, and the cell's relative position; the
same comparisons pooled per pair, with each colour's shift in position, join the net's pooled output (a first
version without them learned no D8 element in 600 steps). Its pooled pair vectors, averaged over a task's
pairs like the LLM's, are projected and added to the prompt.
The projection starts at PyTorch's default init, not at zero: from zero, at the encoder's learning rate, the
comparer's share of the prompt was still 1/60 of the LLM's after 250 steps, though its pair vectors told the
D8 elements apart (BENCHMARKS.md, session 14).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from arc_efe.data.augment import Augmentation
from arc_efe.data.grid import NUM_COLORS
from arc_efe.data.task import Pair
from arc_efe.encoder.pooling import mean_per_task
from arc_efe.encoder.standardise import Standardise

__all__ = ["PairComparer", "pair_features", "FEATURES", "SCALARS"]

D8 = [Augmentation(d) for d in range(8)]
# Per cell: input colour (10) and mask, output colour (10) and mask, colour transition (100), output equal to
# the input's D8 image k (8), row and column relative to the pair's canvas (2).
FEATURES = 2 * (NUM_COLORS + 1) + NUM_COLORS * NUM_COLORS + len(D8) + 2
# Per pair, the same comparisons pooled by hand, so that the conv net need not learn to carry them: the share of
# output cells equal to each D8 image (8), the colour-transition matrix over cells in both grids (100), each
# colour's share of the input and of the output (20) and the shift of its centroid in relative coordinates (20),
# input and output height and width / 30 and log2 of the height and width ratios / 5 (6).
SCALARS = len(D8) + NUM_COLORS * NUM_COLORS + 4 * NUM_COLORS + 6


def _placed(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    """grid at the top left of a height x width canvas of -1, cropped to it (a turned input can be taller)."""
    canvas = np.full((height, width), -1, dtype=np.int64)
    grid = grid[:height, :width]
    canvas[: grid.shape[0], : grid.shape[1]] = grid
    return canvas


def _one_hot(grid: np.ndarray, classes: int) -> np.ndarray:
    """[classes, H, W] float32 one-hot of grid; cells of -1 are all zero."""
    return (grid[None] == np.arange(classes)[:, None, None]).astype(np.float32)


def pair_features(pair: Pair, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features [FEATURES, height, width], mask [height, width] of cells inside the input or the output,
    scalars [SCALARS]) of one demonstration on a canvas at least as large as both its grids."""
    if pair.output is None:
        raise ValueError("PairComparer needs demonstration pairs with outputs")
    x, y = _placed(pair.input, height, width), _placed(pair.output, height, width)
    both = (x >= 0) & (y >= 0)
    transition = np.where(both, x * NUM_COLORS + y, -1)
    equal = np.stack([(_placed(aug.apply(pair.input), height, width) == y) & (y >= 0) for aug in D8])
    transitions = _one_hot(transition, NUM_COLORS * NUM_COLORS)
    pair_h = max(pair.input.shape[0], pair.output.shape[0])
    pair_w = max(pair.input.shape[1], pair.output.shape[1])
    rows = np.arange(height, dtype=np.float32)[:, None] / max(pair_h - 1, 1) * np.ones((1, width), np.float32)
    cols = np.arange(width, dtype=np.float32)[None, :] / max(pair_w - 1, 1) * np.ones((height, 1), np.float32)
    mask = (x >= 0) | (y >= 0)
    features = np.concatenate([
        _one_hot(x, NUM_COLORS), (x >= 0)[None], _one_hot(y, NUM_COLORS), (y >= 0)[None],
        transitions, equal, (rows * mask)[None], (cols * mask)[None],
    ]).astype(np.float32)
    return features, mask, _pair_scalars(pair, equal.sum(axis=(1, 2)), transitions.sum(axis=(1, 2)))


def _centroids(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(share of cells [10], centroid [10, 2] in coordinates relative to the grid, 0 for an absent colour)."""
    onehot = _one_hot(grid, NUM_COLORS)  # [10, H, W]
    counts = onehot.sum(axis=(1, 2))
    rows = np.arange(grid.shape[0]) / max(grid.shape[0] - 1, 1)
    cols = np.arange(grid.shape[1]) / max(grid.shape[1] - 1, 1)
    sums = np.stack([(onehot.sum(axis=2) * rows).sum(axis=1), (onehot.sum(axis=1) * cols).sum(axis=1)], 1)
    return counts / grid.size, sums / np.maximum(counts, 1)[:, None]


def _pair_scalars(pair: Pair, equal: np.ndarray, transitions: np.ndarray) -> np.ndarray:
    """[SCALARS] the pair's pooled comparisons (see SCALARS), from the per-cell ones' counts: output cells equal
    to each D8 image [8] and cells per colour transition [100]."""
    (hi, wi), (ho, wo) = pair.input.shape, pair.output.shape
    share_in, centre_in = _centroids(pair.input)
    share_out, centre_out = _centroids(pair.output)
    present = ((share_in > 0) & (share_out > 0))[:, None]
    return np.concatenate([
        equal / (ho * wo), transitions / max(transitions.sum(), 1), share_in, share_out,
        ((centre_out - centre_in) * present).ravel(),
        [hi / 30, wi / 30, ho / 30, wo / 30, np.log2(ho / hi) / 5, np.log2(wo / wi) / 5],
    ]).astype(np.float32)


class PairComparer(nn.Module):
    """Per-cell features -> 1x1 conv -> two 3x3 convs -> masked mean and max per pair -> MLP -> pair vector;
    a task's pair vectors are averaged and `out` maps them to the prompt's width.

    With `prototypes` K > 0, `out` gives K logits instead and the prompt is their softmax's mix of K learned
    rows (`table`, initialised like the oracle's): a prompt shaped like RuleOracle's, one row per rule once the
    softmax is sharp, but chosen from the demos. (Why: the agent used the oracle's rows but no continuous
    comparer prompt that separated the same rules as well, BENCHMARKS.md session 14.)

    With `standardise`, the part is standardised per dimension over the tasks (`Standardise`). Why: the agent
    read a comparer prompt only once its differences between tasks were of unit scale per dimension; unscaled
    they were 1/80 of the oracle's (spread 0.19 against 13.7) and went unread, a LayerNorm per prompt did not
    widen them (session 14)."""

    def __init__(self, channels: int, prompt_dim: int, prototypes: int = 0, standardise: bool = False) -> None:
        super().__init__()
        self.cells = nn.ModuleList([
            nn.Conv2d(FEATURES, channels, 1),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.Conv2d(channels, channels, 3, padding=1),
        ])
        self.pair = nn.Sequential(nn.Linear(2 * channels + SCALARS, channels), nn.ReLU())
        self.out = nn.Linear(channels, prototypes or prompt_dim)
        self.table = nn.Parameter(torch.randn(prototypes, prompt_dim)) if prototypes else None
        self.standardise = Standardise(prompt_dim) if standardise else None

    def pair_vectors(self, pairs: Sequence[Pair]) -> Tensor:
        """[N, channels] for N pairs, batched on one canvas as large as the largest pair."""
        device = self.out.weight.device
        height = max(max(p.input.shape[0], p.output.shape[0]) for p in pairs)
        width = max(max(p.input.shape[1], p.output.shape[1]) for p in pairs)
        built = [pair_features(p, height, width) for p in pairs]
        features = torch.from_numpy(np.stack([b[0] for b in built])).to(device)  # [N, F, H, W]
        mask = torch.from_numpy(np.stack([b[1] for b in built])).to(device).unsqueeze(1)  # [N, 1, H, W]
        scalars = torch.from_numpy(np.stack([b[2] for b in built])).to(device)  # [N, SCALARS]
        cells = features
        for conv in self.cells:
            # Zero outside the pair after every layer, so a pair reads the same whatever canvas it shares
            # (outside it, as at the canvas edge, a 3x3 conv sees zeros); ReLU outputs are >= 0, so the
            # zeros do not change the max either.
            cells = torch.relu(conv(cells)) * mask
        mean = cells.sum(dim=(2, 3)) / mask.sum(dim=(2, 3))
        return self.pair(torch.cat([mean, cells.amax(dim=(2, 3)), scalars], dim=1))

    def forward(self, contexts: list[list[Pair]]) -> Tensor:
        """[B, prompt_dim]: the comparer's part of the prompt for B tasks given as their demonstration pairs."""
        pairs = [pair for ctx in contexts for pair in ctx]
        out = self.out(mean_per_task(self.pair_vectors(pairs), contexts))  # [B, prototypes or prompt_dim]
        out = out if self.table is None else torch.softmax(out, dim=-1) @ self.table
        return out if self.standardise is None else self.standardise(out)
