import numpy as np
import pytest

from arc_efe.data import TaskFormatError, grid_to_list, to_grid


def test_to_grid_accepts_valid_and_round_trips():
    g = to_grid([[0, 1, 2], [3, 4, 9]])
    assert g.dtype == np.int64 and g.shape == (2, 3)
    assert grid_to_list(g) == [[0, 1, 2], [3, 4, 9]]


@pytest.mark.parametrize(
    "value, fragment",
    [
        ([], "empty"),
        ([[]], "empty"),
        ([[1, 2], [3]], "ragged"),
        ([[1, 10]], "outside colours"),
        ([[1, -1]], "outside colours"),
        ([[1, 1.5]], "not an integer"),
        ([[1, "2"]], "not an integer"),
        ([[True]], "not an integer"),
        ([[0] * 31], "larger than 30x30"),
        ([[0]] * 31, "larger than 30x30"),
        ("123", "list of rows"),
        ([1, 2], "row 0 must be a list"),
    ],
)
def test_to_grid_rejects_with_location(value, fragment):
    with pytest.raises(TaskFormatError) as err:
        to_grid(value, "file x.json, task abc, train pair 2 input")
    assert fragment in str(err.value)
    assert "task abc" in str(err.value) and "train pair 2" in str(err.value)


@pytest.mark.parametrize("cell", [7 * 10**1000, "x" * 10_000, list(range(10_000)), [[[[[[1]]]]]]])
def test_a_bad_cell_is_quoted_briefly(cell):
    with pytest.raises(TaskFormatError) as err:
        to_grid([[0, cell]], "task abc, train pair 0 input")
    assert str(err.value).startswith("task abc, train pair 0 input: cell (0,1) is ") and len(str(err.value)) < 150
