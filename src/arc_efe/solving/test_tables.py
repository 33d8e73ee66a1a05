"""Leave-one-out rule tables for reading a test input, so the test is read as every fitted row was.

A table-reading agent (`model.agent.rule_table`) is trained, and test-time trained (`row_tables.py`), with the
table of the *other* demos: N-1 of them. Reading the test with the table of all N demos shifts every slot's
mass and mean away from anything the fit saw. With `SolveConfig.test_tables` "leave_one_out", each view reads
the test once per same-size demo left out and averages the colour beliefs of those reads.
"""

from __future__ import annotations

import torch

from arc_efe.data.augment import Augmentation
from arc_efe.data.task import Task
from arc_efe.system import ArcSystem


def left_out_demos(system: ArcSystem, task: Task) -> list[int]:
    """The demos `leave_one_out_prompts` leaves out one at a time: the same-size ones (no D8 view changes
    which), none when the agent reads no table or fewer than two are same-size (then leaving one out would
    leave an empty table, which no row was fitted with either)."""
    same = [i for i, p in enumerate(task.train) if p.input.shape == p.output.shape]
    return same if system.reads_tables and len(same) >= 2 else []


def reads_per_view(system: ArcSystem, task: Task) -> int:
    """How many reads of the test inputs `leave_one_out_prompts` makes in a view (1 when it makes none)."""
    return max(1, len(left_out_demos(system, task)))


def leave_one_out_prompts(system: ArcSystem, task: Task, aug: Augmentation,
                          prompt: torch.Tensor) -> torch.Tensor | None:
    """[K, P]: `prompt` [P] with its table part written from the demos under `aug` less one of
    `left_out_demos`, once per such demo (K of them); None when there are none."""
    same = left_out_demos(system, task)
    if not same:
        return None
    pairs = [aug.apply_pair(p) for p in task.train]
    contexts = [[p for i, p in enumerate(pairs) if i != left] for left in same]
    tables = system.agent.rule_table.write(contexts, prompt.device)  # [K, table dim]
    encoder_part = prompt[: system.agent.prompt_dim].expand(len(same), -1)
    return torch.cat([encoder_part, tables], dim=1)
