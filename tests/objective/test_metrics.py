import pytest
import torch

from arc_efe.objective.metrics import cell_accuracy, exact_match, refinement_reward


def canvas(rows: list[list[int]], fill: int = 0) -> torch.Tensor:
    grid = torch.full((30, 30), fill, dtype=torch.long)
    grid[: len(rows), : len(rows[0])] = torch.tensor(rows)
    return grid


def batch(*grids: torch.Tensor) -> torch.Tensor:
    return torch.stack(grids)


TARGET = canvas([[1, 2, 3], [4, 5, 6]])
SIZE = torch.tensor([[2, 3]])


def test_partial_accuracy_on_a_hand_example():
    pred = canvas([[1, 2, 0], [4, 0, 6]], fill=7)  # 4 of 6 right; junk outside the target is ignored
    assert cell_accuracy(batch(pred), SIZE, batch(TARGET), SIZE).tolist() == pytest.approx([4 / 6])
    assert exact_match(batch(pred), SIZE, batch(TARGET), SIZE).tolist() == [False]


def test_wrong_size_scores_zero_even_with_right_cells():
    wrong_sizes = torch.tensor([[2, 4], [3, 3], [1, 3]])
    n = len(wrong_sizes)
    acc = cell_accuracy(batch(*[TARGET] * n), wrong_sizes, batch(*[TARGET] * n), SIZE.expand(n, 2))
    assert acc.tolist() == [0.0, 0.0, 0.0]
    assert not exact_match(batch(*[TARGET] * n), wrong_sizes, batch(*[TARGET] * n), SIZE.expand(n, 2)).any()


def test_exact_match_needs_every_cell_and_the_size():
    pred = canvas([[1, 2, 3], [4, 5, 6]], fill=9)
    assert exact_match(batch(pred), SIZE, batch(TARGET), SIZE).tolist() == [True]
    assert cell_accuracy(batch(pred), SIZE, batch(TARGET), SIZE).tolist() == [1.0]


def test_mixed_batch_is_per_sample():
    other_target = canvas([[5]])
    pred = batch(TARGET, canvas([[4]]))
    targets = batch(TARGET, other_target)
    sizes = torch.tensor([[2, 3], [1, 1]])
    assert cell_accuracy(pred, sizes, targets, sizes).tolist() == [1.0, 0.0]


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="pred_grid"):
        cell_accuracy(batch(TARGET)[:, :29], SIZE, batch(TARGET), SIZE)
    with pytest.raises(ValueError, match="pred_size"):
        exact_match(batch(TARGET), SIZE[:, :1], batch(TARGET), SIZE)


def test_refinement_reward_is_scaled_difference():
    before, after = torch.tensor([0.2, 0.5, 1.0]), torch.tensor([0.6, 0.5, 0.0])
    assert refinement_reward(before, after).tolist() == pytest.approx([2.0, 0.0, -5.0])
    assert refinement_reward(before, after, scale=1.0).tolist() == pytest.approx([0.4, 0.0, -1.0])
    with pytest.raises(ValueError):
        refinement_reward(before, after[:2])
