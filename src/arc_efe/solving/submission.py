"""Kaggle ARC Prize submission files: write, load/validate, and score against known test outputs.

Format: `{task_id: [{"attempt_1": grid, "attempt_2": grid}, ...]}`, one dict per test input, in
order. In memory a submission is `{task_id: [[attempt_1, attempt_2], ...]}` of int64 arrays.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from arc_efe.data.grid import TaskFormatError, grid_to_list, to_grid, where
from arc_efe.data.task import Task
from arc_efe.objective.scoring import NUM_ATTEMPTS, Scores, score_attempts

logger = logging.getLogger(__name__)

ATTEMPT_KEYS = tuple(f"attempt_{k + 1}" for k in range(NUM_ATTEMPTS))

Submission = dict[str, list[list[np.ndarray]]]


class SubmissionError(ValueError):
    """A submission is malformed or does not match the tasks; the message names file, task and test."""


def _location(origin: str | None, task_id: str, index: int | None = None) -> str:
    return where(origin, task_id, None if index is None else f"test {index}")


def write_submission(predictions: Submission, path: str | Path) -> None:
    """Write `predictions[task_id][test_index] = [attempt, ...]` in Kaggle format.

    Always two attempts: a single attempt is repeated (Kaggle requires both keys); attempts beyond two
    are dropped. The file is replaced atomically so a crash never leaves half a submission.
    """
    payload: dict[str, list[dict[str, list[list[int]]]]] = {}
    for task_id, tests in predictions.items():
        entries = []
        for i, attempts in enumerate(tests):
            if len(attempts) == 0:
                raise SubmissionError(f"{_location(None, task_id, i)}: no attempts to write")
            padded = list(attempts[:NUM_ATTEMPTS]) + [attempts[0]] * (NUM_ATTEMPTS - len(attempts))
            location = _location(None, task_id, i)
            try:
                grids = [to_grid(g, f"{location}, {key}") for key, g in zip(ATTEMPT_KEYS, padded)]
            except TaskFormatError as err:
                raise SubmissionError(str(err)) from err
            entries.append({key: grid_to_list(g) for key, g in zip(ATTEMPT_KEYS, grids)})
        payload[task_id] = entries

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    logger.info("wrote submission for %d tasks to %s", len(payload), path)


def _parse_entry(entry: Any, location: str) -> list[np.ndarray]:
    """One test input's `{"attempt_1": grid, "attempt_2": grid}` -> [grid, grid]."""
    if not isinstance(entry, dict):
        keys = ", ".join(ATTEMPT_KEYS)
        raise SubmissionError(f"{location}: expected a dict with {keys}, got {type(entry).__name__}")
    missing = [key for key in ATTEMPT_KEYS if key not in entry]
    if missing:
        raise SubmissionError(f"{location}: missing {', '.join(missing)}")
    try:
        return [to_grid(entry[key], f"{location}, {key}") for key in ATTEMPT_KEYS]
    except TaskFormatError as err:
        raise SubmissionError(str(err)) from err


def _check_coverage(submission: dict[str, list], tasks: list[Task], origin: str | None) -> None:
    """Every task present with exactly one entry per test input."""
    for task in tasks:
        if task.id not in submission:
            raise SubmissionError(f"{_location(origin, task.id)}: missing from the submission")
        got = len(submission[task.id])
        if got != len(task.test):
            raise SubmissionError(
                f"{_location(origin, task.id)}: {got} test entries, the task has {len(task.test)} test inputs"
            )
    extra = set(submission) - {t.id for t in tasks}
    if extra:
        logger.debug("%d submission tasks are not in the task list (ignored when scoring)", len(extra))


def load_submission(path: str | Path, tasks: list[Task] | None = None) -> Submission:
    """Read and validate a Kaggle submission; with `tasks`, also check each task is covered exactly.

    Raises SubmissionError naming the file, task and test index for anything malformed.
    """
    origin = str(path)
    try:
        with open(path) as f:
            raw = json.load(f)
    except FileNotFoundError as err:
        raise SubmissionError(f"file {origin}: not found") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SubmissionError(f"file {origin}: not valid JSON ({err})") from err
    if not isinstance(raw, dict):
        raise SubmissionError(f"file {origin}: expected a JSON object of task ids, got {type(raw).__name__}")

    submission: Submission = {}
    for task_id, entries in raw.items():
        if not isinstance(entries, list):
            raise SubmissionError(
                f"{_location(origin, task_id)}: expected a list of test entries, got {type(entries).__name__}"
            )
        submission[task_id] = [_parse_entry(e, _location(origin, task_id, i)) for i, e in enumerate(entries)]
    if tasks is not None:
        _check_coverage(submission, tasks, origin)
    return submission


def score_submission(submission: Submission, tasks: list[Task]) -> Scores:
    """Score the first two attempts per test input (objective.scoring); the submission must cover every
    task and test input, whose outputs must be known (SubmissionError naming the task and test)."""
    if not tasks:
        raise SubmissionError("no tasks to score against")
    _check_coverage(submission, tasks, None)
    try:
        return score_attempts(submission, tasks)
    except ValueError as err:
        raise SubmissionError(str(err)) from err
