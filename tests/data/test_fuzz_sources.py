"""Fuzzed task loading: every malformed file, folder or Kaggle pair either loads or raises TaskFormatError
naming the file, the task and the pair at fault, never another exception.

Tasks are generated valid and then broken in one known place, so each test knows what the loader must
say; arbitrary JSON and bytes check that nothing else escapes. Each property runs a few hundred examples
in CI and a few thousand under `-m slow`.
"""

import json
import random
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arc_efe.data.grid import TaskFormatError
from arc_efe.data.sources import load_tasks

EXAMPLES = [pytest.param(100, id="ci"), pytest.param(2000, id="many", marks=pytest.mark.slow)]
MESSAGE_LIMIT = 600  # characters, for the paths and ids below: an error quotes values, it does not dump them

colors = st.integers(0, 9)


@st.composite
def grids(draw, max_side: int = 4, min_side: int = 1) -> list[list[int]]:
    """A legal grid; its cells come from a drawn seed (the loader does not care which colours, and drawing
    each cell from hypothesis would make generation, not loading, the cost of the test)."""
    h, w = draw(st.integers(min_side, max_side)), draw(st.integers(min_side, max_side))
    rng = random.Random(draw(st.integers(0, 2**16)))
    return [[rng.randrange(10) for _ in range(w)] for _ in range(h)]


# Values that are no ARC cell: out of range, not integers, or JSON's other types.
bad_cells = st.sampled_from([-1, 10, 255, 10**30, 1.5, 2.0, float("nan"), float("inf"), "3", "", True, False,
                             None, [1], {}, {"c": 1}, "x" * 5000, [[[[[[1]]]]]], list(range(3000))])
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=12)


@st.composite
def bad_grids(draw) -> object:
    """A grid the format forbids: empty, too large, ragged, a bad cell, or not a list of lists."""
    grid = draw(grids())
    kind = draw(st.sampled_from(["empty", "zero_width", "too_tall", "too_wide", "ragged", "cell", "flat",
                                 "nested", "not_a_list"]))
    if kind == "empty":
        return []
    if kind == "zero_width":
        return [[] for _ in grid]
    if kind == "too_tall":
        return draw(grids(max_side=31, min_side=31)) if draw(st.booleans()) else [[draw(colors)]] * 31
    if kind == "too_wide":
        return [[draw(colors)] * 31 for _ in range(draw(st.integers(1, 31)))]
    if kind == "ragged":
        grid.append(grid[0] + [0])
        return grid
    if kind == "cell":
        r, c = draw(st.integers(0, len(grid) - 1)), draw(st.integers(0, len(grid[0]) - 1))
        grid[r][c] = draw(bad_cells)
        return grid
    if kind == "flat":
        return grid[0]
    if kind == "nested":
        return [[row] for row in grid]
    return draw(json_scalars | st.dictionaries(st.text(max_size=4), json_scalars, max_size=2))


@st.composite
def tasks(draw) -> dict:
    """A valid task: 1-4 demos, 1-3 tests (each with or without its output), sometimes 30x30, extra keys."""
    big = draw(st.booleans()) and draw(st.booleans())  # a quarter of tasks carry a full-canvas grid
    train = [{"input": draw(grids()), "output": draw(grids())} for _ in range(draw(st.integers(1, 4)))]
    if big:
        train[0]["input"] = draw(grids(max_side=30, min_side=30))
    test = []
    for _ in range(draw(st.integers(1, 3))):
        pair = {"input": draw(grids())}
        if draw(st.booleans()):
            pair["output"] = draw(grids())
        test.append(pair)
    task = {"train": train, "test": test}
    if draw(st.integers(0, 3)) == 0:
        task[draw(st.sampled_from(["name", "meta", "x"]))] = draw(json_values)  # unknown keys are ignored
    return task


