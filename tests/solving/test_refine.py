"""Refinement: leave-one-out demo batches, the weighted demo loss, the adapter's restore, fitting a simple
task, the deadline, and held-out step selection."""

import time

import numpy as np
import pytest
import torch

from arc_efe.config import from_dict, merge, to_dict
from arc_efe.data.augment import IDENTITY, Augmentation
from arc_efe.data.task import Pair, Task
from arc_efe.model import ModelConfig, build_system
from arc_efe.solving.refine import (DemoScore, RefineConfig, TaskAdapter, _Best, demo_batch, demo_loss,
                                    policy_prompts, refine)
from arc_efe.training.config import tiny_preset


def tiny_system():
    torch.manual_seed(0)
    cfg = from_dict(ModelConfig, merge(to_dict(ModelConfig()), tiny_preset()["model"]))
    return build_system(cfg).eval().requires_grad_(False)


def recolor_task(demos: int = 4, seed: int = 0) -> Task:
    """Output = input with colour 1 turned into 2, on random 3x3 grids."""
    rng = np.random.default_rng(seed)

    def pair() -> Pair:
        g = rng.integers(0, 3, (3, 3))
        return Pair(g, np.where(g == 1, 2, g))

    return Task("recolor", [pair() for _ in range(demos)], [pair(), pair()])


@pytest.fixture(scope="module")
def system():
    return tiny_system()


def test_adapter_trains_inside_and_restores_on_exit_even_after_an_error(system):
    before = {k: v.clone() for k, v in system.agent.state_dict().items()}
    with pytest.raises(RuntimeError):
        with TaskAdapter(system.agent, ("film", "heads")) as adapter:
            assert adapter.params and all(p.requires_grad for p in adapter.params)
            with torch.no_grad():
                for p in adapter.params:
                    p.add_(1.0)
            raise RuntimeError("task failed")
    after = system.agent.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not any(p.requires_grad for p in system.agent.parameters())


def test_adapter_names_unknown_modules(system):
    with pytest.raises(ValueError, match=r"no agent submodule \['flim'\]"):
        TaskAdapter(system.agent, ("flim",))


def test_demo_batch_is_leave_one_out_under_each_view():
    task = recolor_task(demos=3)
    views = [IDENTITY, Augmentation(1)]
    batch, index = demo_batch(task, views)
    assert index.tolist() == [0, 1, 2, 0, 1, 2]
    assert all(len(ctx) == 2 for ctx in batch.contexts)
    # Row 1 (demo 1, identity): its query is demo 1 and its context holds demos 0 and 2 only.
    assert np.array_equal(batch.query_output[1, :3, :3].numpy(), task.train[1].output)
    assert [np.array_equal(c.input, task.train[i].input) for c, i in zip(batch.contexts[1], (0, 2))] == [True, True]
    # Row 4 is demo 1 under a 90-degree turn.
    assert np.array_equal(batch.query_input[4, :3, :3].numpy(), np.rot90(task.train[1].input))


def test_demo_loss_ignores_rows_with_zero_weight(system):
    batch, _ = demo_batch(recolor_task(demos=3), [IDENTITY])
    prompt = policy_prompts(system, batch.contexts, batch.stats).requires_grad_(True)
    out = system.agent(batch.query_input, batch.query_input_mask, prompt)
    weight = torch.tensor([1.0, 0.0, 1.0])
    loss = demo_loss(out, batch, weight, size_weight=1.0)
    loss.backward()
    assert prompt.grad[1].abs().max() == 0 and prompt.grad[0].abs().max() > 0
    per_row = [demo_loss(out, batch, torch.eye(3)[i], 1.0).item() for i in range(3)]
    assert loss.item() == pytest.approx((per_row[0] + per_row[2]) / 2, rel=1e-5)
    assert len({round(v, 4) for v in per_row}) == 3  # rows really differ


def test_refine_fits_a_simple_task_and_stops_once_every_demo_is_exact(system):
    task = recolor_task(demos=4)
    batch, index = demo_batch(task, [IDENTITY])
    cfg = RefineConfig(max_steps=100, prompt_lr=3e-2, adapter_lr=3e-2)
    original = [p.clone() for p in TaskAdapter(system.agent, cfg.adapter).params]
    with TaskAdapter(system.agent, cfg.adapter) as adapter:
        start = policy_prompts(system, batch.contexts, batch.stats)
        result = refine(system, batch, start, index, adapter, cfg, time.perf_counter() + 60, holdout=3)
        tuned = [p.clone() for p in adapter.params]
    assert result.stopped == "solved" and 0 < result.steps < 100 and result.best_step == result.steps
    assert result.before.exact == 0.0 and result.after == DemoScore(1.0, 1.0)
    assert result.holdout_before.exact == 0.0 and result.holdout_after.exact == 1.0  # it generalised
    assert result.history[-1] < result.history[0]
    assert result.offset.abs().max() > 0
    assert any(not torch.equal(a, b) for a, b in zip(tuned, original))  # the kept step's adapter values
    assert all(torch.equal(a, b) for a, b in zip(TaskAdapter(system.agent, cfg.adapter).params, original))


