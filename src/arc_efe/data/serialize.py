"""Grid serialisation for the task encoder: the built-in token vocabulary and the text form.

Token form (built-in encoder, vocabulary of `VOCAB_SIZE` ids): colour c is id c (0-9), and
    pair  = BOS INPUT row... OUTPUT row... EOS      each row = its colour ids then ROW_END
    task  = BOS <pair body> PAIR_SEP <pair body> ... EOS   (a pair body is a pair without BOS/EOS)
A pair with no output (a query) omits the OUTPUT section.

Text form (pretrained tokenizers): digits and newlines, one line per row,
    "input:\n012\n340\noutput:\n5\n"

Both forms are built from *sections* — (role, grid) with role "input" or "output" — so the encoder can
serialise an input or output grid, or a block of its rows, on its own when a whole pair is too long.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from arc_efe.data.grid import MAX_SIZE, NUM_COLORS
from arc_efe.data.task import Pair

ROW_END = NUM_COLORS
INPUT = NUM_COLORS + 1
OUTPUT = NUM_COLORS + 2
PAIR_SEP = NUM_COLORS + 3
PAD = NUM_COLORS + 4
BOS = NUM_COLORS + 5
EOS = NUM_COLORS + 6
VOCAB_SIZE = NUM_COLORS + 7

ROLES = ("input", "output")
_MARKER = {"input": INPUT, "output": OUTPUT}

Section = tuple[str, np.ndarray]


def pair_sections(pair: Pair) -> list[Section]:
    """The pair as sections: its input grid, then its output grid when known."""
    sections: list[Section] = [("input", np.asarray(pair.input))]
    if pair.output is not None:
        sections.append(("output", np.asarray(pair.output)))
    return sections


def _check_role(role: str) -> None:
    if role not in _MARKER:
        raise ValueError(f"section role must be one of {ROLES}, got {role!r}")


def _rows_to_tokens(grid: np.ndarray) -> np.ndarray:
    grid = np.asarray(grid, dtype=np.int64)
    row_ends = np.full((grid.shape[0], 1), ROW_END, dtype=np.int64)
    return np.concatenate([grid, row_ends], axis=1).reshape(-1)  # [H * (W + 1)]


def sections_to_tokens(sections: Sequence[Section]) -> list[int]:
    """BOS, then per section its marker and rows, then EOS."""
    parts = [np.array([BOS], dtype=np.int64)]
    for role, grid in sections:
        _check_role(role)
        parts.append(np.array([_MARKER[role]], dtype=np.int64))
        parts.append(_rows_to_tokens(grid))
    parts.append(np.array([EOS], dtype=np.int64))
    return np.concatenate(parts).tolist()


def sections_to_text(sections: Sequence[Section]) -> str:
    """Per section a "role:" line, then one line of digits per row."""
    lines = []
    for role, grid in sections:
        _check_role(role)
        lines.append(f"{role}:")
        lines.extend("".join(str(int(c)) for c in row) for row in np.asarray(grid))
    return "\n".join(lines) + "\n"


def pair_to_tokens(pair: Pair) -> list[int]:
    return sections_to_tokens(pair_sections(pair))


def pair_to_text(pair: Pair) -> str:
    return sections_to_text(pair_sections(pair))


def pairs_to_tokens(pairs: Sequence[Pair]) -> list[int]:
    """A whole task's pairs in one sequence, pair bodies separated by PAIR_SEP."""
    if not pairs:
        raise ValueError("cannot serialise an empty list of pairs")
    tokens = [BOS]
    for i, pair in enumerate(pairs):
        if i:
            tokens.append(PAIR_SEP)
        tokens.extend(pair_to_tokens(pair)[1:-1])
    tokens.append(EOS)
    return tokens


# Coordinate index of a token that is not a grid cell or row end (markers, BOS, EOS, PAD, PAIR_SEP).
NO_COORDINATE = 0
COORDINATES = MAX_SIZE + 2  # 0 = none, 1 + k = coordinate k for k in 0..MAX_SIZE (a row end sits at column W)


def token_coordinates(ids: Sequence[int]) -> np.ndarray:
    """Per token of a built-in token sequence, [L, 4] coordinate indices (row, column, rows from the bottom,
    columns from the right), each 1 + the coordinate, or NO_COORDINATE off the grids.

    Worked out from the ids alone, so it serves a whole pair or any piece of one: a grid's rows run from its
    marker (or the sequence start, for a block of rows) to the next marker, PAIR_SEP or EOS. Coordinates
    measured from the far edges let attention pair a cell with its mirror image, which plain row and column
    indices cannot do without knowing the grid's size."""
    ids = np.asarray(ids, dtype=np.int64)
    out = np.zeros((len(ids), 4), dtype=np.int64)
    is_cell = ids < NUM_COLORS
    is_end = ids == ROW_END
    start = 0
    for stop in [*np.flatnonzero(~(is_cell | is_end)), len(ids)]:
        block = slice(start, stop)
        ends = np.flatnonzero(is_end[block]) + start
        if len(ends):
            rows = np.cumsum(is_end[block]) - is_end[block]  # row index of each token
            starts = np.concatenate([[start], ends[:-1] + 1])
            cols = np.arange(start, stop) - starts[rows]
            height, width = len(ends), int(ends[0] - start)
            out[block, 0], out[block, 1] = rows + 1, cols + 1
            out[block, 2] = np.clip(height - 1 - rows, 0, MAX_SIZE) + 1
            out[block, 3] = np.clip(width - cols, 0, MAX_SIZE)  # cell at col c -> W - c (1..W); row end -> 0
        start = stop + 1
    return out
