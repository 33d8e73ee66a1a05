"""Batched test-time training (ttt_batch.fit_tasks) against the one-task fit (ttt.fit_task): K tasks fitted
together give each task the updates, kept step, offsets and adapter values it gets fitted alone with the
same seed, to float rounding; a task that stops early leaves the others' fits unchanged; the system's own
weights are never written."""

import numpy as np
import pytest
import torch

from arc_efe.data.task import Pair, Task
from arc_efe.solving.clock import TaskClock
from arc_efe.solving.ttt import (RowPrompts, TTTConfig, TTTResult, TaskAdapter, UpdateRows, check_batch, fit_task,
                                 random_colors)
from arc_efe.solving.ttt_batch import FitJob, fit_tasks, tuned_names
from tests.solving.test_ttt import view_prompts

TOL = 1e-5


def job(system, task: Task, views: list[int], **kw) -> FitJob:
    return FitJob(task, views, view_prompts(system, task, views), TaskClock(600), **kw)


def alone(system, j: FitJob, cfg: TTTConfig) -> tuple[TTTResult, list[torch.Tensor]]:
    """fit_task on the same job; the kept adapter values it leaves in the model."""
    with TaskAdapter(system.agent_parts(), cfg.adapter) as adapter:
        result = fit_task(system, j.task, j.views, j.prompts, adapter, cfg, TaskClock(600), j.until, j.holdout,
                          seed=j.seed, known_size=j.known_size, row_prompts=j.row_prompts)
        return result, [p.detach().clone() for p in adapter.params]


def assert_same_fit(batched: TTTResult, single: TTTResult, kept: list[torch.Tensor], system, j: FitJob) -> None:
    """Same updates, kept step and scores; offsets, adapter values and the tuned agent's check outputs
    equal to TOL. One exception among the values: the attention's key bias, whose gradient is zero but for
    rounding (a constant added to every key's score leaves the softmax unchanged), which Adam divides by
    its own tiny running norm into lr-sized steps; it does not change any output (compared below)."""
    assert (batched.steps, batched.best_step, batched.stopped) == (single.steps, single.best_step, single.stopped)
    assert batched.before == single.before and batched.after == single.after
    assert batched.holdout_before == single.holdout_before and batched.holdout_after == single.holdout_after
    np.testing.assert_allclose(batched.history, single.history, rtol=TOL, atol=TOL)
    torch.testing.assert_close(batched.offset, single.offset, rtol=TOL, atol=TOL)
    names = tuned_names(system.agent, TTTConfig().adapter)
    assert len(batched.adapter) == len(kept) == len(names)
    channels = system.agent.embed.color.embedding_dim
    for name, a, b in zip(names, batched.adapter, kept):
        if name.endswith("mix.qkv.bias"):  # q, k, v biases: skip k's
            a, b = torch.cat([a[:channels], a[2 * channels:]]), torch.cat([b[:channels], b[2 * channels:]])
        torch.testing.assert_close(a, b, rtol=TOL, atol=TOL, msg=lambda m, name=name: f"{name}: {m}")
    checks, _, view_index = check_batch(j.task, j.views)
    outputs = []
    for offset, values in ((batched.offset, batched.adapter), (single.offset, kept)):
        with TaskAdapter(system.agent_parts(), TTTConfig().adapter) as adapter:
            adapter.load(values)
            out = system.predict(checks.query_input, checks.query_input_mask, (j.prompts + offset)[view_index],
                                 steps=TTTConfig().agent_steps)
            outputs.append(out.cell_logits)
    torch.testing.assert_close(*outputs, rtol=TOL, atol=TOL)


def mixed_jobs(system, recolor_task) -> list[FitJob]:
    """Three 3x3 tasks (one canvas): different demo counts, views, holdouts, seeds, one with a size rule."""
    return [
        job(system, recolor_task("a", demos=4, seed=1), [0, 1, 2], holdout=3, seed=11),
        job(system, recolor_task("b", demos=2, seed=2), [0, 5], seed=12),
        job(system, recolor_task("c", demos=3, seed=3), [0, 1, 2, 3], holdout=0, seed=13, known_size=True),
    ]


