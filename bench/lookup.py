"""The rule table's `specific` lookup alone (`model.agent.rule_table_specific`), or with `--induced` its induced
rules alone (`model.agent.rule_table_induced`), as a ceiling for what it can add to plain solves: on each test
input, the colour of a cell's most specific exact key the demos agreed on (or of the first induced rule that saw
the cell's key), the input's colour where none decides, no training and no agent. With `--checkpoint`, also how
many of the tasks it solves that checkpoint's plain prediction (pass@2, no test-time training) solves: whether the
agent follows a right lookup or overrides it.

Sets: `--tasks SOURCE` (default arc1/training; a bundled set, a task JSON or a folder of them), and with `--checkpoint`
bench/prior.py's (a) and (b) generated sets of that checkpoint (`--heldout-families` as there).

    python bench/lookup.py [--tasks arc1/training] [--buckets 1024] [--induced [--views] [--canvas] [--blind]]
        [--checkpoint RUN_DIR ...]

Last line: `lookup_solved=... tasks=...` and with a checkpoint `lookup_solved_generated=...
plain_of_lookup_generated=...` (likewise `_untrained`).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from common import checkpoint_folder, machine_line, set_threads, summary_line
from prior import gen_sets

from arc_efe.agent import induced_rules
from arc_efe.agent.rule_table import INDUCED_RULES, RuleTable
from arc_efe.config import from_dict
from arc_efe.data.sources import load_tasks
from arc_efe.data.task import Task
from arc_efe.objective.scoring import score_attempts
from arc_efe.system import ArcSystem
from arc_efe.training.config import DataConfig


def lookup_table(buckets: int, induced: bool = False, views: bool = False, canvas: bool = False,
                 blind: bool = False) -> RuleTable:
    """A table whose proposal is the `specific` lookup alone (or with `induced` the induced rules alone, with
    `views` their D8-image and side-neighbour kinds too, with `canvas` the size rule and output-canvas kinds, with
    `blind` the colour-free kinds):
    the dense proposal's gate is zero, and the other gates are all equal, so only which key decides, not how far,
    matters."""
    table = (RuleTable(1, channels=1, induced=buckets, induced_views=views, induced_canvas=canvas,
                       induced_blind=blind) if induced
             else RuleTable(1, channels=1, exact=buckets, specific=True))
    with torch.no_grad():
        table.gate.zero_()
    return table


def lookup_solves(table: RuleTable, task: Task) -> bool:
    """Whether the lookup reproduces every test output (a size change only with `canvas`, at its size rule's size)."""
    written = table.write([list(task.train)], torch.device("cpu"))
    for pair in task.test:
        if pair.output is None:
            return False
        h, w = pair.input.shape
        rows, cols = pair.input.shape
        if table.induced_canvas:
            ruled = induced_rules.output_box(written[0, -table.induced_dim :].detach().numpy(), pair.input,
                                             INDUCED_RULES, table.induced_buckets)
            rows, cols = ruled[2:] if ruled is not None else (h, w)
        if (rows, cols) != pair.output.shape:
            return False
        size = max(h, w, rows, cols)  # the table reads square canvases, as the agent's
        grid = torch.zeros(1, size, size, dtype=torch.long)
        grid[0, :h, :w] = torch.from_numpy(pair.input)
        mask = torch.zeros_like(grid, dtype=torch.bool)
        mask[0, :h, :w] = True
        with torch.no_grad():
            _, logits = table.read(grid, mask, written)
        decided = logits.abs().sum(-1) > 0
        predicted = torch.where(decided, logits.argmax(-1), grid)[0, :rows, :cols].numpy()
        if not np.array_equal(predicted, pair.output):
            return False
    return True


def plain_solved(system: ArcSystem, tasks: list[Task]) -> int:
    """How many of `tasks` the checkpoint's plain prediction solves (every test output in one of two attempts)."""
    if not tasks:
        return 0
    return len(score_attempts(system.plain_attempts(tasks), tasks).solved_tasks)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", default="arc1/training", help="a bundled set name, a task JSON or a folder of them")
    p.add_argument("--buckets", type=int, default=1024, help="hash buckets per exact key kind")
    p.add_argument("--induced", action="store_true", help="the induced rules instead of the specific lookup")
    p.add_argument("--views", action="store_true",
                   help="with --induced, also the D8-image and side-neighbour kinds (rule_table_induced_views)")
    p.add_argument("--canvas", action="store_true",
                   help="with --induced, also the size rule and output-canvas kinds (rule_table_induced_canvas)")
    p.add_argument("--blind", action="store_true",
                   help="with --induced, also the colour-free kinds (rule_table_induced_blind)")
    p.add_argument("--checkpoint", help="also measure this checkpoint's plain prediction on the lookup's tasks")
    p.add_argument("--heldout-families", help="(b)'s families, as bench/prior.py takes them")
    p.add_argument("--limit-generated", type=int, default=400, help="tasks in each generated set")
    p.add_argument("--threads", type=int)
    args = p.parse_args(argv)
    set_threads(args.threads)
    print(machine_line(), flush=True)
    if (args.views or args.canvas or args.blind) and not args.induced:
        p.error("--views, --canvas and --blind need --induced")
    table = lookup_table(args.buckets, args.induced, args.views, args.canvas, args.blind)
    tasks = load_tasks(args.tasks).tasks
    hits = [t.id for t in tasks if lookup_solves(table, t)]
    print(f"{args.tasks}: the lookup solves {len(hits)} of {len(tasks)}: {' '.join(hits)}", flush=True)
    summary: dict[str, object] = {"lookup_solved": len(hits), "tasks": len(tasks)}
    if args.checkpoint:
        system, config = ArcSystem.load(checkpoint_folder(args.checkpoint), "cpu")
        data = from_dict(DataConfig, config.get("data", {}), "data")
        heldout = args.heldout_families.split(",") if args.heldout_families else None
        for task_set in gen_sets(data, args.limit_generated, heldout):
            solved = [t for t in task_set.tasks if lookup_solves(table, t)]
            plain = plain_solved(system, solved)
            print(f"{task_set.name}: the lookup solves {len(solved)} of {len(task_set.tasks)}; plain prediction "
                  f"solves {plain} of those", flush=True)
            summary.update({f"lookup_solved_{task_set.name}": len(solved), f"plain_of_lookup_{task_set.name}": plain})
    print(summary_line(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