@st.composite
def broken_tasks(draw) -> tuple[object, str | None]:
    """(raw task, where the loader must say it broke): None when the change leaves it valid, "" when the
    fault is the task's own (no pair), else the pair ("train pair 2") or a grid of it ("test pair 0 output")."""
    task = draw(tasks())
    fault = draw(st.sampled_from(["none", "grid", "pair_type", "drop_input", "drop_output", "pairs_type",
                                  "no_pairs", "drop_list", "task_type"]))
    kind = draw(st.sampled_from(["train", "test"]))
    i = draw(st.integers(0, len(task[kind]) - 1))
    pair = task[kind][i]
    if fault == "none":
        return task, None
    if fault == "grid":
        side = draw(st.sampled_from(["input", "output"]))
        pair[side] = draw(bad_grids())
        return task, f"{kind} pair {i} {side}"
    if fault == "pair_type":
        task[kind][i] = draw(json_scalars | st.lists(json_scalars, max_size=2))
        return task, f"{kind} pair {i}"
    if fault == "drop_input":
        del pair["input"]
        return task, f"{kind} pair {i}"
    if fault == "drop_output":
        pair.pop("output", None)
        return task, f"{kind} pair {i}" if kind == "train" else None  # a test output is optional
    if fault == "pairs_type":
        task[kind] = draw(json_scalars | st.dictionaries(st.text(max_size=4), json_scalars, max_size=2))
        return task, ""
    if fault == "no_pairs":
        task[kind] = []
        return task, ""
    if fault == "drop_list":
        del task[kind]
        return task, ""
    return draw(json_scalars | st.lists(json_values, max_size=3)), ""


def names_pair(message: str, pair: str) -> bool:
    return re.search(rf"{re.escape(pair)}\b", message) is not None and ":" in message


def assert_names(message: str, file: Path, task_id: str | None, pair: str | None) -> None:
    assert f"file {file}" in message, message
    if task_id is not None:
        assert re.search(rf"task {re.escape(task_id or repr(task_id))}[,:]", message), message
    if pair:
        assert names_pair(message, pair), message
    assert len(message) < MESSAGE_LIMIT, message[:MESSAGE_LIMIT]


def assert_loaded_as_written(task, raw: dict) -> None:
    for kind in ("train", "test"):
        assert len(getattr(task, kind)) == len(raw[kind])
        for pair, raw_pair in zip(getattr(task, kind), raw[kind]):
            assert pair.input.dtype == np.int64 and pair.input.tolist() == raw_pair["input"]
            assert (pair.output.tolist() if pair.output is not None else None) == raw_pair.get("output")


def fuzz(strategy, check, examples: int) -> None:
    """Run `check(value, folder)` on `examples` drawn values, each in a fresh temporary folder."""
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(strategy)
    def run(value):
        with tempfile.TemporaryDirectory() as folder:
            check(value, Path(folder))
    run()


def check_single_file(case, folder: Path) -> None:
    (raw, pair), task_id = case
    path = folder / f"{task_id}.json"
    path.write_text(json.dumps(raw))
    try:
        result = load_tasks(str(path))
    except TaskFormatError as err:
        assert pair is not None, f"a valid task was refused: {err}"
        # A non-object top level is the file's fault: there is no task in it to name.
        assert_names(str(err), path, task_id if isinstance(raw, dict) else None, pair)
        return
    assert pair is None, f"loaded although {pair or 'the task'} is broken: {raw}"
    (task,) = result.tasks
    assert task.id == task_id and result.problems == []
    assert_loaded_as_written(task, raw)


task_ids = st.text("abcdef0123456789_-", min_size=1, max_size=10)


@pytest.mark.parametrize("examples", EXAMPLES)
def test_single_task_files(examples):
    fuzz(st.tuples(broken_tasks(), task_ids), check_single_file, examples)


def check_bytes(content: bytes, folder: Path) -> None:
    path = folder / "blob.json"
    path.write_bytes(content)
    for source in (path, folder):  # the file alone, and the folder holding it
        try:
            result = load_tasks(str(source))
        except TaskFormatError as err:
            assert_names(str(err), path, None, None)
            continue
        assert all(f"file {path}" in p and len(p) < MESSAGE_LIMIT for p in result.problems), result.problems
        assert result.tasks or result.problems, "a file that gives no task must say why"


