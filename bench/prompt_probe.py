"""Is the rule in the prompt? A linear probe of a checkpoint's prompts for a generator family's hidden parameter.

bench/prior.py says whether the agent's output depends on the prompt. When it does not, two places can be at
fault: the encoder (the prompt does not carry the rule) or the conditioning (it does, and the agent does not use
it). This probe tells them apart. For each family it renders `--tasks` fresh tasks (stream seed `--seed`), takes
each task's prompt p + δ from all its demos (as prior.py's swap does), labels it with the family's hidden rule
instance (`task.meta["params"]`, e.g. which D8 element or which gravity direction) and fits a multinomial
logistic regression on half the tasks. Its weight decay is picked on a quarter, and its accuracy is reported on
the last quarter, next to the majority-class rate of that quarter. A probe well above the majority rate means
the prompt carries the parameter, linearly.

Families whose hidden parameter takes more distinct values than a tenth of `--tasks` (colour maps, say) are
reported as skipped: a probe of mostly singleton classes measures nothing.

    python bench/prompt_probe.py [--checkpoint RUN_DIR] [--families d8_transform,gravity_cells] [--tasks 300]

Last line: `probe_<family>=... majority_<family>=... classes_<family>=...` per family (skipped: n/a).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch
from common import checkpoint_folder, machine_line, set_threads, summary_line
from prior import task_prompts

from arc_efe.data.generators import FAMILIES
from arc_efe.data.task import Task
from arc_efe.system import ArcSystem

DEFAULT_FAMILIES = "d8_transform,gravity_cells,gravity_objects"
WEIGHT_DECAYS = (1e-3, 1e-2, 1e-1)
PROBE_STEPS = 300
MAX_CLASS_SHARE = 0.1  # at most tasks * share distinct instances, else the family is skipped


def render(family: str, n: int, seed: int) -> list[Task]:
    """n tasks of one family, difficulty uniform in [0, 1), from one seeded stream."""
    rng = np.random.default_rng(seed)
    return [FAMILIES[family](rng, float(rng.uniform(0.0, 1.0))) for _ in range(n)]


def instance_labels(tasks: list[Task]) -> tuple[np.ndarray, int]:
    """Each task's hidden rule instance as a class index, and the number of classes."""
    keys = [json.dumps(t.meta["params"], sort_keys=True) for t in tasks]
    names = sorted(set(keys))
    return np.array([names.index(k) for k in keys]), len(names)


def split(n: int) -> tuple[slice, slice, slice]:
    """Fit on the first half, pick the weight decay on the next quarter, report on the last quarter."""
    return slice(0, n // 2), slice(n // 2, 3 * n // 4), slice(3 * n // 4, n)


def fit_probe(x: torch.Tensor, y: torch.Tensor, classes: int, weight_decay: float) -> torch.nn.Linear:
    """Multinomial logistic regression, full batch Adam from a fixed seed."""
    torch.manual_seed(0)
    probe = torch.nn.Linear(x.shape[1], classes)
    opt = torch.optim.Adam(probe.parameters(), lr=1e-2, weight_decay=weight_decay)
    for _ in range(PROBE_STEPS):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(probe(x), y).backward()
        opt.step()
    return probe


def accuracy(probe: torch.nn.Linear, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((probe(x).argmax(dim=1) == y).float().mean())


def probe_accuracy(features: torch.Tensor, labels: np.ndarray, classes: int) -> tuple[float, float]:
    """(held-out probe accuracy, held-out majority-class rate); features are standardised on the fit half."""
    fit, val, test = split(len(labels))
    mean, std = features[fit].mean(0), features[fit].std(0) + 1e-6
    x, y = (features - mean) / std, torch.from_numpy(labels)
    best = max(WEIGHT_DECAYS, key=lambda wd: accuracy(fit_probe(x[fit], y[fit], classes, wd), x[val], y[val]))
    probe = fit_probe(x[fit], y[fit], classes, best)
    majority = np.bincount(labels[test], minlength=classes).max() / len(labels[test])
    return accuracy(probe, x[test], y[test]), float(majority)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", help="run folder or checkpoint (default: the shipped model)")
    p.add_argument("--families", default=DEFAULT_FAMILIES, help="comma-separated generator families")
    p.add_argument("--tasks", type=int, default=300, help="tasks rendered per family (at least 8)")
    p.add_argument("--seed", type=int, default=12345, help="seed of the task stream")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    unknown = [f for f in args.families.split(",") if f not in FAMILIES]
    if unknown:
        p.error(f"unknown families {unknown}; known: {', '.join(sorted(FAMILIES))}")
    if args.tasks < 8:
        p.error(f"--tasks must be at least 8, got {args.tasks}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    set_threads(args.threads)
    print(machine_line(), flush=True)
    checkpoint = checkpoint_folder(args.checkpoint)
    system, _ = ArcSystem.load(checkpoint, args.device)
    print(f"checkpoint {checkpoint}", flush=True)
    summary: dict[str, object] = {}
    for family in args.families.split(","):
        tasks = render(family, args.tasks, args.seed)
        labels, classes = instance_labels(tasks)
        summary[f"classes_{family}"] = classes
        if classes > MAX_CLASS_SHARE * args.tasks or classes < 2:
            print(f"{family:<24} classes={classes}: skipped (need 2..{int(MAX_CLASS_SHARE * args.tasks)})", flush=True)
            summary[f"probe_{family}"] = summary[f"majority_{family}"] = "n/a"
            continue
        prompts = task_prompts(system, tasks, torch.device(args.device)).float().cpu()
        probe, majority = probe_accuracy(prompts, labels, classes)
        print(f"{family:<24} classes={classes} probe={probe:.3f} majority={majority:.3f}", flush=True)
        summary[f"probe_{family}"], summary[f"majority_{family}"] = probe, majority
    print(summary_line(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
