"""Can the halting head stop planning early (issue 16.5)? It is trained (the EFE `step` term) but never read.
This measures what reading it would gain or lose, on leave-one-out demo rows of the sets of bench/prior.py
(each demo the query, the other demos the context, the output size predicted as when solving, 30x30 canvas):

  last    every row runs all T planning steps (what the agent does today);
  halt    a row stops at the first step with σ(h_t) > 0.5 (else T);
  argmax  a row stops at the step the halting distribution π (efe.halting_distribution) puts most mass on;
  oracle  the step with the best cell accuracy for that row: a ceiling, never usable.

Per rule: mean steps run as a share of T, cell accuracy (0 when the size is wrong) and exact rows. Since a batch
runs its steps together, `halt_task_steps` is the share of steps a task's batch would run if it stopped once all
its rows had halted.

    python bench/halting.py [--checkpoint RUN_DIR] [--limit-generated 40] [--sets generated,heldout] [--steps T]

Last line: `key=value`: `steps_{rule}_SET=`, `cell_{rule}_SET=`, `exact_{rule}_SET=`, `halt_task_steps_SET=`.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from prior import add_set_arguments, measure_sets

from arc_efe.data.augment import IDENTITY
from arc_efe.data.batching import collate, make_sample
from arc_efe.data.grid import MAX_SIZE
from arc_efe.data.task import Task
from arc_efe.objective.efe import halting_distribution
from arc_efe.objective.metrics import cell_accuracy, exact_match
from arc_efe.system import ArcSystem

RULES = ("last", "halt", "argmax", "oracle")


@torch.no_grad()
def task_rows(system: ArcSystem, task: Task, steps: int | None) -> dict[str, np.ndarray]:
    """Per leave-one-out row: cell accuracy and exactness at every step [R, T], and the halting logits [R, T]."""
    batch = collate([make_sample(task, i, IDENTITY) for i in range(len(task.train))], canvas=MAX_SIZE)
    prompt = system.prompts(batch.contexts, batch.stats, sample_offset=False).refined
    out = system.predict(batch.query_input, batch.query_input_mask, prompt, steps=steps)
    cells, exact = [], []
    for t in range(out.steps):
        grid, size = out.predict(step=t)
        cells.append(cell_accuracy(grid, size, batch.query_output, batch.output_size))
        exact.append(exact_match(grid, size, batch.query_output, batch.output_size).float())
    return {"cell": torch.stack(cells, 1).numpy(), "exact": torch.stack(exact, 1).numpy(),
            "halt": out.halt_logits.float().numpy()}


def stop_steps(cell: np.ndarray, halt_logits: np.ndarray) -> dict[str, np.ndarray]:
    """The 0-based step each rule stops at, per row [R]."""
    last = cell.shape[1] - 1
    fired = 1 / (1 + np.exp(-halt_logits)) > 0.5
    first = np.where(fired.any(1), fired.argmax(1), last)
    pi = halting_distribution(torch.from_numpy(halt_logits)).numpy()
    return {"last": np.full(len(cell), last), "halt": first, "argmax": pi.argmax(1), "oracle": cell.argmax(1)}


def measure(system: ArcSystem, tasks: list[Task], steps: int | None) -> dict[str, float]:
    sums = {f"{k}_{r}": [] for k in ("steps", "cell", "exact") for r in RULES}
    task_steps = []
    for task in tasks:
        if len(task.train) < 2:
            continue
        rows = task_rows(system, task, steps)
        count = rows["cell"].shape[1]
        stops = stop_steps(rows["cell"], rows["halt"])
        index = np.arange(len(rows["cell"]))
        for rule, at in stops.items():
            sums[f"steps_{rule}"].extend((at + 1) / count)
            sums[f"cell_{rule}"].extend(rows["cell"][index, at])
            sums[f"exact_{rule}"].extend(rows["exact"][index, at])
        task_steps.append((stops["halt"].max() + 1) / count)
    out = {k: float(np.mean(v)) for k, v in sums.items()}
    out["halt_task_steps"] = float(np.mean(task_steps))
    out["rows"] = len(sums["cell_last"])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_set_arguments(p, "generated,heldout")
    p.add_argument("--steps", type=int, help="planning steps T (default: the agent's own)")
    args = p.parse_args(argv)
    return measure_sets(p, args, lambda system, tasks: measure(system, tasks, args.steps),
                        f"steps {args.steps or 'the agent default'}")


if __name__ == "__main__":
    sys.exit(main())
