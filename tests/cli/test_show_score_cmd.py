import json

import matplotlib.image as mpimg
import numpy as np
import pytest

from arc_efe.cli.main import main
from arc_efe.data.sources import find_task
from arc_efe.solving.render import figure_size
from arc_efe.solving.submission import write_submission


def _task_json(test_outputs: list[list[list[int]]]) -> dict:
    return {
        "train": [{"input": [[0]], "output": [[1]]}],
        "test": [{"input": [[i]], "output": out} for i, out in enumerate(test_outputs)],
    }


@pytest.fixture
def folder(tmp_path):
    """Two tasks as a folder source: aaaa with two tests, bbbb with one."""
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "aaaa.json").write_text(json.dumps(_task_json([[[3, 4]], [[6]]])))
    (tasks / "bbbb.json").write_text(json.dumps(_task_json([[[8, 8]]])))
    return tasks


@pytest.fixture
def submission(tmp_path):
    """Solves aaaa test 0 (attempt 2) and bbbb: test score 2/3, task score 0.75, one task solved."""
    path = tmp_path / "submission.json"
    wrong = np.array([[0]])
    write_submission(
        {"aaaa": [[wrong, np.array([[3, 4]])], [wrong]], "bbbb": [[np.array([[8, 8]])]]},
        path,
    )
    return path


def test_show_bundled_id(tmp_path, capsys):
    out = tmp_path / "pics" / "t.png"
    assert main(["show", "007bbfb7", "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    width_in, height_in = figure_size(find_task("007bbfb7"))
    assert mpimg.imread(out).shape[:2] == (round(height_in * 100), round(width_in * 100))


def test_show_with_prediction_draws_attempt_columns(tmp_path, capsys):
    task = find_task("007bbfb7")
    prediction = tmp_path / "sub.json"
    write_submission({task.id: [[task.test[0].output, task.test[0].input]]}, prediction)
    out = tmp_path / "t.png"
    assert main(["show", task.id, "--prediction", str(prediction), "-o", str(out)]) == 0
    width_in, _ = figure_size(task, {0: [task.test[0].output, task.test[0].input]})
    assert width_in > figure_size(task)[0]
    assert mpimg.imread(out).shape[1] == round(width_in * 100)


def test_show_task_file_default_output_name(folder, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["show", str(folder / "aaaa.json")]) == 0
    assert capsys.readouterr().out.strip() == "aaaa.png"
    assert (tmp_path / "aaaa.png").is_file()


def test_show_id_in_tasks_source(folder, tmp_path, capsys):
    out = tmp_path / "b.png"
    assert main(["show", "bbbb", "--tasks", str(folder), "-o", str(out)]) == 0
    assert out.is_file()


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["show", "nosuchid"], "task 'nosuchid' not found in the bundled sets"),
        (["show", "zzzz", "--tasks", "{folder}"], "task 'zzzz' not found in {folder} (2 tasks)"),
        (
            ["show", "aaaa", "--tasks", "{folder}", "--prediction", "{submission}_missing"],
            "file {submission}_missing: not found",
        ),
    ],
)
def test_show_errors(folder, submission, tmp_path, capsys, argv, fragment):
    argv = [a.format(folder=folder, submission=submission) for a in argv] + ["-o", str(tmp_path / "x.png")]
    assert main(argv) == 1
    assert fragment.format(folder=folder, submission=submission) in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_show_prediction_without_task(folder, tmp_path, capsys):
    prediction = tmp_path / "other.json"
    write_submission({"cccc": [[np.array([[1]])]]}, prediction)
    assert main(["show", "aaaa", "--tasks", str(folder), "--prediction", str(prediction)]) == 1
    assert "task aaaa: missing from the submission" in capsys.readouterr().err


def test_score_prints_both_scores(folder, submission, capsys):
    assert main(["score", str(submission), "--tasks", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "test score (Kaggle, per test output):  0.6667  (2/3 test outputs)" in out
    assert "task score (ARC Prize, mean per task): 0.7500  (2 tasks)" in out
    assert "solved tasks (every test output right): 1/2" in out


def test_score_json(folder, submission, capsys):
    assert main(["score", str(submission), "--tasks", str(folder), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["test_score"] == pytest.approx(2 / 3) and scores["task_score"] == pytest.approx(0.75)
    assert scores["solved_tasks"] == ["bbbb"] and scores["per_task"]["aaaa"] == [True, False]


def test_score_malformed_submission_exits_1(folder, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"aaaa": [{"attempt_1": [[1]], "attempt_2": [[1, 2], [3]]}, {}], "bbbb": []}))
    assert main(["score", str(bad), "--tasks", str(folder)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and f"file {bad}, task aaaa, test 0, attempt_2: ragged rows" in err


def test_score_needs_known_outputs(tmp_path, capsys):
    challenges = tmp_path / "c.json"
    task = {"train": [{"input": [[0]], "output": [[1]]}], "test": [{"input": [[2]]}]}
    challenges.write_text(json.dumps({"cccc": task}))  # a Kaggle challenges file without solutions
    sub = tmp_path / "s.json"
    write_submission({"cccc": [[np.array([[1]])]]}, sub)
    assert main(["score", str(sub), "--tasks", str(challenges)]) == 1
    assert "task cccc, test 0: expected output unknown" in capsys.readouterr().err
