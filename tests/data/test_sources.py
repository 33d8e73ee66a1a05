import json
import logging

import numpy as np
import pytest

from arc_efe.data import TaskFormatError
from arc_efe.data.sources import BUNDLED_SETS, find_task, load_tasks


def _task(n_train=2, test_output=True):
    train = [{"input": [[i, 1]], "output": [[1, i], [0, 0]]} for i in range(n_train)]
    test = {"input": [[5, 5, 5]]}
    if test_output:
        test["output"] = [[6]]
    return {"train": train, "test": [test]}


def _write(path, content):
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_single_file_uses_stem_as_id_and_keeps_grids(tmp_path):
    path = _write(tmp_path / "abcd1234.json", _task(n_train=3))
    result = load_tasks(str(path))
    assert result.problems == []
    (task,) = result.tasks
    assert task.id == "abcd1234" and task.source == str(path)
    assert len(task.train) == 3 and len(task.test) == 1
    assert task.train[2].input.tolist() == [[2, 1]] and task.train[2].output.shape == (2, 2)
    assert task.train[0].input.dtype == np.int64
    assert task.test[0].output.tolist() == [[6]]


def test_missing_test_output_is_allowed(tmp_path):
    task = load_tasks(str(_write(tmp_path / "t.json", _task(test_output=False)))).tasks[0]
    assert task.test[0].output is None and not task.has_test_outputs


def _bad_pair(**grids):
    task = _task()
    task["train"][1] = grids
    return task


@pytest.mark.parametrize(
    "content, fragment",
    [
        ('{"train": [\n  {"input": [[1]]', "invalid JSON at line 2 column"),
        ([_task()], "top level must be a JSON object"),
        ({"train": _task()["train"]}, "missing key 'test'"),
        ({"test": _task()["test"]}, "missing key 'train'"),
        ({"train": [], "test": _task()["test"]}, "'train' has no pairs"),
        ({"train": _task()["train"], "test": []}, "'test' has no pairs"),
        ({"train": {"input": [[1]]}, "test": _task()["test"]}, "'train' must be a list of pairs"),
        (_bad_pair(output=[[1]]), "train pair 1: missing 'input'"),
        (_bad_pair(input=[[1]]), "train pair 1: missing 'output'"),
        (_bad_pair(input=[[1, 2], [3]], output=[[1]]), "train pair 1 input: ragged rows"),
        (_bad_pair(input=[[1]], output=[[1, 10]]), "train pair 1 output: cell (0,1) is 10, outside colours"),
        (_bad_pair(input=[[1.5]], output=[[1]]), "train pair 1 input: cell (0,0) is 1.5, not an integer"),
        (_bad_pair(input=[], output=[[1]]), "train pair 1 input: grid is empty"),
        (_bad_pair(input=[[0] * 31], output=[[1]]), "train pair 1 input: grid is 1x31, larger than 30x30"),
    ],
)
def test_single_file_errors_name_file_task_and_pair(tmp_path, content, fragment):
    path = _write(tmp_path / "bad1.json", content)
    with pytest.raises(TaskFormatError) as err:
        load_tasks(str(path))
    message = str(err.value)
    assert fragment in message
    assert message.startswith(f"file {path}")
    if "JSON" not in fragment:
        assert "task bad1" in message


def test_test_pair_without_input_is_an_error(tmp_path):
    task = _task()
    task["test"] = [{"output": [[1]]}]
    with pytest.raises(TaskFormatError, match="task t, test pair 0: missing 'input'"):
        load_tasks(str(_write(tmp_path / "t.json", task)))