@st.composite
def damaged_json(draw) -> bytes:
    """Valid task text cut short, with bytes flipped or inserted, re-encoded, or arbitrary bytes."""
    text = json.dumps(draw(tasks())).encode()
    how = draw(st.sampled_from(["truncate", "flip", "insert", "utf16", "latin1", "bom", "random", "value", "deep",
                                "digits"]))
    if how == "deep":  # nesting past what the JSON parser recurses into
        depth = draw(st.sampled_from([10, 1000, 100_000]))
        return b'{"train": ' + b"[" * depth + b"]" * depth + b', "test": []}'
    if how == "digits":  # an integer longer than Python converts from text
        return text.replace(b"[[", b"[[" + b"7" * draw(st.integers(1, 6000)) + b", ", 1)
    if how == "truncate":
        return text[: draw(st.integers(0, len(text) - 1))]
    if how == "flip":
        at = draw(st.integers(0, len(text) - 1))
        return text[:at] + bytes([draw(st.integers(0, 255))]) + text[at + 1 :]
    if how == "insert":
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(st.binary(min_size=1, max_size=4)) + text[at:]
    if how == "utf16":
        return text.decode().encode("utf-16")
    if how == "latin1":
        return text.decode().replace("train", "tr\u00e4in").encode("latin-1")
    if how == "bom":
        return b"\xef\xbb\xbf" + text
    if how == "random":
        return draw(st.binary(max_size=64))
    return json.dumps(draw(json_values)).encode()


@pytest.mark.parametrize("examples", EXAMPLES)
def test_damaged_and_arbitrary_bytes(examples):
    fuzz(damaged_json(), check_bytes, examples)


def check_folder(case, folder: Path) -> None:
    files = {}
    for i, (raw, pair) in enumerate(case):
        files[f"t{i:02d}"] = (raw, pair)
        (folder / f"t{i:02d}.json").write_text(json.dumps(raw))
    good = sorted(tid for tid, (_, pair) in files.items() if pair is None)
    bad = sorted(tid for tid, (_, pair) in files.items() if pair is not None)
    result = load_tasks(str(folder))
    assert [t.id for t in result.tasks] == good
    assert len(result.problems) == len(bad)
    for tid, problem in zip(bad, result.problems):
        raw, pair = files[tid]
        assert_names(problem, folder / f"{tid}.json", tid, pair)
    if bad:
        with pytest.raises(TaskFormatError) as err:
            load_tasks(str(folder), strict=True)
        assert str(err.value) == result.problems[0]  # the first bad file, in id order
    else:
        assert [t.id for t in load_tasks(str(folder), strict=True).tasks] == good


@pytest.mark.parametrize("examples", EXAMPLES)
def test_folders_keep_good_tasks_and_list_bad_ones(examples):
    fuzz(st.lists(broken_tasks(), min_size=1, max_size=5), check_folder, examples)


@st.composite
def kaggle_pairs(draw) -> tuple[dict, dict, dict[str, str | None]]:
    """(challenges, solutions, what each task id must give): None loads, else the fault's location."""
    challenges, solutions, expected = {}, {}, {}
    ids = draw(st.lists(st.sampled_from(["k0", "k1", "k2", "", "\u00e9t\u00e9", "a b"]), min_size=1, max_size=4,
                        unique=True))
    for tid in ids:
        raw, pair = draw(broken_tasks())
        # Challenges carry no answers, unless the fault is in one (then it stays, to be found).
        if isinstance(raw, dict) and isinstance(raw.get("test"), list) and not re.fullmatch(r"test pair \d+ output",
                                                                                              pair or ""):
            for test in raw["test"]:
                if isinstance(test, dict):
                    test.pop("output", None)
        outputs = [draw(grids()) for _ in range(len(raw["test"]))] if pair is None else [draw(grids())]
        answer = draw(st.sampled_from(["right", "count", "grid", "type", "missing"])) if pair is None else "right"
        if answer == "count":
            outputs = outputs + [draw(grids())] if draw(st.booleans()) or len(outputs) == 1 else outputs[:-1]
            pair = ""
        elif answer == "grid":
            at = draw(st.integers(0, len(outputs) - 1))
            outputs[at] = draw(bad_grids())
            pair = f"test pair {at} solution"
        elif answer == "type":
            outputs, pair = draw(json_scalars | st.dictionaries(st.text(max_size=3), json_scalars, max_size=2)), ""
        elif answer == "missing":
            pair = ""
        challenges[tid] = raw
        if answer != "missing":
            solutions[tid] = outputs
        expected[tid] = pair
    return challenges, solutions, expected


