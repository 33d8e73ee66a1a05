"""Shared search-test helpers: grids written as text."""

import numpy as np
import pytest


def text_grid(text: str) -> np.ndarray:
    """Rows split by '/', one character a cell, 'M' the mark value 10, 'H' the hole mark 11."""
    rows = [[{"M": 10, "H": 11}.get(ch) or int(ch) for ch in row] for row in text.split("/")]
    return np.array(rows, dtype=np.uint8)


@pytest.fixture
def G():
    return text_grid
