"""Run outputs: `submission.json`, `scores.json` and `report/` (one PNG per task and an offline
`index.html` listing solved and unsolved tasks with their pictures).

Refinement gain is measured on the same run: the plain attempts (no refinement, no voting) of every
task are scored next to the final ones, and the gain is final minus plain.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from arc_efe.data.task import Task
from arc_efe.solving.records import LEVERS, TaskRecord
from arc_efe.solving.render import render_task
from arc_efe.objective.scoring import Scores
from arc_efe.solving.submission import score_submission, write_submission

logger = logging.getLogger(__name__)

SUBMISSION_FILE = "submission.json"
SCORES_FILE = "scores.json"
REPORT_DIR = "report"


def picture_name(task_id: str) -> str:
    """A file name for the task's PNG (ids from folders may hold any character)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", task_id) + ".png"


def render_record(out_dir: Path, task: Task, record: TaskRecord, overwrite: bool = True) -> Path:
    """The task with its attempts (marked when the outputs are known) to `report/<id>.png`."""
    path = out_dir / REPORT_DIR / picture_name(task.id)
    if overwrite or not path.exists():
        render_task(task, dict(enumerate(record.attempts)), path=path, notes=program_notes(record.programs))
    return path


def program_notes(programs: list[list[str | None]]) -> list[str]:
    """One line per attempt that a search program made: `test 1, attempt 2: flip_lr`."""
    return [f"test {t + 1}, attempt {k + 1}: {p}" for t, row in enumerate(programs) for k, p in enumerate(row) if p]


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _ttt_summary(records: list[TaskRecord]) -> dict[str, Any]:
    info = [r.ttt for r in records if r.error is None]
    before = [i["demo_before"] for i in info if "demo_before" in i]
    after = [i["demo_after"] for i in info if "demo_after" in i]
    return {
        "steps_mean": _mean([i.get("steps", 0) for i in info]),
        "stopped": dict(Counter(i.get("stopped", "budget") for i in info)),
        "size_rule_tasks": sum(i.get("size_rule") is not None for i in info),
        "demo_exact_before_mean": _mean([b["exact"] for b in before]),
        "demo_exact_after_mean": _mean([a["exact"] for a in after]),
        "demo_cell_accuracy_before_mean": _mean([b["cell_accuracy"] for b in before]),
        "demo_cell_accuracy_after_mean": _mean([a["cell_accuracy"] for a in after]),
    }


def _task_summary(record: TaskRecord) -> dict[str, Any]:
    data = record.to_json()
    for grids in ("attempts", "plain_attempts", "refined"):
        data.pop(grids)  # the grids are in submission.json and tasks.jsonl
    return data


def _scored(final: Scores, plain: Scores, records: list[TaskRecord]) -> dict[str, Any]:
    return {
        "test_score": final.test_score,
        "task_score": final.task_score,
        "solved_tasks": final.solved_tasks,
        "per_test": final.per_task,
        "plain": {"test_score": plain.test_score, "task_score": plain.task_score,
                  "solved_tasks": plain.solved_tasks},
        "ttt_gain": {"test_score": final.test_score - plain.test_score,
                            "task_score": final.task_score - plain.task_score},
        "levers": {lever: sum(r.lever == lever for r in records) for lever in LEVERS},
        # Which expert gave each task's first attempt (per test input), and how many of those were right.
        "first_attempt_experts": dict(Counter(row[0] for r in records for row in r.experts)),
    }