def test_folder_keeps_good_tasks_and_records_bad_ones(tmp_path, caplog):
    _write(tmp_path / "bbb.json", _task())
    _write(tmp_path / "aaa.json", _task(n_train=3))
    _write(tmp_path / "ccc.json", _bad_pair(input=[[1]], output=[[1, "x"]]))
    (tmp_path / "notes.txt").write_text("not a task")
    with caplog.at_level(logging.WARNING, logger="arc_efe.data.sources"):
        result = load_tasks(str(tmp_path))
    assert [t.id for t in result.tasks] == ["aaa", "bbb"]
    assert [len(t.train) for t in result.tasks] == [3, 2]
    assert len(result.problems) == 1
    assert "ccc.json" in result.problems[0] and "task ccc, train pair 1 output" in result.problems[0]
    assert any("ccc.json" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    with pytest.raises(TaskFormatError, match="ccc.json"):
        load_tasks(str(tmp_path), strict=True)


def test_folder_with_unparsable_file_keeps_the_rest(tmp_path):
    _write(tmp_path / "good.json", _task())
    _write(tmp_path / "broken.json", "{not json")
    result = load_tasks(str(tmp_path))
    assert [t.id for t in result.tasks] == ["good"]
    assert len(result.problems) == 1 and "broken.json: invalid JSON at line 1 column 2" in result.problems[0]


def test_empty_folder_is_a_problem(tmp_path):
    result = load_tasks(str(tmp_path))
    assert result.tasks == [] and "no .json task files" in result.problems[0]


def _challenges(tmp_path, name="x_challenges.json", with_bad_task=True):
    tasks = {"t2": _task(test_output=False), "t1": _task(test_output=False)}
    if with_bad_task:
        tasks["t3"] = [1, 2]
    tasks["t1"]["test"].append({"input": [[0]]})
    return _write(tmp_path / name, tasks)


def test_challenges_without_solutions_keep_good_tasks(tmp_path):
    result = load_tasks(str(_challenges(tmp_path, "plain.json")))
    assert [t.id for t in result.tasks] == ["t1", "t2"]
    assert all(p.output is None for t in result.tasks for p in t.test)
    assert len(result.problems) == 1 and "task t3: a task must be a JSON object" in result.problems[0]
    with pytest.raises(TaskFormatError, match="task t3"):
        load_tasks(str(_challenges(tmp_path, "plain.json")), strict=True)


def test_challenges_with_explicit_solutions(tmp_path):
    path = _challenges(tmp_path, "plain.json")
    sol = _write(tmp_path / "answers.json", {"t1": [[[7]], [[8, 8]]], "t2": [[[9]]]})
    result = load_tasks(str(path), solutions=str(sol))
    by_id = {t.id: t for t in result.tasks}
    assert [p.output.tolist() for p in by_id["t1"].test] == [[[7]], [[8, 8]]]
    assert by_id["t2"].test[0].output.tolist() == [[9]]
    assert by_id["t1"].test[1].input.tolist() == [[0]]
    assert len(result.problems) == 1  # t3 only


def test_challenges_pick_up_sibling_solutions(tmp_path):
    path = _challenges(tmp_path)
    _write(tmp_path / "x_solutions.json", {"t1": [[[7]], [[8]]], "t2": [[[9]]]})
    result = load_tasks(str(path))
    assert all(t.has_test_outputs for t in result.tasks) and len(result.tasks) == 2


def test_solution_count_mismatch_and_extra_ids_are_problems(tmp_path):
    path = _challenges(tmp_path, with_bad_task=False)
    _write(tmp_path / "x_solutions.json", {"t1": [[[7]]], "t2": [[[9]]], "zz": [[[1]]]})
    result = load_tasks(str(path))
    assert [t.id for t in result.tasks] == ["t2"]
    joined = "\n".join(result.problems)
    assert "task t1: 1 solution grid(s) for 2 test input(s)" in joined
    assert "x_solutions.json" in joined and "1 task(s) not in" in joined and "zz" in joined
    with pytest.raises(TaskFormatError, match="task t1: 1 solution"):
        load_tasks(str(path), strict=True)


def test_bad_solution_grid_names_the_solutions_file(tmp_path):
    path = _challenges(tmp_path, with_bad_task=False)
    sol = _write(tmp_path / "s.json", {"t1": [[[7]], [[8, 11]]], "t2": [[[9]]]})
    result = load_tasks(str(path), solutions=str(sol))
    assert [t.id for t in result.tasks] == ["t2"]
    (problem,) = result.problems
    assert "s.json, task t1, test pair 1 solution: cell (0,1) is 11, outside colours" in problem


def test_solutions_rejected_for_non_challenges_sources(tmp_path):
    sol = _write(tmp_path / "s.json", {})
    with pytest.raises(ValueError, match="challenges file only"):
        load_tasks("arc1/training", solutions=str(sol))


def test_missing_source_names_the_choices():
    with pytest.raises(FileNotFoundError, match="arc1/training"):
        load_tasks("/no/such/place.json")


@pytest.mark.parametrize(
    "name, count",
    [("arc1/training", 400), ("arc1/evaluation", 400), ("arc2/training", 1000), ("arc2/evaluation", 120)],
)
def test_bundled_set_counts(name, count):
    result = load_tasks(name)
    assert len(result.tasks) == count and result.problems == []
    assert {t.source for t in result.tasks} == {name}
    ids = [t.id for t in result.tasks]
    assert ids == sorted(ids) and len(set(ids)) == count


def test_bundled_arc1_splits_are_disjoint_and_known_task_matches():
    training = {t.id: t for t in load_tasks("arc1/training").tasks}
    evaluation = {t.id for t in load_tasks("arc1/evaluation").tasks}
    assert not training.keys() & evaluation
    task = training["007bbfb7"]
    assert len(task.train) == 5
    assert task.train[0].input.shape == (3, 3) and task.train[0].output.shape == (9, 9)
    assert set(BUNDLED_SETS) == {"arc1/training", "arc1/evaluation", "arc2/training", "arc2/evaluation"}


def test_find_task_prefers_arc1_and_reports_where_it_looked():
    # 00576224 is in ARC-AGI-1 evaluation and again in ARC-AGI-2 training.
    assert find_task("00576224").source == "arc1/evaluation"
    assert find_task("007bbfb7").source == "arc1/training"
    arc1 = {t.id for name in ("arc1/training", "arc1/evaluation") for t in load_tasks(name).tasks}
    arc2_only = next(t.id for t in load_tasks("arc2/evaluation").tasks if t.id not in arc1)
    assert find_task(arc2_only).source == "arc2/evaluation"
    with pytest.raises(KeyError) as err:
        find_task("nope0000")
    assert str(err.value) == (
        "task 'nope0000' not found in the bundled sets "
        "arc1/training, arc1/evaluation, arc2/training, arc2/evaluation"
    )


@pytest.mark.parametrize(
    "content, fragment",
    [
        ('{"train": ' + "[" * 100_000 + "]" * 100_000 + ', "test": []}', "nested too deeply"),
        ('{"train": [{"input": [[' + "7" * 5000 + ']], "output": [[1]]}], "test": []}', "unreadable JSON value"),
        ("{}", "an empty JSON object"),
        (_bad_pair(input=[["x" * 100_000]], output=[[1]]), "train pair 1 input: cell (0,0) is 'xxx"),
        (_bad_pair(input=[[7 * 10**4000]], output=[[1]]), "train pair 1 input: cell (0,0) is 7000"),
    ],
    ids=["deep_nesting", "huge_integer", "empty_object", "huge_cell", "long_colour"],
)
def test_what_fuzzing_found_raises_a_short_format_error(tmp_path, content, fragment):
    path = _write(tmp_path / "odd.json", content)
    with pytest.raises(TaskFormatError) as err:
        load_tasks(str(path))
    assert fragment in str(err.value) and str(err.value).startswith(f"file {path}")
    assert len(str(err.value)) < 300


def test_a_byte_order_mark_is_not_an_error(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(_task()).encode())
    assert [t.id for t in load_tasks(str(path)).tasks] == ["bom"]


def test_an_empty_task_id_is_still_named(tmp_path):
    result = load_tasks(str(_write(tmp_path / "c.json", {"": {"train": 1, "test": []}, "ok": _task()})))
    assert [t.id for t in result.tasks] == ["ok"]
    assert result.problems == [f"file {tmp_path / 'c.json'}, task '': 'train' must be a list of pairs, got int"]
