"""bench/policy.py and bench/halting.py on two held-out tasks of the shipped model: every summary key is in
range, the rules relate as they must (the oracle is a ceiling; `last` runs every step), and a bad set is refused."""

import sys

import numpy as np
import pytest


def summary(capsys) -> dict[str, float]:
    last = capsys.readouterr().out.strip().splitlines()[-1]
    return {k: float(v) for k, v in sys.modules["common"].parse_summary(last).items()}


def test_policy_quick_summary(load_bench, capsys):
    policy = load_bench("policy")
    assert policy.main(["--sets", "heldout", "--limit", "2", "--draws", "2"]) == 0
    s = summary(capsys)
    assert s["tasks_heldout"] == 2
    for name in policy.PROMPTS:
        assert 0 <= s[f"test_cell_{name}_heldout"] <= 1 and 0 <= s[f"solve_{name}_heldout"] <= 1
    # the oracle picks the best draw on the test outputs, and the mode is one of its candidates
    assert s["test_cell_oracle_heldout"] + s["solve_oracle_heldout"] >= \
        s["test_cell_mode_heldout"] + s["solve_mode_heldout"] - 1e-9
    # the kept draw is the best on the demos among candidates that include the mode
    assert s["loo_best_heldout"] >= s["loo_mode_heldout"] - 1e-9
    assert s["ratio_heldout"] > 0


def test_halting_quick_summary(load_bench, capsys):
    halting = load_bench("halting")
    assert halting.main(["--sets", "heldout", "--limit", "2"]) == 0
    s = summary(capsys)
    assert s["rows_heldout"] >= 4  # two tasks of at least two demos each
    assert s["steps_last_heldout"] == 1.0
    for rule in halting.RULES:
        assert 0 < s[f"steps_{rule}_heldout"] <= 1 and 0 <= s[f"cell_{rule}_heldout"] <= 1
        assert s["cell_oracle_heldout"] >= s[f"cell_{rule}_heldout"] - 1e-9
    assert 0 < s["halt_task_steps_heldout"] <= 1


def test_halting_stop_steps_follow_each_rule(load_bench):
    halting = load_bench("halting")
    cell = np.array([[0.2, 0.9, 0.5], [0.1, 0.2, 0.3]])
    logits = np.array([[-3.0, 2.0, 5.0], [-3.0, -3.0, -3.0]])
    stops = halting.stop_steps(cell, logits)
    assert stops["last"].tolist() == [2, 2]
    assert stops["halt"].tolist() == [1, 2]  # the first step past 0.5, else the last
    assert stops["oracle"].tolist() == [1, 2]


@pytest.mark.parametrize("name", ["policy", "halting"])
def test_an_unknown_set_is_refused(load_bench, name):
    module = load_bench(name)
    with pytest.raises(SystemExit):
        module.main(["--sets", "nonsense", "--limit", "1"])
