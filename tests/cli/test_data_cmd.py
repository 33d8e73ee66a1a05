import json

from arc_efe.cli.main import main


def _write_task(path, sizes, test_output=True):
    """A task whose train pairs have input/output sizes `sizes` [((h, w), (h, w)), ...]."""
    train = [
        {"input": [[1] * w for _ in range(h)], "output": [[2] * ow for _ in range(oh)]}
        for (h, w), (oh, ow) in sizes
    ]
    test = {"input": [[3]]}
    if test_output:
        test["output"] = [[4, 4]]
    path.write_text(json.dumps({"train": train, "test": [test]}))


def test_list_prints_one_line_per_task_and_summary(tmp_path, capsys):
    _write_task(tmp_path / "b.json", [((2, 3), (4, 5)), ((6, 1), (4, 5))])
    _write_task(tmp_path / "a.json", [((3, 3), (1, 2))], test_output=False)
    assert main(["data", "list", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "a  demos=1 tests=1  in=1x1-3x3  out=1x2",
        "b  demos=2 tests=1  in=1x1-6x3  out=1x2-4x5",
        "2 tasks, 3 demo pairs, 2 test inputs (1 with outputs)",
    ]


def test_list_bundled_set(capsys):
    assert main(["data", "list", "arc1/training"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 401
    assert lines[0] == "007bbfb7  demos=5 tests=1  in=3x3  out=9x9"
    assert lines[-1] == "400 tasks, 1302 demo pairs, 416 test inputs (416 with outputs)"


def test_check_good_folder_exits_0(tmp_path, capsys):
    _write_task(tmp_path / "a.json", [((1, 1), (1, 1))])
    _write_task(tmp_path / "b.json", [((1, 1), (1, 1))])
    assert main(["data", "check", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == "2 tasks OK"


def test_check_bad_folder_prints_problem_and_exits_1(tmp_path, capsys):
    _write_task(tmp_path / "a.json", [((1, 1), (1, 1))])
    (tmp_path / "bad.json").write_text('{"train": [{"input": [[1, 2], [3]], "output": [[1]]}], "test": []}')
    assert main(["data", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].startswith("problem: file ")
    assert "bad.json, task bad, train pair 0 input: ragged rows" in out[0]
    assert out[1] == "1 tasks OK, 1 problem(s)"


def test_check_challenges_with_wrong_solution_count_exits_1(tmp_path, capsys):
    challenges = tmp_path / "c.json"
    task = {"train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[3]]}]}
    challenges.write_text(json.dumps({"t1": task}))
    solutions = tmp_path / "s.json"
    solutions.write_text(json.dumps({"t1": [[[1]], [[2]]]}))
    assert main(["data", "check", str(challenges), "--solutions", str(solutions)]) == 1
    assert "task t1: 2 solution grid(s) for 1 test input(s)" in capsys.readouterr().out
    solutions.write_text(json.dumps({"t1": [[[1]]]}))
    assert main(["data", "check", str(challenges), "--solutions", str(solutions)]) == 0
    assert capsys.readouterr().out.strip() == "1 tasks OK"


def test_unusable_source_exits_1_with_error(tmp_path, capsys):
    (tmp_path / "x.json").write_text("[1, 2")
    assert main(["data", "check", str(tmp_path / "x.json")]) == 1
    assert "x.json: invalid JSON at line 1 column 6" in capsys.readouterr().err
    assert main(["data", "list", str(tmp_path / "missing")]) == 1
    assert "is not a file, a folder or a bundled set" in capsys.readouterr().err