def test_refine_stops_before_the_deadline(system):
    batch, index = demo_batch(recolor_task(demos=4), [IDENTITY, Augmentation(2)])
    cfg = RefineConfig(max_steps=10_000, prompt_lr=1e-6, adapter_lr=0.0)  # too slow to solve anything
    start = time.perf_counter()
    with TaskAdapter(system.agent, cfg.adapter) as adapter:
        result = refine(system, batch, policy_prompts(system, batch.contexts, batch.stats), index, adapter,
                        cfg, start + 2.0)
    assert result.stopped == "budget" and result.steps > 0
    assert time.perf_counter() - start <= 2.2


def test_updates_draw_rows_per_step_rows_and_never_the_held_out_demo(system):
    task = recolor_task(demos=4)
    views = [IDENTITY, Augmentation(1), Augmentation(2)]
    batch, index = demo_batch(task, views)  # 12 rows, demo 3's in 3 views
    held_inputs = batch.query_input[index == 3]
    seen: list[torch.Tensor] = []
    agent_forward = system.agent.forward

    def recording(inputs, mask, prompt, steps=None):
        if torch.is_grad_enabled():  # an update, not a check
            seen.append(inputs.clone())
        return agent_forward(inputs, mask, prompt, steps)

    cfg = RefineConfig(max_steps=12, rows_per_step=4, check_every=3, adapter_lr=1e-6, prompt_lr=1e-6)
    system.agent.forward = recording
    try:
        with TaskAdapter(system.agent, cfg.adapter) as adapter:
            start = policy_prompts(system, batch.contexts, batch.stats)
            result = refine(system, batch, start, index, adapter, cfg, time.perf_counter() + 60, holdout=3, seed=1)
    finally:
        del system.agent.forward
    assert result.steps == 12 and len(seen) == 12 and all(len(rows) == 4 for rows in seen)
    drawn = torch.cat(seen)
    assert not any(torch.equal(row, held) for row in drawn for held in held_inputs)
    distinct = {tuple(row.flatten().tolist()) for row in drawn}
    assert len(distinct) == 9  # over 12 updates every trainable row (3 demos x 3 views) was drawn
    assert result.best_step % 3 == 0  # the kept values come from a check


def test_max_steps_zero_only_measures(system):
    batch, index = demo_batch(recolor_task(demos=2), [IDENTITY])
    with TaskAdapter(system.agent, ()) as adapter:
        start = policy_prompts(system, batch.contexts, batch.stats)
        result = refine(system, batch, start, index, adapter, RefineConfig(max_steps=0), time.perf_counter() + 60)
    assert result.steps == 0 and result.stopped == "max_steps" and result.offset.abs().max() == 0
    assert result.holdout_before is None and result.before == result.after


def test_best_step_prefers_held_out_accuracy_and_keeps_the_earlier_of_equals(system):
    adapter = TaskAdapter(system.agent, ())
    best = _Best()
    score = DemoScore(0.0, 0.0)
    best.offer(0, (0.0, 0.5, 0.0, 0.1), torch.zeros(2), adapter, score, score)
    best.offer(1, (0.0, 0.4, 1.0, 1.0), torch.ones(2), adapter, score, score)  # memorised, held-out worse
    assert best.step == 0
    best.offer(2, (0.0, 0.5, 0.0, 0.1), torch.ones(2), adapter, score, score)  # a tie
    assert best.step == 0 and best.offset.sum() == 0
    best.offer(3, (1.0, 1.0, 0.0, 0.0), torch.full((2,), 3.0), adapter, score, score)
    assert best.step == 3 and best.offset.tolist() == [3.0, 3.0]


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="max_steps"):
        RefineConfig(max_steps=-1).validate()
    with pytest.raises(ValueError, match="check_every"):
        RefineConfig(check_every=0).validate()
    with pytest.raises(ValueError, match="rows_per_step"):
        RefineConfig(rows_per_step=-1).validate()
    with pytest.raises(ValueError, match="augmentations"):
        RefineConfig(augmentations=0).validate()