def check_kaggle(case, folder: Path) -> None:
    challenges, solutions, expected = case
    path, answers = folder / "set_challenges.json", folder / "set_solutions.json"
    path.write_text(json.dumps(challenges))
    answers.write_text(json.dumps(solutions))
    result = load_tasks(str(path))
    assert [t.id for t in result.tasks] == sorted(tid for tid, pair in expected.items() if pair is None)
    assert all(t.has_test_outputs for t in result.tasks)
    bad = sorted(tid for tid, pair in expected.items() if pair is not None)
    assert len(result.problems) == len(bad), result.problems
    for problem in result.problems:
        tid = next(t for t in bad if re.search(rf"task {re.escape(t or repr(t))}[,:]", problem))
        assert f"file {path}" in problem or f"file {answers}" in problem, problem
        assert_names(problem, answers if f"file {answers}" in problem else path, tid, expected[tid])
    if bad:
        with pytest.raises(TaskFormatError):
            load_tasks(str(path), strict=True)


@pytest.mark.parametrize("examples", EXAMPLES)
def test_kaggle_challenges_with_solutions(examples):
    fuzz(kaggle_pairs(), check_kaggle, examples)


BIG = 50_000_000  # bytes
SMALL_TASK = {"train": [{"input": [[1, 2]], "output": [[2, 1]]}], "test": [{"input": [[3]]}]}


@pytest.mark.parametrize("cut", [False, True], ids=["whole", "truncated"])
def test_a_50_mb_file_loads_or_fails_in_one_line(tmp_path, cut):
    text = json.dumps({**SMALL_TASK, "notes": "x" * BIG})
    path = tmp_path / "huge.json"
    path.write_text(text[: len(text) // 2] if cut else text)
    if not cut:
        (task,) = load_tasks(str(path)).tasks
        assert task.train[0].output.tolist() == [[2, 1]]
        return
    with pytest.raises(TaskFormatError) as err:
        load_tasks(str(path))
    assert_names(str(err.value), path, None, None)
    assert "invalid JSON at line 1" in str(err.value)


@pytest.mark.slow
def test_50_mb_of_grids(tmp_path):
    """A 50 MB file of real cells: one oversized grid is refused by its size, 50 MB of 30x30 demos load."""
    side = int((BIG / 2) ** 0.5)  # "d," per cell
    path = tmp_path / "wide.json"
    wide = {"train": [{"input": [[1] * side] * side, "output": [[1]]}], "test": [{"input": [[1]]}]}
    path.write_text(json.dumps(wide, separators=(",", ":")))
    assert path.stat().st_size > 0.9 * BIG
    with pytest.raises(TaskFormatError, match=rf"train pair 0 input: grid is {side}x{side}, larger than 30x30"):
        load_tasks(str(path))
    pair = {"input": [[1] * 30] * 30, "output": [[2] * 30] * 30}
    count = BIG // len(json.dumps(pair))
    path.write_text(json.dumps({"train": [pair] * count, "test": [{"input": [[1]]}]}))
    assert path.stat().st_size > 0.9 * BIG
    (task,) = load_tasks(str(path)).tasks
    assert len(task.train) == count and task.train[-1].output.shape == (30, 30)
