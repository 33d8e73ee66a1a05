"""`arc-efe score`: validate a Kaggle submission and score it against tasks with known test outputs."""

from __future__ import annotations

import argparse
import json
import sys

from arc_efe.data.bundled import BUNDLED_SETS
from arc_efe.data.grid import TaskFormatError
from arc_efe.data.sources import load_tasks
from arc_efe.objective.scoring import Scores
from arc_efe.solving.submission import SubmissionError, load_submission, score_submission


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("score", help="score a Kaggle submission.json against known test outputs")
    parser.add_argument("submission", help="Kaggle submission JSON")
    parser.add_argument(
        "--tasks",
        required=True,
        help=f"tasks to score on: a bundled set ({', '.join(BUNDLED_SETS)}), task file, challenges file or folder",
    )
    parser.add_argument("--solutions", help="Kaggle solutions JSON when --tasks is a challenges file")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    parser.set_defaults(func=score)


def score(args: argparse.Namespace) -> int:
    try:
        result = load_tasks(args.tasks, solutions=args.solutions)
    except (TaskFormatError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if result.problems:
        # Skipped tasks drop out of both averages, so the reader must know the score covers fewer.
        skipped = len(result.problems)
        print(f"warning: {skipped} task(s) in {args.tasks} could not be loaded and are not scored", file=sys.stderr)
    try:
        submission = load_submission(args.submission, tasks=result.tasks)
        scores = score_submission(submission, result.tasks)
    except SubmissionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(scores.to_dict(), indent=2) if args.json else _summary(scores))
    return 0


def _summary(scores: Scores) -> str:
    solved_tests = sum(sum(r) for r in scores.per_task.values())
    return "\n".join([
        f"test score (Kaggle, per test output):  {scores.test_score:.4f}  "
        f"({solved_tests}/{scores.num_test_inputs} test outputs)",
        f"task score (ARC Prize, mean per task): {scores.task_score:.4f}  ({scores.num_tasks} tasks)",
        f"solved tasks (every test output right): {len(scores.solved_tasks)}/{scores.num_tasks}",
    ])
