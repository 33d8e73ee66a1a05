"""Test-time training's speed-ups keep its function: update rows built from the per-task table equal the
rows augmented and collated one by one, and the fused Adam takes the same steps as the plain one."""

import numpy as np
import torch

from arc_efe.data.augment import Augmentation
from arc_efe.data.batching import collate
from arc_efe.data.task import Pair, Task
from arc_efe.solving.ttt import UpdateRows, demo_row, random_colors


def ragged_task(seed: int = 0) -> Task:
    """Demos of different, non-square sizes (outputs larger or smaller than inputs), so views transpose
    them and the canvas depends on which rows are drawn."""
    rng = np.random.default_rng(seed)
    shapes = [((2, 5), (4, 10)), ((7, 3), (7, 3)), ((1, 1), (3, 2)), ((9, 6), (2, 2))]
    return Task("ragged", [Pair(rng.integers(0, 10, a), rng.integers(0, 10, b)) for a, b in shapes], [])


def test_table_rows_equal_collated_rows():
    task, views = ragged_task(), [0, 1, 3, 4, 6]
    table = UpdateRows(task, views)
    rng = np.random.default_rng(1)
    sides = set()
    for _ in range(30):
        rows = rng.integers(len(views), size=int(rng.integers(1, 9)))
        demos = [int(rng.integers(len(task.train))) for _ in rows]
        colors = [random_colors(rng, (0, 5)) for _ in rows]
        fast = table.batch(rows, demos, colors)
        slow = collate([demo_row(task, d, Augmentation(views[v], c)) for v, d, c in zip(rows, demos, colors)])
        sides.add(slow.query_input.shape[-1])
        for name in ("query_input", "query_input_mask", "query_output", "query_output_mask", "input_size",
                     "output_size", "stats"):
            a, b = getattr(fast, name), getattr(slow, name)
            assert a.dtype == b.dtype and torch.equal(a, b), name
        assert fast.aug_ids == slow.aug_ids and fast.task_ids == slow.task_ids
    assert len(sides) > 2  # the draws really put rows on different canvases


def test_fused_adam_takes_the_plain_adams_steps():
    torch.manual_seed(0)
    start = [torch.randn(64, 33), torch.randn(7), torch.randn(3, 3, 3)]
    results = []
    for fused in (False, True):
        params = [p.clone().requires_grad_(True) for p in start]
        opt = torch.optim.Adam([{"params": params[:1], "lr": 3e-2}, {"params": params[1:], "lr": 1e-3}],
                               fused=fused)
        for step in range(20):
            for i, p in enumerate(params):
                p.grad = torch.sin(p.detach() * (step + 1) + i)
            opt.step()
        results.append([p.detach() for p in params])
    for a, b, before in zip(*results, start):
        assert (a - before).abs().max() > 1e-3  # the steps moved every tensor
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
