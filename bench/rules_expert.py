"""The induced-rules program of the search expert alone (`solving/rules_expert.py`): on how many tasks it answers
(every demo reproduced by the rules of the other demos), how many of those answers are right, and its time.

    python bench/rules_expert.py [--tasks arc1/training] [--ids FILE]

`--ids` prints the answered task ids (a `!` after a wrong one). Last line: `answered=... right=... wrong=...
tasks=... ms_per_task=...`. Graded against the test outputs, so run it on tasks you may tune on.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from common import machine_line, summary_line

from arc_efe.data.sources import load_tasks
from arc_efe.solving.rules_expert import rules_predictions


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", default="arc1/training", help="a bundled set name, a task JSON or a folder of them")
    p.add_argument("--ids", action="store_true", help="print the answered task ids")
    args = p.parse_args(argv)
    print(machine_line(), flush=True)
    tasks = [t for t in load_tasks(args.tasks).tasks if t.has_test_outputs]
    answered: list[tuple[str, bool]] = []
    start = time.process_time()
    for task in tasks:
        predictions = rules_predictions(task)
        if predictions is not None:
            answered.append((task.id, all(np.array_equal(g, t.output) for g, t in zip(predictions, task.test))))
    ms = 1000 * (time.process_time() - start) / max(len(tasks), 1)
    right = sum(ok for _, ok in answered)
    if args.ids:
        print(" ".join(f"{i}{'' if ok else '!'}" for i, ok in answered))
    print(f"{args.tasks}: answered {len(answered)} of {len(tasks)}, {right} right; {ms:.1f} ms per task (CPU)")
    print(summary_line({"answered": len(answered), "right": right, "wrong": len(answered) - right,
                        "tasks": len(tasks), "ms_per_task": round(ms, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
