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

from arc_efe.data.grid import NUM_COLORS, to_grid
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


def _parse_grid(tokens: Sequence[int], start: int, stop: int, what: str) -> tuple[np.ndarray, int]:
    """Read rows from `start` up to the next non-row token (or `stop`); return the grid and its end."""
    rows: list[list[int]] = []
    row: list[int] = []
    i = start
    while i < stop and tokens[i] <= ROW_END:
        if tokens[i] == ROW_END:
            rows.append(row)
            row = []
        else:
            row.append(int(tokens[i]))
        i += 1
    if row:
        raise ValueError(f"{what}: row {len(rows)} has no ROW_END before token {i}")
    return to_grid(rows, f"token sequence, {what}"), i


def _parse_pair_body(tokens: Sequence[int], start: int, stop: int, where: str) -> Pair:
    """Parse INPUT rows [OUTPUT rows] occupying exactly tokens[start:stop]."""
    if start >= stop or tokens[start] != INPUT:
        raise ValueError(f"{where}: expected INPUT ({INPUT}) at token {start}")
    grid_in, i = _parse_grid(tokens, start + 1, stop, f"{where} input")
    grid_out = None
    if i < stop:
        if tokens[i] != OUTPUT:
            raise ValueError(f"{where}: unexpected token {tokens[i]} at {i}, expected OUTPUT ({OUTPUT})")
        grid_out, i = _parse_grid(tokens, i + 1, stop, f"{where} output")
    if i != stop:
        raise ValueError(f"{where}: unexpected token {tokens[i]} at {i}")
    return Pair(grid_in, grid_out)


def _check_frame(tokens: Sequence[int]) -> list[int]:
    tokens = [int(t) for t in tokens]
    bad = [t for t in tokens if not 0 <= t < VOCAB_SIZE]
    if bad:
        raise ValueError(f"token {bad[0]} is outside the vocabulary 0..{VOCAB_SIZE - 1}")
    if len(tokens) < 2 or tokens[0] != BOS or tokens[-1] != EOS:
        raise ValueError("a token sequence must start with BOS and end with EOS")
    return tokens


def tokens_to_pair(tokens: Sequence[int]) -> Pair:
    """Exact inverse of `pair_to_tokens`; ValueError naming the position on a malformed sequence."""
    tokens = _check_frame(tokens)
    return _parse_pair_body(tokens, 1, len(tokens) - 1, "pair")


def tokens_to_pairs(tokens: Sequence[int]) -> list[Pair]:
    """Exact inverse of `pairs_to_tokens`."""
    tokens = _check_frame(tokens)
    seps = [i for i, t in enumerate(tokens) if t == PAIR_SEP]
    bounds = [0, *seps, len(tokens) - 1]
    return [_parse_pair_body(tokens, a + 1, b, f"pair {k}") for k, (a, b) in enumerate(zip(bounds, bounds[1:]))]


def text_to_pair(text: str) -> Pair:
    """Exact inverse of `pair_to_text`; ValueError naming the line on malformed text."""
    if not text.endswith("\n"):
        raise ValueError("pair text must end with a newline")
    lines = text[:-1].split("\n")
    grids: dict[str, list[list[int]]] = {}
    role = None
    for n, line in enumerate(lines, start=1):
        if line.endswith(":"):
            role = line[:-1]
            if len(grids) == len(ROLES):
                raise ValueError(f"line {n}: extra header {line!r} after 'input:' and 'output:'")
            if role != ROLES[len(grids)]:
                raise ValueError(f"line {n}: expected '{ROLES[len(grids)]}:' header, got {line!r}")
            grids[role] = []
        elif role is None:
            raise ValueError(f"line {n}: grid row before the 'input:' header")
        elif not line or not line.isdigit() or not line.isascii():
            raise ValueError(f"line {n}: a row must be digits 0-9, got {line!r}")
        else:
            grids[role].append([int(c) for c in line])
    if "input" not in grids:
        raise ValueError("pair text has no 'input:' section")
    grid_in = to_grid(grids["input"], "pair text input")
    grid_out = to_grid(grids["output"], "pair text output") if "output" in grids else None
    return Pair(grid_in, grid_out)
