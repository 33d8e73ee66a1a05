"""Grid constants and grid validation: the one place that knows what a legal ARC grid is."""

from __future__ import annotations

import reprlib
from typing import Any

import numpy as np

MAX_SIZE = 30
NUM_COLORS = 10

# A bad cell is quoted in the error; a 50 MB string or a deeply nested list must not become the message.
_CELL_REPR = reprlib.Repr()
_CELL_REPR.maxstring = _CELL_REPR.maxother = _CELL_REPR.maxlong = 40
_CELL_REPR.maxlevel = 2


class TaskFormatError(ValueError):
    """A task file or grid breaks the ARC format; the message names file, task, pair and problem."""


def where(file: str | None = None, task_id: str | None = None, pair: str | None = None) -> str:
    """Human-readable location used as the prefix of every data error."""
    parts = []
    if file:
        parts.append(f"file {file}")
    if task_id is not None:
        parts.append(f"task {task_id or repr(task_id)}")  # a challenges file may use "" as an id
    if pair:
        parts.append(pair)
    return ", ".join(parts) if parts else "<input>"


def grid_key(grid: np.ndarray) -> tuple[tuple[int, ...], bytes]:
    """A hashable key equal for equal grids. Shape is part of it: a 2x3 and a 3x2 grid can share bytes."""
    g = np.ascontiguousarray(grid, dtype=np.int64)
    return g.shape, g.tobytes()


def to_grid(value: Any, location: str = "<input>") -> np.ndarray:
    """Validate a nested-list (or array) grid and return it as an int64 array [H, W].

    Raises TaskFormatError naming `location` for: non-list input, empty grid, ragged rows,
    non-integer cells, colours outside 0-9, and grids larger than 30x30.
    """
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, list):
        raise TaskFormatError(f"{location}: grid must be a list of rows, got {type(value).__name__}")
    if len(value) == 0:
        raise TaskFormatError(f"{location}: grid is empty (0 rows)")
    for r, row in enumerate(value):
        if not isinstance(row, list):
            raise TaskFormatError(f"{location}: row {r} must be a list, got {type(row).__name__}")
    widths = {len(row) for row in value}
    if len(widths) != 1:
        raise TaskFormatError(f"{location}: ragged rows (row lengths {sorted(widths)})")
    width = widths.pop()
    if width == 0:
        raise TaskFormatError(f"{location}: grid is empty (rows of length 0)")
    height = len(value)
    if height > MAX_SIZE or width > MAX_SIZE:
        raise TaskFormatError(f"{location}: grid is {height}x{width}, larger than {MAX_SIZE}x{MAX_SIZE}")
    for r, row in enumerate(value):
        for c, cell in enumerate(row):
            # bool is an int subclass in Python; a True cell is a format error, not colour 1.
            if isinstance(cell, bool) or not isinstance(cell, (int, np.integer)):
                raise TaskFormatError(f"{location}: cell ({r},{c}) is {_CELL_REPR.repr(cell)}, not an integer")
            if not 0 <= cell < NUM_COLORS:
                raise TaskFormatError(f"{location}: cell ({r},{c}) is {_CELL_REPR.repr(cell)}, outside colours 0-9")
    return np.asarray(value, dtype=np.int64)


def grid_to_list(grid: np.ndarray) -> list[list[int]]:
    """JSON-ready nested list of Python ints."""
    return [[int(x) for x in row] for row in np.asarray(grid)]
