"""Task sources behind one call, `load_tasks`: bundled sets, a task file, a Kaggle challenges file
(with solutions) or a folder of task files. Also owns validation of whole tasks.

Error policy: a problem with the whole source (missing path, unreadable JSON of a single or
challenges file, wrong top-level type) raises. A bad task inside a many-task source is skipped with a
warning and recorded in `LoadResult.problems`, unless `strict=True`, which raises on the first one.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from arc_efe.data.bundled import BUNDLED_SETS, bundled_file, bundled_raw
from arc_efe.data.grid import TaskFormatError, to_grid, where
from arc_efe.data.task import Pair, Task

logger = logging.getLogger(__name__)

__all__ = ["BUNDLED_SETS", "LoadResult", "TaskNotFoundError", "find_task", "load_tasks", "parse_task"]

_SUFFIX_CHALLENGES = "_challenges.json"
_SUFFIX_SOLUTIONS = "_solutions.json"


@dataclass
class LoadResult:
    """Tasks that loaded, sorted by id, and one full human message per task that did not."""

    tasks: list[Task] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class TaskNotFoundError(KeyError):
    """A task id is in none of the bundled sets."""

    def __str__(self) -> str:
        # KeyError's own __str__ would print the message in quotes.
        return str(self.args[0])


def load_tasks(source: str, *, solutions: str | None = None, strict: bool = False) -> LoadResult:
    """Load tasks from a bundled set name, a task JSON, a Kaggle challenges JSON or a folder of task JSONs.

    `solutions` (Kaggle `{task_id: [output_grid, ...]}`) applies to a challenges file only; when it is
    None and the file is `X_challenges.json`, a sibling `X_solutions.json` is used if present.
    """
    if source in BUNDLED_SETS:
        _no_solutions(source, solutions)
        return _load_bundled(source, strict)
    path = Path(source)
    if path.is_dir():
        _no_solutions(source, solutions)
        return _load_folder(path, strict)
    if not path.is_file():
        raise FileNotFoundError(
            f"task source {source!r} is not a file, a folder or a bundled set ({', '.join(BUNDLED_SETS)})"
        )
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise TaskFormatError(
            f"{where(file=str(path))}: top level must be a JSON object (one task with 'train' and 'test', "
            f"or a challenges file of tasks by id), got {type(raw).__name__}"
        )
    if not raw:
        raise TaskFormatError(f"{where(file=str(path))}: an empty JSON object, neither a task nor a challenges file")
    if "train" in raw or "test" in raw:
        _no_solutions(source, solutions)
        # A single-task file has nothing else to keep, so a bad task raises even without `strict`.
        return LoadResult(tasks=[parse_task(raw, path.stem, file=str(path), source=source)])
    return _load_challenges(path, raw, _solutions_path(path, solutions), strict)


def find_task(task_id: str) -> Task:
    """The task `task_id` from the bundled sets, searching ARC-AGI-1 first: most ARC-AGI-1 tasks reappear
    in ARC-AGI-2, and the ARC-AGI-1 set is the one a result on them must be reported under."""
    for name in BUNDLED_SETS:
        raw = bundled_raw(name)
        if task_id in raw:
            return parse_task(raw[task_id], task_id, file=bundled_file(name), source=name)
    raise TaskNotFoundError(f"task {task_id!r} not found in the bundled sets {', '.join(BUNDLED_SETS)}")


def read_json(path: Path) -> Any:
    """Parse a JSON file; a syntax error becomes a TaskFormatError naming the file, line and column."""
    loc = where(file=str(path))
    try:
        # utf-8-sig: some editors start a UTF-8 file with a byte-order mark, which plain utf-8 rejects.
        with open(path, encoding="utf-8-sig") as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise TaskFormatError(f"{loc}: invalid JSON at line {err.lineno} column {err.colno}: {err.msg}") from err
    except UnicodeDecodeError as err:
        raise TaskFormatError(f"{loc}: not UTF-8 text ({err.reason})") from err
    except ValueError as err:  # an integer of more digits than Python converts (sys.get_int_max_str_digits)
        raise TaskFormatError(f"{loc}: unreadable JSON value ({err})") from err
    except RecursionError as err:
        raise TaskFormatError(f"{loc}: JSON nested too deeply to be a task") from err


def parse_task(raw: Any, task_id: str, *, file: str | None = None, source: str = "") -> Task:
    """Validate one raw task `{"train": [...], "test": [...]}` and build a Task.

    Demo pairs need `input` and `output`; test pairs need `input`, their `output` is optional.
    """
    loc = where(file=file, task_id=task_id)
    if not isinstance(raw, dict):
        raise TaskFormatError(
            f"{loc}: a task must be a JSON object with 'train' and 'test' lists, got {type(raw).__name__}"
        )
    missing = [key for key in ("train", "test") if key not in raw]
    if missing:
        raise TaskFormatError(f"{loc}: missing key {' and '.join(repr(k) for k in missing)}")
    train = _parse_pairs(raw["train"], "train", file, task_id)
    test = _parse_pairs(raw["test"], "test", file, task_id)
    return Task(id=task_id, train=train, test=test, source=source)


def _parse_pairs(raw_pairs: Any, kind: str, file: str | None, task_id: str) -> list[Pair]:
    loc = where(file=file, task_id=task_id)
    if not isinstance(raw_pairs, list):
        raise TaskFormatError(f"{loc}: '{kind}' must be a list of pairs, got {type(raw_pairs).__name__}")
    if not raw_pairs:
        raise TaskFormatError(f"{loc}: '{kind}' has no pairs")
    pairs = []
    for i, raw in enumerate(raw_pairs):
        pair_loc = where(file=file, task_id=task_id, pair=f"{kind} pair {i}")
        if not isinstance(raw, dict):
            kind_name = type(raw).__name__
            raise TaskFormatError(f"{pair_loc}: a pair must be an object with 'input', got {kind_name}")
        if "input" not in raw:
            raise TaskFormatError(f"{pair_loc}: missing 'input'")
        if kind == "train" and "output" not in raw:
            raise TaskFormatError(f"{pair_loc}: missing 'output' (every demonstration pair needs one)")
        grid_in = to_grid(raw["input"], f"{pair_loc} input")
        grid_out = to_grid(raw["output"], f"{pair_loc} output") if "output" in raw else None
        pairs.append(Pair(grid_in, grid_out))
    return pairs


def _load_bundled(name: str, strict: bool) -> LoadResult:
    return _parse_many(bundled_raw(name), bundled_file(name), name, strict)


def _load_folder(folder: Path, strict: bool) -> LoadResult:
    files = sorted((p for p in folder.iterdir() if p.suffix == ".json" and p.is_file()), key=lambda p: p.stem)
    result = LoadResult()
    if not files:
        _record(result, TaskFormatError(f"folder {folder}: no .json task files"), strict)
    for path in files:
        try:
            result.tasks.append(parse_task(read_json(path), path.stem, file=str(path), source=str(folder)))
        except TaskFormatError as err:
            _record(result, err, strict)
    return result


def _load_challenges(path: Path, raw: dict[str, Any], solutions: Path | None, strict: bool) -> LoadResult:
    result = _parse_many(raw, str(path), str(path), strict)
    if solutions is None:
        return result
    answers = read_json(solutions)
    if not isinstance(answers, dict):
        raise TaskFormatError(
            f"{where(file=str(solutions))}: solutions must be a JSON object of output lists by task id, "
            f"got {type(answers).__name__}"
        )
    tasks = []
    for task in result.tasks:
        try:
            tasks.append(_attach_solutions(task, answers, str(solutions)))
        except TaskFormatError as err:
            _record(result, err, strict)
    extra = sorted(set(answers) - set(raw))
    if extra:
        shown = ", ".join(extra[:5]) + (", ..." if len(extra) > 5 else "")
        loc = where(file=str(solutions))
        err = TaskFormatError(f"{loc}: solutions for {len(extra)} task(s) not in {path}: {shown}")
        _record(result, err, strict)
    return LoadResult(tasks, result.problems)


def _attach_solutions(task: Task, answers: dict[str, Any], file: str) -> Task:
    loc = where(file=file, task_id=task.id)
    if task.id not in answers:
        raise TaskFormatError(f"{loc}: no solutions for this task")
    outputs = answers[task.id]
    if not isinstance(outputs, list):
        got = type(outputs).__name__
        raise TaskFormatError(f"{loc}: solutions must be a list of output grids, got {got}")
    if len(outputs) != len(task.test):
        raise TaskFormatError(f"{loc}: {len(outputs)} solution grid(s) for {len(task.test)} test input(s)")
    test = [
        Pair(pair.input, to_grid(out, where(file=file, task_id=task.id, pair=f"test pair {i} solution")))
        for i, (pair, out) in enumerate(zip(task.test, outputs))
    ]
    return replace(task, test=test)


def _parse_many(raws: dict[str, Any], file: str, source: str, strict: bool) -> LoadResult:
    """Parse the raw tasks of one file by id, sorted by id, skipping bad ones."""
    result = LoadResult()
    for task_id in sorted(raws):
        try:
            result.tasks.append(parse_task(raws[task_id], task_id, file=file, source=source))
        except TaskFormatError as err:
            _record(result, err, strict)
    return result


def _record(result: LoadResult, err: TaskFormatError, strict: bool) -> None:
    if strict:
        raise err
    logger.warning("skipped: %s", err)
    result.problems.append(str(err))


def _solutions_path(path: Path, solutions: str | None) -> Path | None:
    if solutions is not None:
        sol = Path(solutions)
        if not sol.is_file():
            raise FileNotFoundError(f"solutions file {solutions!r} does not exist")
        return sol
    if path.name.endswith(_SUFFIX_CHALLENGES):
        sibling = path.with_name(path.name[: -len(_SUFFIX_CHALLENGES)] + _SUFFIX_SOLUTIONS)
        if sibling.is_file():
            logger.info("using solutions %s", sibling)
            return sibling
    return None


def _no_solutions(source: str, solutions: str | None) -> None:
    if solutions is not None:
        raise ValueError(f"solutions apply to a Kaggle challenges file only, not to {source!r}")
