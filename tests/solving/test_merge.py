"""The merged ranking: verified programs by length, the vote by votes, the agent's likelihood breaking ties
or, under the "likelihood" rule, ordering everything; distinct grids; always enough attempts."""

import numpy as np
import pytest
import torch

from arc_efe.solving.likelihood import view_likelihoods
from arc_efe.solving.merge import Ranked, attempts_from, merge


def g(v):
    return np.array([[v]])


def values(ranked):
    return [int(r.grid[0, 0]) for r in ranked]


def test_search_first_orders_by_length_then_votes_and_drops_repeats():
    search = [Ranked(g(1), "search", "p1", length=3), Ranked(g(2), "search", "p2", length=1)]
    neural = [Ranked(g(3), "neural", votes=2), Ranked(g(2), "neural", votes=5), Ranked(g(4), "neural", votes=6)]
    plain = [Ranked(g(5), "plain")]
    assert values(merge(search, neural, plain, "search_first")) == [2, 1, 4, 3, 5]


def test_likelihood_breaks_ties_and_orders_mixed_lists():
    search = [Ranked(g(1), "search", length=2, likelihood=-3.0), Ranked(g(2), "search", length=2, likelihood=-1.0)]
    neural = [Ranked(g(3), "neural", votes=4, likelihood=-0.5), Ranked(g(4), "neural", votes=4, likelihood=-0.2)]
    assert values(merge(search, neural, [], "search_first")) == [2, 1, 4, 3]
    assert values(merge(search, neural, [Ranked(g(5), "plain")], "likelihood")) == [4, 3, 2, 1, 5]


def test_attempts_pad_with_the_first_and_need_a_candidate():
    assert values(attempts_from([Ranked(g(7), "plain")], 2)) == [7, 7]
    with pytest.raises(ValueError):
        attempts_from([], 2)


def test_view_likelihoods_score_each_candidate_in_the_view(system):
    test_input = np.array([[1, 2], [3, 4]])
    candidates = [test_input, test_input[:, ::-1].copy(), np.zeros((3, 3), dtype=np.int64)]
    prompt = torch.zeros(system.agent.prompt_dim)
    scores = view_likelihoods(system, "t", test_input, candidates, 3, prompt, None)
    assert len(scores) == 3 and all(s <= 0 and np.isfinite(s) for s in scores)
    assert len({round(s, 6) for s in scores}) == 3  # different grids, different scores
