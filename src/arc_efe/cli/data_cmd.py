"""`arc-efe data list|check`: look at and validate task sources from the command line."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator

import numpy as np

from arc_efe.data.bundled import BUNDLED_SETS
from arc_efe.data.grid import TaskFormatError
from arc_efe.data.sources import LoadResult, load_tasks
from arc_efe.data.task import Task

_SOURCE_HELP = f"a bundled set ({', '.join(BUNDLED_SETS)}), a task JSON, a Kaggle challenges JSON or a folder"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="list and validate ARC task sources")
    data_sub = parser.add_subparsers(dest="data_command", required=True)

    list_parser = data_sub.add_parser("list", help="one line per task: demos, tests, grid sizes")
    list_parser.add_argument("source", help=_SOURCE_HELP)
    list_parser.add_argument("--solutions", help="Kaggle solutions JSON for a challenges file")
    list_parser.set_defaults(func=list_tasks)

    check_parser = data_sub.add_parser("check", help="validate every task; exit code 1 on any problem")
    check_parser.add_argument("path", help=_SOURCE_HELP)
    check_parser.add_argument("--solutions", help="Kaggle solutions JSON for a challenges file")
    check_parser.set_defaults(func=check_tasks)


def list_tasks(args: argparse.Namespace) -> int:
    """Print one line per task and a summary; exit code 1 if any task could not be loaded."""
    result = _load(args.source, args.solutions)
    if result is None:
        return 1
    for task in result.tasks:
        print(_task_line(task))
    print(_summary(result))
    return 1 if result.problems else 0


def check_tasks(args: argparse.Namespace) -> int:
    """Print every problem in a source; exit code 1 if there is any, else "N tasks OK"."""
    # Problems are printed here, so the loader's per-task warnings would only repeat them.
    with _quiet(logging.getLogger("arc_efe.data.sources")):
        result = _load(args.path, args.solutions)
    if result is None:
        return 1
    for problem in result.problems:
        print(f"problem: {problem}")
    if result.problems:
        print(f"{len(result.tasks)} tasks OK, {len(result.problems)} problem(s)")
        return 1
    print(f"{len(result.tasks)} tasks OK")
    return 0


def _load(source: str, solutions: str | None) -> LoadResult | None:
    """Load a source, or print why the whole source is unusable and return None."""
    try:
        return load_tasks(source, solutions=solutions)
    except (TaskFormatError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return None


def _task_line(task: Task) -> str:
    inputs = [p.input for p in task.train + task.test]
    outputs = [p.output for p in task.train + task.test if p.output is not None]
    return (
        f"{task.id}  demos={len(task.train)} tests={len(task.test)}  "
        f"in={_size_range(inputs)}  out={_size_range(outputs)}"
    )


def _size_range(grids: list[np.ndarray]) -> str:
    """`HxW` when all grids share a size, else `minHxminW-maxHxmaxW` (heights and widths ranged apart)."""
    heights = [g.shape[0] for g in grids]
    widths = [g.shape[1] for g in grids]
    low, high = f"{min(heights)}x{min(widths)}", f"{max(heights)}x{max(widths)}"
    return low if low == high else f"{low}-{high}"


def _summary(result: LoadResult) -> str:
    demos = sum(len(t.train) for t in result.tasks)
    tests = sum(len(t.test) for t in result.tasks)
    solved = sum(p.output is not None for t in result.tasks for p in t.test)
    line = f"{len(result.tasks)} tasks, {demos} demo pairs, {tests} test inputs ({solved} with outputs)"
    return line + (f", {len(result.problems)} problem(s)" if result.problems else "")


@contextlib.contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
