import json

import numpy as np
import pytest

from arc_efe.data import Pair, Task
from arc_efe.objective.scoring import Scores
from arc_efe.solving.submission import (
    SubmissionError,
    load_submission,
    score_submission,
    write_submission,
)


def g(*rows: list[int]) -> np.ndarray:
    return np.array(rows, dtype=np.int64)


@pytest.fixture
def tasks() -> list[Task]:
    """Task A has two test inputs, task B one."""
    demo = [Pair(g([0]), g([1]))]
    a = Task("aaaa", demo, [Pair(g([1, 2]), g([3, 4])), Pair(g([5]), g([6, 6], [6, 6]))])
    b = Task("bbbb", demo, [Pair(g([7]), g([8, 8]))])
    return [a, b]


def test_two_averaging_rules_differ(tasks):
    wrong = g([0])
    submission = {
        "aaaa": [[wrong, g([3, 4])], [wrong, wrong]],  # 1 of 2 solved (by attempt 2)
        "bbbb": [[g([8, 8]), wrong]],  # solved by attempt 1
    }
    scores = score_submission(submission, tasks)
    assert scores.test_score == pytest.approx(2 / 3)
    assert scores.task_score == pytest.approx(0.75)
    assert scores.solved_tasks == ["bbbb"]
    assert scores.per_task == {"aaaa": [True, False], "bbbb": [True]}
    assert (scores.num_tasks, scores.num_test_inputs) == (2, 3)
    assert scores.to_dict()["task_score"] == pytest.approx(0.75)
    assert json.loads(json.dumps(scores.to_dict()))["solved_tasks"] == ["bbbb"]


def test_all_solved_and_none_solved(tasks):
    right = {t.id: [[p.output, p.output] for p in t.test] for t in tasks}
    assert score_submission(right, tasks) == Scores(
        1.0, 1.0, ["aaaa", "bbbb"], {"aaaa": [True, True], "bbbb": [True]}, 2, 3
    )
    wrong = {t.id: [[g([9])] * 2 for _ in t.test] for t in tasks}
    scores = score_submission(wrong, tasks)
    assert (scores.test_score, scores.task_score, scores.solved_tasks) == (0.0, 0.0, [])


def test_right_cells_wrong_size_counts_wrong(tasks):
    # Expected [[6,6],[6,6]]: the top row alone, or with an extra column, has matching cells where they overlap.
    submission = {
        "aaaa": [[g([3, 4])] * 2, [g([6, 6]), g([6, 6, 0], [6, 6, 0])]],
        "bbbb": [[g([8, 8], [8, 8]), g([8])]],
    }
    assert score_submission(submission, tasks).per_task == {"aaaa": [True, False], "bbbb": [False]}


def test_only_first_two_attempts_count(tasks):
    submission = {t.id: [[g([9]), g([9]), p.output] for p in t.test] for t in tasks}
    assert score_submission(submission, tasks).test_score == 0.0


def test_unknown_test_output_is_an_error(tasks):
    hidden = Task("cccc", tasks[0].train, [Pair(g([1]), None)])
    with pytest.raises(SubmissionError, match="task cccc, test 0: expected output unknown"):
        score_submission({"cccc": [[g([1]), g([1])]]}, [hidden])


def test_scoring_checks_coverage(tasks):
    with pytest.raises(SubmissionError, match="task bbbb: missing"):
        score_submission({"aaaa": [[g([3, 4])], [g([1])]]}, tasks)


def test_write_load_round_trip_pads_to_two_attempts(tasks, tmp_path):
    path = tmp_path / "out" / "submission.json"
    predictions = {"aaaa": [[g([3, 4])], [g([1]), g([2], [3]), g([4])]], "bbbb": [[g([8, 8]), g([0])]]}
    write_submission(predictions, path)
    raw = json.loads(path.read_text())
    assert raw["aaaa"][0] == {"attempt_1": [[3, 4]], "attempt_2": [[3, 4]]}  # single attempt repeated
    assert raw["aaaa"][1] == {"attempt_1": [[1]], "attempt_2": [[2], [3]]}  # third attempt dropped
    loaded = load_submission(path, tasks)
    assert set(loaded) == {"aaaa", "bbbb"}
    assert [[a.tolist() for a in test] for test in loaded["bbbb"]] == [[[[8, 8]], [[0]]]]
    assert all(a.dtype == np.int64 for test in loaded["aaaa"] for a in test)
    assert [p.name for p in path.parent.iterdir()] == ["submission.json"]  # no temp file left behind


def test_write_rejects_empty_attempts_and_bad_grids(tmp_path):
    path = tmp_path / "s.json"
    with pytest.raises(SubmissionError, match="task t1, test 0: no attempts"):
        write_submission({"t1": [[]]}, path)
    with pytest.raises(SubmissionError, match="task t1, test 1, attempt_2: cell \\(0,0\\) is 10"):
        write_submission({"t1": [[g([1])], [g([1]), g([10])]]}, path)
    assert not path.exists()


def _entry(a1: list | None = None, a2: list | None = None) -> dict:
    return {"attempt_1": [[3, 4]] if a1 is None else a1, "attempt_2": [[3, 4]] if a2 is None else a2}


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object of task ids, got list"),
        (json.dumps({"aaaa": {"attempt_1": [[1]]}}), "task aaaa: expected a list of test entries, got dict"),
        (json.dumps({"aaaa": [[[1]]]}), "task aaaa, test 0: expected a dict with attempt_1, attempt_2, got list"),
        (json.dumps({"aaaa": [_entry(), {"attempt_1": [[1]]}]}), "task aaaa, test 1: missing attempt_2"),
        (json.dumps({"aaaa": [{"attempt_2": [[1]]}]}), "task aaaa, test 0: missing attempt_1"),
        (json.dumps({"aaaa": [_entry(a2=[[1, 2], [3]])]}), "task aaaa, test 0, attempt_2: ragged rows"),
        (json.dumps({"aaaa": [_entry(a1=[[1, 10]])]}), "task aaaa, test 0, attempt_1: cell (0,1) is 10, outside"),
        (json.dumps({"aaaa": [_entry(a1=[[-1]])]}), "task aaaa, test 0, attempt_1: cell (0,0) is -1, outside"),
        (json.dumps({"aaaa": [_entry(a1=[[1.5]])]}), "attempt_1: cell (0,0) is 1.5, not an integer"),
        (json.dumps({"aaaa": [_entry(a1=[["1"]])]}), "task aaaa, test 0, attempt_1: cell (0,0) is '1'"),
        (json.dumps({"aaaa": [_entry(a1=[])]}), "task aaaa, test 0, attempt_1: grid is empty"),
    ],
)
def test_load_rejects_malformed(tmp_path, content, fragment):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(SubmissionError) as err:
        load_submission(path)
    assert fragment in str(err.value)
    assert str(path) in str(err.value)


def test_load_checks_tasks_and_test_counts(tasks, tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"aaaa": [_entry(), _entry()]}))
    with pytest.raises(SubmissionError, match="task bbbb: missing from the submission"):
        load_submission(path, tasks)
    path.write_text(json.dumps({"aaaa": [_entry()], "bbbb": [_entry()]}))
    with pytest.raises(SubmissionError, match="task aaaa: 1 test entries, the task has 2 test inputs"):
        load_submission(path, tasks)
    assert set(load_submission(path)) == {"aaaa", "bbbb"}  # without tasks only the format is checked


def test_load_missing_file(tmp_path):
    with pytest.raises(SubmissionError, match="nope.json: not found"):
        load_submission(tmp_path / "nope.json")
