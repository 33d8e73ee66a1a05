"""The mean of per-pair vectors over each task's pairs: how both parts of the prompt stay order-free."""

from __future__ import annotations

import torch
from torch import Tensor

from arc_efe.data.task import Pair

__all__ = ["mean_per_task"]


def mean_per_task(vectors: Tensor, contexts: list[list[Pair]]) -> Tensor:
    """[B, D] means of `vectors` [N, D], whose rows are the pairs of `contexts` in order (N = all their pairs)."""
    task_of_pair = torch.tensor([t for t, ctx in enumerate(contexts) for _ in ctx], device=vectors.device)
    sums = vectors.new_zeros(len(contexts), vectors.shape[1]).index_add_(0, task_of_pair, vectors)
    sizes = torch.tensor([len(ctx) for ctx in contexts], dtype=vectors.dtype, device=vectors.device)
    return sums / sizes.unsqueeze(1)
