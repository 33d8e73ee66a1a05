"""Accuracy metrics and the refiner's reward: size-aware cell accuracy, exact match, reward scaling.

ARC scores a grid only if its size is right too, so every metric here treats a wrong predicted
size as every target cell wrong. Grids are canvases [B, S, S] (S ≤ 30); sizes are (height, width) [B, 2].
"""

from __future__ import annotations

import torch


def _check(pred_grid: torch.Tensor, pred_size: torch.Tensor, target: torch.Tensor, target_size: torch.Tensor) -> None:
    if pred_grid.shape != target.shape or pred_grid.dim() != 3:
        raise ValueError(f"pred_grid {tuple(pred_grid.shape)} and target {tuple(target.shape)} must both be [B, H, W]")
    b = target.shape[0]
    if tuple(pred_size.shape) != (b, 2) or tuple(target_size.shape) != (b, 2):
        raise ValueError(f"pred_size {tuple(pred_size.shape)} and target_size {tuple(target_size.shape)} "
                         f"must both be [B, 2] with B = {b}")


def _compare(pred_grid: torch.Tensor, pred_size: torch.Tensor, target: torch.Tensor,
             target_size: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(correct target cells [B], target cell count [B], size matches [B])."""
    _check(pred_grid, pred_size, target, target_size)
    _, h, w = target.shape
    rows = torch.arange(h, device=target.device)[None, :, None] < target_size[:, 0, None, None]  # [B, H, 1]
    cols = torch.arange(w, device=target.device)[None, None, :] < target_size[:, 1, None, None]  # [B, 1, W]
    region = rows & cols  # [B, H, W]
    correct = ((pred_grid == target) & region).flatten(1).sum(1)
    size_ok = (pred_size == target_size).all(dim=1)
    return correct, region.flatten(1).sum(1), size_ok


def cell_accuracy(pred_grid: torch.Tensor, pred_size: torch.Tensor, target: torch.Tensor,
                  target_size: torch.Tensor) -> torch.Tensor:
    """Fraction of target cells predicted right [B] (float32); 0 for a sample whose size is wrong."""
    correct, count, size_ok = _compare(pred_grid, pred_size, target, target_size)
    return torch.where(size_ok, correct.float() / count.clamp(min=1).float(), 0.0)


def exact_match(pred_grid: torch.Tensor, pred_size: torch.Tensor, target: torch.Tensor,
                target_size: torch.Tensor) -> torch.Tensor:
    """Whole grid right, size included [B] bool: what ARC scores."""
    correct, count, size_ok = _compare(pred_grid, pred_size, target, target_size)
    return size_ok & (correct == count)


def refinement_reward(acc_before: torch.Tensor, acc_after: torch.Tensor, scale: float = 5.0) -> torch.Tensor:
    """Reward [B] = scale × (acc_after − acc_before): the refiner's gain in cell accuracy, scaled."""
    if acc_before.shape != acc_after.shape:
        raise ValueError(f"acc_before {tuple(acc_before.shape)} and acc_after {tuple(acc_after.shape)} differ")
    return scale * (acc_after.float() - acc_before.float())
