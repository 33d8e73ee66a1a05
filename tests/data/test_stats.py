import numpy as np
import pytest

from arc_efe.data.stats import STATS_DIM, STATS_NAMES, task_statistics
from arc_efe.data.task import Pair


def _pairs(seed: int, n: int) -> list[Pair]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        h, w = rng.integers(1, 31, size=2)
        oh, ow = (h, w) if rng.random() < 0.5 else rng.integers(1, 31, size=2)
        out.append(Pair(rng.integers(0, 10, (h, w)), rng.integers(0, 10, (oh, ow))))
    return out


def _f(vec: np.ndarray, name: str) -> float:
    return float(vec[STATS_NAMES.index(name)])


def test_shape_dtype_finite_and_deterministic():
    pairs = _pairs(0, 4)
    s = task_statistics(pairs)
    assert s.shape == (STATS_DIM,) and s.dtype == np.float32
    assert np.all(np.isfinite(s))
    np.testing.assert_array_equal(s, task_statistics(pairs))


def test_order_free_over_pairs_exactly():
    pairs = _pairs(1, 7)
    base = task_statistics(pairs)
    rng = np.random.default_rng(2)
    for _ in range(5):
        perm = rng.permutation(len(pairs))
        np.testing.assert_array_equal(task_statistics([pairs[i] for i in perm]), base)


def test_known_values_on_hand_made_pairs():
    # Pair 1: 2x3 -> 2x3, one cell changed, colour 3 added. Pair 2: 2x2 -> 4x4 (scaled), colour 2 removed.
    p1 = Pair(np.array([[0, 1, 1], [0, 0, 0]]), np.array([[0, 1, 3], [0, 0, 0]]))
    p2 = Pair(np.array([[1, 2], [0, 0]]), np.ones((4, 4), dtype=np.int64))
    s = task_statistics([p1, p2])
    assert _f(s, "input_height") == pytest.approx(2 / 30)
    assert _f(s, "output_height") == pytest.approx(3 / 30)
    assert _f(s, "log_height_ratio") == pytest.approx(0.5 / np.log2(30))
    assert _f(s, "same_size_fraction") == pytest.approx(0.5)
    assert _f(s, "changed_cells") == pytest.approx(1 / 6)  # mean over same-size pairs only
    assert _f(s, "all_same_size") == 0.0
    assert _f(s, "constant_output_size") == 0.0
    assert _f(s, "num_pairs") == pytest.approx(0.2)
    assert _f(s, "color_added_3") == pytest.approx(0.5)
    assert _f(s, "color_removed_2") == pytest.approx(0.5)
    assert _f(s, "color_removed_0") == pytest.approx(0.5)
    assert _f(s, "input_hist_0") == pytest.approx((4 / 6 + 2 / 4) / 2)
    hist = s[[STATS_NAMES.index(f"output_hist_{c}") for c in range(10)]]
    assert hist.sum() == pytest.approx(1.0)


def test_single_pair_and_same_size_flags():
    p = Pair(np.array([[1, 2]]), np.array([[2, 1]]))
    s = task_statistics([p])
    assert np.all(np.isfinite(s))
    assert _f(s, "all_same_size") == 1.0 and _f(s, "constant_size_ratio") == 1.0
    assert _f(s, "changed_cells") == 1.0


def test_rejects_empty_and_missing_output():
    with pytest.raises(ValueError, match="at least one"):
        task_statistics([])
    one = np.zeros((1, 1), dtype=np.int64)
    with pytest.raises(ValueError, match="pair 1 has no output"):
        task_statistics([Pair(one, one), Pair(one)])
