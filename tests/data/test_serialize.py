import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from arc_efe.data import Pair
from arc_efe.data.serialize import (
    BOS,
    EOS,
    INPUT,
    OUTPUT,
    PAD,
    PAIR_SEP,
    ROW_END,
    VOCAB_SIZE,
    pair_to_text,
    pair_to_tokens,
    pairs_to_tokens,
    sections_to_tokens,
    token_coordinates,
)


@st.composite
def grids(draw):
    h = draw(st.integers(1, 30))
    w = draw(st.integers(1, 30))
    cells = draw(st.lists(st.integers(0, 9), min_size=h * w, max_size=h * w))
    return np.array(cells, dtype=np.int64).reshape(h, w)


@st.composite
def pairs(draw):
    output = draw(st.one_of(st.none(), grids()))
    return Pair(draw(grids()), output)


def assert_same_pair(a: Pair, b: Pair) -> None:
    np.testing.assert_array_equal(a.input, b.input)
    assert (a.output is None) == (b.output is None)
    if a.output is not None:
        assert a.output.shape == b.output.shape
        np.testing.assert_array_equal(a.output, b.output)


def decode_body(tokens: list[int]) -> Pair:
    """Test-side inverse of one pair body (INPUT rows [OUTPUT rows]): proves the tokens lose nothing."""
    grids, rows, row = [], [], []
    for t in tokens + [INPUT]:
        if t in (INPUT, OUTPUT):
            if rows:
                grids.append(np.array(rows, dtype=np.int64))
            rows = []
        elif t == ROW_END:
            rows.append(row)
            row = []
        else:
            row.append(t)
    return Pair(grids[0], grids[1] if len(grids) > 1 else None)


def decode_text(text: str) -> Pair:
    """Test-side inverse of `pair_to_text`."""
    blocks = [b for b in text.replace("output:", "input:").split("input:\n") if b]
    grids = [np.array([[int(c) for c in line] for line in b.splitlines()], dtype=np.int64) for b in blocks]
    return Pair(grids[0], grids[1] if len(grids) > 1 else None)


def test_vocabulary_ids_are_distinct_and_dense():
    specials = [ROW_END, INPUT, OUTPUT, PAIR_SEP, PAD, BOS, EOS]
    assert sorted(list(range(10)) + specials) == list(range(VOCAB_SIZE))


def test_pair_tokens_layout():
    pair = Pair(np.array([[1, 2]]), np.array([[3], [4]]))
    assert pair_to_tokens(pair) == [BOS, INPUT, 1, 2, ROW_END, OUTPUT, 3, ROW_END, 4, ROW_END, EOS]
    assert pair_to_text(pair) == "input:\n12\noutput:\n3\n4\n"


@settings(max_examples=60, deadline=None)
@given(pairs())
def test_tokens_round_trip(pair):
    tokens = pair_to_tokens(pair)
    assert tokens[0] == BOS and tokens[-1] == EOS
    assert_same_pair(decode_body(tokens[1:-1]), pair)


@settings(max_examples=60, deadline=None)
@given(pairs())
def test_text_round_trip(pair):
    text = pair_to_text(pair)
    assert set(text) <= set("0123456789\ninputo:")
    assert_same_pair(decode_text(text), pair)


@settings(max_examples=30, deadline=None)
@given(st.lists(pairs(), min_size=1, max_size=4))
def test_task_tokens_round_trip(task_pairs):
    tokens = pairs_to_tokens(task_pairs)
    assert tokens[0] == BOS and tokens[-1] == EOS
    bodies, body = [], []
    for t in tokens[1:-1] + [PAIR_SEP]:
        if t == PAIR_SEP:
            bodies.append(body)
            body = []
        else:
            body.append(t)
    back = [decode_body(b) for b in bodies]
    assert len(back) == len(task_pairs)
    for a, b in zip(back, task_pairs):
        assert_same_pair(a, b)


def test_token_coordinates_give_each_cell_its_position_from_both_edges():
    rng = np.random.default_rng(0)
    grids = [rng.integers(0, 10, (3, 4)), rng.integers(0, 10, (2, 1))]
    ids = sections_to_tokens([("input", grids[0]), ("output", grids[1])])
    coords = token_coordinates(ids)
    assert coords.shape == (len(ids), 4)
    assert (coords[[0, 1, -1]] == 0).all()  # BOS, INPUT marker, EOS: no coordinate
    for start, grid in ((2, grids[0]), (2 + 3 * 5 + 1, grids[1])):
        h, w = grid.shape
        for r in range(h):
            for c in range(w + 1):  # c == w: the row's ROW_END
                row = coords[start + r * (w + 1) + c]
                assert ids[start + r * (w + 1) + c] == (grid[r, c] if c < w else ROW_END)
                assert tuple(row[:3]) == (r + 1, c + 1, h - r)
                assert row[3] == (w - c if c < w else 0)
    # A block of rows on its own (a split pair's piece) counts from its own first row.
    piece = sections_to_tokens([("input", grids[0])])[2:-1]
    assert (token_coordinates(piece)[:, :2] == coords[2 : 2 + 15, :2]).all()
