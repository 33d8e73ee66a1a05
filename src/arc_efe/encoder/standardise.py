"""Standardise: a prompt part standardised per dimension over a batch of tasks.

The agent read a prompt part only once its differences between tasks were of unit scale per dimension
(BENCHMARKS.md session 14): unscaled, a trained part's spread was ~1/80 of the oracle's and went unread.
"""

from __future__ import annotations

from torch import Tensor, nn


class Standardise(nn.BatchNorm1d):
    """BatchNorm1d without affine weights over [B, D] task rows; running statistics when solving.

    A one-task batch in training (a demo-half batch can be one task) has no spread to standardise, so it
    uses the running statistics too, as solving does."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim, affine=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.training and x.shape[0] < 2:
            return nn.functional.batch_norm(x, self.running_mean, self.running_var, training=False, eps=self.eps)
        return super().forward(x)