def test_tasks_fitted_together_equal_each_fitted_alone(system, recolor_task):
    cfg = TTTConfig(max_steps=8, check_every=3, adapter_lr=3e-2, rows_per_step=4)
    jobs = mixed_jobs(system, recolor_task)
    weights = {k: v.clone() for k, v in system.agent.state_dict().items()}
    results = fit_tasks(system, jobs, cfg)
    assert all(torch.equal(weights[k], v) for k, v in system.agent.state_dict().items())  # never written
    # Two lanes solve their demos and leave the stack at update 6; the third goes on to 8.
    assert [(r.stopped, r.steps) for r in results] == [("solved", 6), ("solved", 6), ("max_steps", 8)]
    assert all(r.best_step > 0 for r in results)  # the kept values are tuned ones
    for j, result in zip(jobs, results):
        assert_same_fit(result, *alone(system, j, cfg), system, j)


def test_lanes_with_row_prompts_equal_each_fitted_alone(system, recolor_task):
    # Lane a reads its rows with 2 palettes' prompts (ttt.prompt_colours), lane c with one prompt per left-out
    # demo (ttt.loo_prompts) under 3 palettes, lane b with its views' prompts; wrong cells weigh 3x.
    cfg = TTTConfig(max_steps=6, check_every=3, adapter_lr=3e-2, rows_per_step=4, wrong_cell_weight=3.0)
    rng = np.random.default_rng(5)
    jobs = mixed_jobs(system, recolor_task)
    for j, (palettes, demos) in zip(jobs, ((2, 1), (0, 0), (3, 3))):
        if palettes:
            shape = (palettes, len(j.views), demos, j.prompts.shape[1])
            noise = torch.randn(shape, generator=torch.Generator().manual_seed(palettes))
            j.row_prompts = RowPrompts([tuple(range(10))] + [random_colors(rng, (0,)) for _ in range(palettes - 1)],
                                       j.prompts[None, :, None] + noise)
    results = fit_tasks(system, jobs, cfg)
    for j, result in zip(jobs, results):
        assert_same_fit(result, *alone(system, j, cfg), system, j)
    plain = fit_tasks(system, mixed_jobs(system, recolor_task), cfg)  # the same weights, the views' prompts
    assert plain[0].history != results[0].history and plain[1].history == results[1].history  # they mattered


def test_one_task_batched_equals_fit_task(system, recolor_task):
    cfg = TTTConfig(max_steps=6, check_every=2)
    j = job(system, recolor_task("one", demos=3, seed=4), [0, 3], holdout=1, seed=5)
    [result] = fit_tasks(system, [j], cfg)
    assert_same_fit(result, *alone(system, j, cfg), system, j)


def test_a_lane_that_stops_early_leaves_the_others_unchanged(system, recolor_task):
    """Lane b has no time for an update (its `until` is now): it stops after its first check while the
    others go on without it in the stack."""
    cfg = TTTConfig(max_steps=7, check_every=2, adapter_lr=1e-2, rows_per_step=4)
    jobs = mixed_jobs(system, recolor_task)
    stopped = jobs[1]
    stopped.until = stopped.clock.now()  # no update fits before its `until`
    results = fit_tasks(system, jobs, cfg)
    assert results[1].stopped == "budget" and results[1].steps == 0 and results[1].history == []
    assert torch.equal(results[1].offset, torch.zeros_like(stopped.prompts))
    for k in (0, 2):
        assert_same_fit(results[k], *alone(system, jobs[k], cfg), system, jobs[k])


def test_offsets_only_without_an_adapter(system, recolor_task):
    cfg = TTTConfig(max_steps=4, check_every=2, adapter=())
    jobs = mixed_jobs(system, recolor_task)[:2]
    for j, result in zip(jobs, fit_tasks(system, jobs, cfg)):
        single, kept = alone(system, j, cfg)
        assert result.adapter == [] and kept == []
        assert (result.steps, result.best_step) == (single.steps, single.best_step) and result.steps == 4
        np.testing.assert_allclose(result.history, single.history, rtol=TOL, atol=TOL)
        assert len(set(result.history)) == 4  # the offsets did train
        torch.testing.assert_close(result.offset, single.offset, rtol=TOL, atol=TOL)


