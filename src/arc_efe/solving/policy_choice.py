"""Which refiner-policy draw a task's prompts start from (`SolveConfig.policy`).

The policy's mode δ is what solving used before; "best_of_k" draws k standard-normal noise vectors, scores each
draw (and the mode) on the task's leave-one-out demo rows — each demo the query, the other demos the context,
the true output size given — and keeps the draw with the best cell accuracy. The demos are all it reads, and the
kept noise is then applied to every view's prompt, so each view gets the same draw of its own policy Gaussian.
"""

from __future__ import annotations

import torch

from arc_efe.data.augment import IDENTITY
from arc_efe.data.batching import collate, make_sample
from arc_efe.data.task import Task
from arc_efe.objective.metrics import cell_accuracy
from arc_efe.system import ArcSystem


def draw_noise(prompt_dim: int, draws: int, seed: int) -> torch.Tensor:
    """[draws + 1, P]: the mode (zeros) first, then `draws` seeded standard-normal rows."""
    generator = torch.Generator().manual_seed(seed)
    return torch.cat([torch.zeros(1, prompt_dim), torch.randn(draws, prompt_dim, generator=generator)])


@torch.no_grad()
def demo_scores(system: ArcSystem, task: Task, noise: torch.Tensor, steps: int | None = None) -> torch.Tensor:
    """Mean leave-one-out demo cell accuracy [K] of each noise row [K, P]; the task needs >= 2 demos."""
    device = next(system.parameters()).device
    batch = collate([make_sample(task, i, IDENTITY) for i in range(len(task.train))]).to(device)
    base = system.prompts(batch.contexts, batch.stats, sample_offset=False).base  # [R, P]
    scores = []
    for n in noise.to(device):
        prompt = base + system.policy_offsets(base, batch.stats, n)
        grid, size = system.predict(batch.query_input, batch.query_input_mask, prompt, steps=steps,
                                    out_size=batch.output_size).predict()
        scores.append(cell_accuracy(grid, size, batch.query_output, batch.output_size).mean())
    return torch.stack(scores).cpu()


def best_draw(system: ArcSystem, task: Task, draws: int, seed: int, steps: int | None = None) -> torch.Tensor:
    """The noise row [P] with the best demo score; ties (and tasks with one demo) keep the mode."""
    noise = draw_noise(system.prompt_dim, draws, seed)
    if len(task.train) < 2:
        return noise[0]
    scores = demo_scores(system, task, noise, steps)
    return noise[int(torch.argmax(scores))]  # argmax returns the first maximum: the mode on ties
