"""Does the refiner policy earn its place when solving (issue 16.5)? Plain prediction (no test-time training)
under four prompts per task, on the sets of bench/prior.py:

  off       p, the encoder's prompt alone;
  mode      p + δ(mode), what the solver starts from today;
  best_of_k p + δ(noise_k*): k policy draws (plus the mode) scored by leave-one-out demo cell accuracy (each demo
            the query, the other demos the context, the true output size given), the best draw kept and applied
            to the test prompt. Chosen from the demos alone, so it is what a solver could do;
  oracle    the draw that is best on the test outputs themselves: a ceiling for any choice of draw, never usable.

Reported per set: leave-one-out demo cell accuracy (off, mode, best draw: in-sample, so biased up), test cell
accuracy (attempt 1, 0 when the size is wrong) and test exact solves (ARC task score of one attempt) per prompt,
and |δ|/|p|, the offset's size against the prompt's.

    python bench/policy.py [--checkpoint RUN_DIR] [--draws 8] [--limit-generated 40] [--sets generated,heldout]

Last line: `key=value` per set: `test_cell_{off,mode,best_of_k,oracle}_SET=`, `solve_{...}_SET=`, `loo_*_SET=`.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from prior import add_set_arguments, measure_sets

from arc_efe.data.augment import IDENTITY
from arc_efe.data.batching import collate, make_sample, make_test_sample
from arc_efe.data.grid import MAX_SIZE
from arc_efe.data.task import Task
from arc_efe.objective.metrics import cell_accuracy, exact_match
from arc_efe.system import ArcSystem

PROMPTS = ("off", "mode", "best_of_k", "oracle")
NOISE_SEED = 0


@torch.no_grad()
def loo_accuracy(system: ArcSystem, task: Task, noise: torch.Tensor) -> np.ndarray:
    """Leave-one-out demo cell accuracy [D + 1] of each draw: row 0 of `noise` [D + 1, P] is the mode (zeros);
    the last entry is the prompt without any offset."""
    batch = collate([make_sample(task, i, IDENTITY) for i in range(len(task.train))])
    base = system.prompts(batch.contexts, batch.stats, sample_offset=False).base  # [R, P]
    accs = []
    for n in [*noise, None]:
        prompt = base if n is None else base + system.policy_offsets(base, batch.stats, n)
        grid, size = system.predict(batch.query_input, batch.query_input_mask, prompt,
                                    out_size=batch.output_size).predict()
        accs.append(float(cell_accuracy(grid, size, batch.query_output, batch.output_size).mean()))
    return np.array(accs)


@torch.no_grad()
def test_scores(system: ArcSystem, task: Task, noise: torch.Tensor) -> tuple[np.ndarray, np.ndarray, float]:
    """(cell accuracy [D + 1], exact solve [D + 1]) on the test outputs per draw (last: no offset), and |δ|/|p|
    of the mode. The output size is not given: this is plain prediction as the solver does it."""
    batch = collate([make_test_sample(task, i, IDENTITY) for i in range(len(task.test))], canvas=MAX_SIZE)
    base = system.prompts(batch.contexts, batch.stats, sample_offset=False).base
    cells, solves = [], []
    ratio = float((system.policy_offsets(base, batch.stats, noise[0]).norm(dim=-1) / base.norm(dim=-1)).mean())
    for n in [*noise, None]:
        prompt = base if n is None else base + system.policy_offsets(base, batch.stats, n)
        grid, size = system.predict(batch.query_input, batch.query_input_mask, prompt).predict()
        cells.append(float(cell_accuracy(grid, size, batch.query_output, batch.output_size).mean()))
        solves.append(float(exact_match(grid, size, batch.query_output, batch.output_size).float().mean()))
    return np.array(cells), np.array(solves), ratio


def measure(system: ArcSystem, tasks: list[Task], draws: int) -> dict[str, float]:
    """The per-set means described in the module docstring."""
    rows = {k: [] for k in ("loo_off", "loo_mode", "loo_best", "ratio",
                            *(f"test_cell_{p}" for p in PROMPTS), *(f"solve_{p}" for p in PROMPTS))}
    for t, task in enumerate(tasks):
        if len(task.train) < 2 or any(p.output is None for p in task.test):
            continue
        dim = system.prompt_dim
        generator = torch.Generator().manual_seed(NOISE_SEED * 100_003 + t)
        noise = torch.cat([torch.zeros(1, dim), torch.randn(draws, dim, generator=generator)])  # mode first
        loo = loo_accuracy(system, task, noise)
        cells, solves, ratio = test_scores(system, task, noise)
        best = int(np.argmax(loo[:-1]))  # ties go to the mode (index 0)
        oracle = int(np.argmax(cells[:-1] + solves[:-1]))
        picks = {"off": -1, "mode": 0, "best_of_k": best, "oracle": oracle}
        rows["loo_off"].append(loo[-1])
        rows["loo_mode"].append(loo[0])
        rows["loo_best"].append(loo[best])
        rows["ratio"].append(ratio)
        for name, index in picks.items():
            rows[f"test_cell_{name}"].append(cells[index])
            rows[f"solve_{name}"].append(solves[index])
    out = {k: float(np.mean(v)) if v else float("nan") for k, v in rows.items()}
    out["tasks"] = len(rows["ratio"])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_set_arguments(p, "generated,heldout,eval")
    p.add_argument("--draws", type=int, default=8, help="policy draws per task besides the mode")
    args = p.parse_args(argv)
    return measure_sets(p, args, lambda system, tasks: measure(system, tasks, args.draws), f"draws {args.draws}")


if __name__ == "__main__":
    sys.exit(main())
