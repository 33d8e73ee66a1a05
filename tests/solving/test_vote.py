"""Voting: counts, tie-breaks, exact inverse mapping of augmented predictions, always enough attempts."""

import numpy as np
import pytest

from arc_efe.data.augment import Augmentation, all_d8
from arc_efe.solving.vote import Candidate, choose_attempts, tally, tally_augmented

A = np.array([[1, 2, 3], [4, 5, 6]])
B = np.array([[7, 7, 7], [7, 7, 7]])
C = np.array([[1]])


def test_tally_ranks_by_votes_then_mean_confidence():
    ranked = tally([(A, 0.9), (B, 0.1), (B, 0.2), (C, 0.99)])
    assert [c.votes for c in ranked] == [2, 1, 1]
    assert np.array_equal(ranked[0].grid, B)
    assert ranked[0].confidence == pytest.approx(0.15)
    # A and C have one vote each: the more confident C comes first.
    assert np.array_equal(ranked[1].grid, C) and np.array_equal(ranked[2].grid, A)


def test_full_tie_keeps_first_seen_order():
    ranked = tally([(B, 0.5), (A, 0.5), (C, 0.5)])
    assert [c.grid.shape for c in ranked] == [B.shape, A.shape, C.shape]
    assert np.array_equal(ranked[0].grid, B)


def test_shape_is_part_of_the_vote_key():
    flat = np.arange(6).reshape(2, 3)
    tall = np.arange(6).reshape(3, 2)  # same bytes, other grid
    ranked = tally([(flat, 0.5), (tall, 0.5)])
    assert len(ranked) == 2 and all(c.votes == 1 for c in ranked)


def test_augmented_predictions_map_back_and_agree():
    truth = np.array([[0, 1, 2, 0], [3, 0, 0, 4], [5, 6, 0, 0]])  # 3x4: D8 swaps its sides
    rng = np.random.default_rng(0)
    views = [Augmentation(a.d8, (0, *rng.permutation(np.arange(1, 10)))) for a in all_d8()]
    predictions = [(aug, aug.apply(truth), 0.5) for aug in views]
    assert len({(p[1].shape, p[1].tobytes()) for p in predictions}) > 1  # the views really differ
    ranked = tally_augmented(predictions)
    assert len(ranked) == 1 and ranked[0].votes == 8
    assert np.array_equal(ranked[0].grid, truth)


def test_one_wrong_view_is_outvoted():
    truth = np.array([[1, 0], [0, 2]])
    views = all_d8()
    predictions = [(aug, aug.apply(truth), 0.1) for aug in views[:3]]
    predictions.append((views[3], np.array([[9]]), 0.99))
    ranked = tally_augmented(predictions)
    assert np.array_equal(ranked[0].grid, truth) and ranked[0].votes == 3


def test_two_attempts_even_when_every_vote_agrees():
    unanimous = [Candidate(A, 8, 0.9)]
    # Runner-up missing: the fallback (e.g. the plain prediction) fills in when it differs ...
    attempts = choose_attempts(unanimous, 2, fallback=[A, B])
    assert len(attempts) == 2 and np.array_equal(attempts[0], A) and np.array_equal(attempts[1], B)
    # ... and a copy when nothing else is on offer.
    attempts = choose_attempts(unanimous, 2, fallback=[A])
    assert len(attempts) == 2 and all(np.array_equal(a, A) for a in attempts)
    assert attempts[1] is not attempts[0]


def test_runner_up_beats_fallback_and_extra_candidates_are_dropped():
    ranked = [Candidate(A, 3, 0.5), Candidate(B, 2, 0.5), Candidate(C, 1, 0.5)]
    attempts = choose_attempts(ranked, 2, fallback=[C])
    assert [a.shape for a in attempts] == [A.shape, B.shape] and np.array_equal(attempts[1], B)
    assert len(choose_attempts(ranked, 1)) == 1


def test_choose_attempts_needs_something():
    assert np.array_equal(choose_attempts([], 2, fallback=[C])[1], C)
    with pytest.raises(ValueError, match="at least one"):
        choose_attempts([], 2)
