"""Per-task solve records and the run folder's resumable state.

`EVAL_DIR/tasks.jsonl` gets one JSON line per finished task, appended and flushed as soon as the task is
done, so an interrupted run restarted with the same folder skips those tasks. `EVAL_DIR/run.json` holds
the checkpoint and solve settings; a restart with different ones is refused (mixing them would make
the scores meaningless).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from arc_efe.config import diff
from arc_efe.data.grid import grid_to_list
from arc_efe.data.task import Task

logger = logging.getLogger(__name__)

RECORDS_FILE = "tasks.jsonl"
RUN_FILE = "run.json"
LEVERS = ("plain", "ttt", "vote", "search")

Attempts = list[list[np.ndarray]]  # per test input, the attempt grids


@dataclass
class TaskRecord:
    """What solving one task produced and measured. Grades (`correct`...) stay None when the test
    outputs are unknown. `lever` names what first solves a solved task: the plain prediction, the
    test-time-trained prediction without augmentation, the vote over views, or a search program (the
    neural levers are tried first). `experts[t][k]` names the expert behind attempt k of test input t
    ("neural", "plain" for the fallback, or "search", whose program text is `programs[t][k]`)."""

    id: str
    attempts: Attempts
    plain_attempts: Attempts
    refined: list[np.ndarray]  # per test input, the refined prediction on the un-augmented input
    seconds: float
    ttt: dict[str, Any] = field(default_factory=dict)  # test-time training: steps, stopped, demo accuracy
    votes: list[list[int]] = field(default_factory=list)  # per test input, votes of each attempt
    views: int = 0  # augmented views that voted
    error: str | None = None
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage of the task's clock, and total
    experts: list[list[str]] = field(default_factory=list)
    programs: list[list[str | None]] = field(default_factory=list)
    correct: list[bool] | None = None
    plain_correct: list[bool] | None = None
    ttt_correct: list[bool] | None = None
    solved: bool | None = None
    lever: str | None = None

    def grade(self, task: Task) -> None:
        """Fill the grades from the task's test outputs (no-op when any is unknown)."""
        if not task.has_test_outputs:
            return
        truths = [p.output for p in task.test]

        def hits(tries: list[list[np.ndarray]]) -> list[bool]:
            return [any(np.array_equal(g, t) for g in row) for row, t in zip(tries, truths)]

        self.correct = hits(self.attempts)
        self.plain_correct = hits(self.plain_attempts)
        self.ttt_correct = hits([[g] for g in self.refined]) if self.refined else [False] * len(truths)
        self.solved = all(self.correct)
        by_search = any(self._solved_only_by_search(row, t) for row, t in zip(range(len(truths)), truths))
        levers = (all(self.plain_correct), all(self.ttt_correct), self.solved and not by_search, self.solved)
        self.lever = next((name for name, ok in zip(LEVERS, levers) if ok), None) if self.solved else None

    def _solved_only_by_search(self, test: int, truth: np.ndarray) -> bool:
        """Test input `test`'s right attempts all came from the search expert."""
        if not self.experts:
            return False
        right = [k for k, g in enumerate(self.attempts[test]) if np.array_equal(g, truth)]
        return bool(right) and all(self.experts[test][k] == "search" for k in right)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["attempts"] = [[grid_to_list(g) for g in row] for row in self.attempts]
        data["plain_attempts"] = [[grid_to_list(g) for g in row] for row in self.plain_attempts]
        data["refined"] = [grid_to_list(g) for g in self.refined]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskRecord:
        data = dict(data)

        def grid(g: list) -> np.ndarray:
            return np.asarray(g, dtype=np.int64)

        data["attempts"] = [[grid(g) for g in row] for row in data["attempts"]]
        data["plain_attempts"] = [[grid(g) for g in row] for row in data["plain_attempts"]]
        data["refined"] = [grid(g) for g in data["refined"]]
        return cls(**data)


def read_records(out_dir: Path) -> dict[str, TaskRecord]:
    """Records already in `out_dir`, by task id; a torn last line (a crash mid-write) is ignored."""
    path = out_dir / RECORDS_FILE
    if not path.exists():
        return {}
    records: dict[str, TaskRecord] = {}
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = TaskRecord.from_json(json.loads(line))
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            if number == len(lines):
                logger.warning("%s line %d is incomplete (interrupted write); that task is redone", path, number)
                # Drop the torn line, or the next append would be glued onto it.
                tmp = path.with_name(f".{path.name}.tmp")
                tmp.write_text("".join(f"{good}\n" for good in lines[:-1]))
                os.replace(tmp, path)
                continue
            raise ValueError(f"{path} line {number}: not a task record ({err})") from err
        records[record.id] = record
    return records


def append_record(out_dir: Path, record: TaskRecord) -> None:
    """Append one record and flush it to disk before the next task starts."""
    with open(out_dir / RECORDS_FILE, "a") as f:
        f.write(json.dumps(record.to_json()) + "\n")
        f.flush()
        os.fsync(f.fileno())


def check_run(out_dir: Path, settings: dict[str, Any]) -> None:
    """Write `run.json`, or check that an existing one has the same settings (else ValueError naming
    the differing fields)."""
    path = out_dir / RUN_FILE
    if path.exists():
        saved = json.loads(path.read_text())
        changed = diff(saved, settings)
        if changed:
            raise ValueError(
                f"{out_dir} holds a run with other settings; finish it with the same ones or use another --out. "
                "Differences (saved -> now):\n  " + "\n  ".join(changed)
            )
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2))
