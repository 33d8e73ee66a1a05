"""Plain prediction: one agent pass per test input, no refinement and no voting.

Used by the trainer's held-out evaluation and as the solver's "before refinement" baseline. Attempt 1 uses
the encoder's prompt p, attempt 2 the policy's deterministic refinement p + mean δ.
"""

from __future__ import annotations

import numpy as np
import torch

from arc_efe.data.augment import IDENTITY
from arc_efe.data.batching import collate, make_test_sample
from arc_efe.data.grid import MAX_SIZE
from arc_efe.data.task import Task


def crop(grid: torch.Tensor, size: torch.Tensor) -> np.ndarray:
    """The predicted canvas [S, S] cut to the predicted (height, width); a size beyond S stops at S."""
    h, w = int(size[0]), int(size[1])
    return grid[:h, :w].cpu().numpy().astype(np.int64)


@torch.no_grad()
def plain_attempts(system, tasks: list[Task], batch_size: int = 16) -> dict[str, list[list[np.ndarray]]]:
    """{task_id: [[attempt_1, attempt_2] per test input]} from the unrefined and policy-refined prompts."""
    device = next(system.parameters()).device
    samples = [(task.id, make_test_sample(task, i, IDENTITY)) for task in tasks for i in range(len(task.test))]
    attempts: dict[str, list[list[np.ndarray]]] = {task.id: [] for task in tasks}
    for start in range(0, len(samples), batch_size):
        chunk = samples[start : start + batch_size]
        # A test output's size is unknown: the full canvas lets the agent predict any size up to 30.
        batch = collate([s for _, s in chunk], canvas=MAX_SIZE).to(device)
        prompt = system.encoder(batch.contexts)  # [B, P]
        refined = prompt + system.policy.sample(prompt, batch.stats, deterministic=True).delta
        grids = []
        for p in (prompt, refined):
            grid, size = system.agent(batch.query_input, batch.query_input_mask, p).predict()
            grids.append([crop(g, s) for g, s in zip(grid, size)])
        for row, (task_id, _) in enumerate(chunk):
            attempts[task_id].append([grids[0][row], grids[1][row]])
    return attempts


def first_attempt_cell_accuracy(attempts: dict[str, list[list[np.ndarray]]], tasks: list[Task]) -> float:
    """Mean over test inputs of attempt 1's cell accuracy (0 when its size is wrong)."""
    accs = []
    for task in tasks:
        for pair, tries in zip(task.test, attempts[task.id]):
            guess, truth = tries[0], pair.output
            accs.append(float((guess == truth).mean()) if guess.shape == truth.shape else 0.0)
    return float(np.mean(accs)) if accs else 0.0