def summarize(tasks: list[Task], records: dict[str, TaskRecord]) -> dict[str, Any]:
    """Scores (when every test output is known), timing, refinement statistics and per-task records."""
    rows = [records[t.id] for t in tasks]
    seconds = [r.seconds for r in rows]
    summary: dict[str, Any] = {
        "num_tasks": len(tasks),
        "num_test_inputs": sum(len(t.test) for t in tasks),
        "seconds_per_task": {"mean": _mean(seconds), "max": max(seconds, default=None), "total": sum(seconds),
                             "per_task": {r.id: r.seconds for r in rows}},
        "views_mean": _mean([r.views for r in rows]),
        "ttt": _ttt_summary(rows),
        "errors": {r.id: r.error for r in rows if r.error},
    }
    if tasks and all(t.has_test_outputs for t in tasks):
        final = score_submission({r.id: r.attempts for r in rows}, tasks)
        plain = score_submission({r.id: r.plain_attempts for r in rows}, tasks)
        summary.update(_scored(final, plain, rows))
    summary["tasks"] = [_task_summary(r) for r in rows]
    return summary


def _fmt(score: dict | None) -> str:
    return "–" if not score else f"{score['exact']:.2f} exact, {score['cell_accuracy']:.2f} cells"


def _entry(out_dir: Path, record: TaskRecord) -> str:
    info = record.ttt
    facts = [f"lever: {record.lever or '–'}",
             f"refinement: {info.get('steps', 0)} steps ({info.get('stopped', '–')})",
             f"demos before: {_fmt(info.get('demo_before'))}", f"after: {_fmt(info.get('demo_after'))}",
             f"views: {record.views}", f"{record.seconds:.1f} s"]
    if record.error:
        facts.append(f"error: {record.error}")
    picture = picture_name(record.id)
    image = (f'<img src="{html.escape(picture)}" alt="task {html.escape(record.id)}" loading="lazy">'
             if (out_dir / REPORT_DIR / picture).exists() else "<p>(no picture)</p>")
    return (f'<section id="{html.escape(record.id)}"><h3>{html.escape(record.id)}</h3>'
            f"<p>{html.escape(' · '.join(facts))}</p>{image}</section>")


def write_index(out_dir: Path, tasks: list[Task], records: dict[str, TaskRecord], summary: dict[str, Any]) -> Path:
    """`report/index.html`: headline numbers, then solved and unsolved tasks (or all tasks when the
    outputs are unknown), each with its facts and picture. Self-contained, no network."""
    rows = [records[t.id] for t in tasks]
    if "test_score" in summary:
        head = (f"test score {summary['test_score']:.4f} (plain {summary['plain']['test_score']:.4f}), "
                f"task score {summary['task_score']:.4f}, solved {len(summary['solved_tasks'])}/{len(tasks)}")
        groups = [("Solved", [r for r in rows if r.solved]), ("Unsolved", [r for r in rows if not r.solved])]
    else:
        head = f"{len(tasks)} tasks, test outputs unknown (no marks)"
        groups = [("Tasks", rows)]
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>arc-efe report</title>",
             "<style>body{font-family:sans-serif;margin:2em}img{max-width:100%;border:1px solid #ccc}"
             "section{margin-bottom:2em}</style></head><body>",
             f"<h1>arc-efe report</h1><p>{html.escape(head)}</p>"]
    for title, group in groups:
        links = " ".join(f'<a href="#{html.escape(r.id)}">{html.escape(r.id)}</a>' for r in group)
        parts.append(f"<h2>{title} ({len(group)})</h2><p>{links}</p>")
        parts.extend(_entry(out_dir, r) for r in group)
    parts.append("</body></html>")
    path = out_dir / REPORT_DIR / "index.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def write_outputs(out_dir: Path, tasks: list[Task], records: dict[str, TaskRecord], report: bool) -> dict[str, Any]:
    """submission.json (2 attempts per test input), scores.json, and report/index.html when `report`."""
    write_submission({t.id: records[t.id].attempts for t in tasks}, out_dir / SUBMISSION_FILE)
    summary = summarize(tasks, records)
    (out_dir / SCORES_FILE).write_text(json.dumps(summary, indent=2))
    if report:
        write_index(out_dir, tasks, records, summary)
    logger.info("wrote %s and %s to %s", SUBMISSION_FILE, SCORES_FILE, out_dir)
    return summary
