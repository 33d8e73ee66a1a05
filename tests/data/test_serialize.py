import numpy as np
import pytest
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
    text_to_pair,
    tokens_to_pair,
    tokens_to_pairs,
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
    assert_same_pair(tokens_to_pair(pair_to_tokens(pair)), pair)


@settings(max_examples=60, deadline=None)
@given(pairs())
def test_text_round_trip(pair):
    text = pair_to_text(pair)
    assert set(text) <= set("0123456789\ninputo:")
    assert_same_pair(text_to_pair(text), pair)


@settings(max_examples=30, deadline=None)
@given(st.lists(pairs(), min_size=1, max_size=4))
def test_task_tokens_round_trip(task_pairs):
    back = tokens_to_pairs(pairs_to_tokens(task_pairs))
    assert len(back) == len(task_pairs)
    for a, b in zip(back, task_pairs):
        assert_same_pair(a, b)


@pytest.mark.parametrize(
    "tokens, fragment",
    [
        ([INPUT, 1, ROW_END, EOS], "start with BOS"),
        ([BOS, INPUT, 1, ROW_END], "end with EOS"),
        ([BOS, OUTPUT, 1, ROW_END, EOS], "expected INPUT"),
        ([BOS, INPUT, 1, 2, EOS], "no ROW_END"),
        ([BOS, INPUT, 1, ROW_END, 2, 3, ROW_END, EOS], "ragged"),
        ([BOS, INPUT, EOS], "empty"),
        ([BOS, INPUT, 1, ROW_END, INPUT, 1, ROW_END, EOS], "expected OUTPUT"),
        ([BOS, INPUT, 1, ROW_END, OUTPUT, 1, ROW_END, PAD, EOS], "unexpected token"),
        ([BOS, INPUT, 1, ROW_END, 99, EOS], "outside the vocabulary"),
    ],
)
def test_malformed_tokens_raise(tokens, fragment):
    with pytest.raises(ValueError, match=fragment):
        tokens_to_pair(tokens)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("input:\n12\n34", "end with a newline"),
        ("12\n", "before the 'input:' header"),
        ("output:\n1\n", "expected 'input:' header"),
        ("input:\n1a\n", "digits"),
        ("input:\n12\n3\n", "ragged"),
        ("input:\n1\noutput:\n2\noutput:\n3\n", "extra header"),
    ],
)
def test_malformed_text_raises(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        text_to_pair(text)
