"""bench/rules_expert.py: counts the tasks the induced-rules program answers and grades them against the test
outputs, a wrong answer marked."""

import json
import sys

import numpy as np

from arc_efe.data.generators import task_to_json
from arc_efe.data.task import Pair, Task
from tests.solving.test_rules_expert import outline_task


def test_it_counts_answered_right_and_wrong(load_bench, tmp_path, capsys):
    right = outline_task(seed=5)
    wrong = Task("wrong", right.train, [Pair(p.input, np.zeros_like(p.output)) for p in right.test])  # a bad key
    rng = np.random.default_rng(0)
    noise = Task("noise", [Pair(rng.integers(0, 4, (5, 5)), rng.integers(0, 4, (5, 5))) for _ in range(3)],
                 [Pair(rng.integers(0, 4, (5, 5)), rng.integers(0, 4, (5, 5)))])
    for task in (right, wrong, noise):
        (tmp_path / f"{task.id}.json").write_text(json.dumps(task_to_json(task)))
    assert load_bench("rules_expert").main(["--tasks", str(tmp_path), "--ids"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert "wrong!" in out[-3].split() and right.id in out[-3].split() and "noise" not in out[-3]
    s = sys.modules["common"].parse_summary(out[-1])
    assert (s["answered"], s["right"], s["wrong"], s["tasks"]) == ("2", "1", "1", "3")