def test_lanes_on_different_canvases(system, recolor_task):
    """Without a size rule a 3x3 and a 6x6 task run in passes of their own canvas (an untrained size
    guess beyond the canvas is clipped, so padding would change values); with one, they share the 6x6
    pass, where the agent is canvas-invariant."""
    rng = np.random.default_rng(7)
    big = Task("big", [Pair(g, np.where(g == 1, 2, g)) for g in (rng.integers(0, 3, (6, 6)) for _ in range(3))], [])
    small = recolor_task("small", demos=3, seed=8)
    cfg = TTTConfig(max_steps=4, check_every=2, adapter_lr=1e-2, rows_per_step=4)
    for known in (False, True):
        jobs = [job(system, small, [0, 1], seed=21, known_size=known), job(system, big, [0, 1], seed=22,
                                                                           known_size=known)]
        for j, result in zip(jobs, fit_tasks(system, jobs, cfg)):
            assert_same_fit(result, *alone(system, j, cfg), system, j)


def test_a_non_finite_loss_stops_only_its_own_lane(system, recolor_task, monkeypatch):
    """The 2x2 task's update loss is made NaN (inside the vmapped pass, by its target size): it stops with
    the error, and the 3x3 task's fit is the one it gets alone."""
    import arc_efe.solving.ttt_batch as batched

    def nan_for_2x2(out, target, mask, size, *args):
        return real(out, target, mask, size, *args) + torch.where((size == 2).all(), float("nan"), 0.0)

    real = batched.row_losses
    monkeypatch.setattr(batched, "row_losses", nan_for_2x2)
    rng = np.random.default_rng(9)
    small = Task("small", [Pair(g, np.where(g == 1, 2, g)) for g in (rng.integers(0, 3, (2, 2)) for _ in range(3))], [])
    jobs = [job(system, small, [0, 1], seed=31), job(system, recolor_task("b", demos=2, seed=2), [0, 5], seed=12)]
    cfg = TTTConfig(max_steps=4, check_every=2, rows_per_step=4)
    results = fit_tasks(system, jobs, cfg)
    assert isinstance(results[0], FloatingPointError)
    assert "test-time training of small: the demo loss is nan at update 1" in str(results[0])
    assert_same_fit(results[1], *alone(system, jobs[1], cfg), system, jobs[1])


def test_tuned_names_follow_the_adapter_order_and_reject_unknown_modules(system):
    cfg = TTTConfig(adapter=("heads", "film"))
    names = tuned_names(system.agent, cfg.adapter)
    params = dict(system.agent.named_parameters())
    assert [params[n] for n in names] == TaskAdapter(system.agent_parts(), cfg.adapter).params
    with pytest.raises(ValueError, match=r"no agent submodule \['flim'\]"):
        tuned_names(system.agent, ("flim",))


def test_update_rows_on_a_given_canvas_pad_with_zeros_and_refuse_a_smaller_one(recolor_task):
    table = UpdateRows(recolor_task(demos=2), [0, 1])
    rows, demos, colors = np.array([0, 1]), [0, 1], [tuple(range(10))] * 2
    own, padded = table.batch(rows, demos, colors), table.batch(rows, demos, colors, canvas=5)
    assert own.query_input.shape[-1] == 3 and padded.query_input.shape[-1] == 5
    assert torch.equal(padded.query_input[:, :3, :3], own.query_input) and padded.query_input[:, 3:].sum() == 0
    assert torch.equal(padded.query_output_mask[:, :3, :3], own.query_output_mask)
    assert not padded.query_output_mask[:, 3:].any() and not padded.query_output_mask[:, :, 3:].any()
    with pytest.raises(ValueError, match="canvas 2 is smaller"):
        table.batch(rows, demos, colors, canvas=2)
