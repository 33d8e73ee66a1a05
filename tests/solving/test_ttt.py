"""Refinement: check rows, colour permutations that keep fixed colours, the weighted demo loss, the
adapter's restore, fitting a simple task, fresh update rows that never hold the held-out demo, the
deadline, and held-out step selection."""


import numpy as np
import pytest
import torch

from arc_efe.data.augment import Augmentation
from arc_efe.data.stats import STATS_DIM
from arc_efe.data.task import Pair, Task
from arc_efe.solving.clock import TaskClock
from arc_efe.solving.ttt import (DemoScore, RowPrompts, TTTConfig, TaskAdapter, _Best, check_batch, demo_loss,
                                    fixed_colors, random_colors, fit_task)


def test_adapter_trains_inside_and_restores_on_exit_even_after_an_error(system):
    before = {k: v.clone() for k, v in system.agent.state_dict().items()}
    with pytest.raises(RuntimeError):
        with TaskAdapter(system.agent_parts(), ("film", "heads")) as adapter:
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
        TaskAdapter(system.agent_parts(), ("flim",))


def view_prompts(system, task: Task, views: list[int]) -> torch.Tensor:
    """[V, P]: each view's prompt of all demos, as the solver encodes them."""
    contexts = [[Augmentation(d8).apply_pair(p) for p in task.train] for d8 in views]
    stats = torch.zeros(len(views), STATS_DIM)
    return system.prompts(contexts, stats, sample_offset=False).refined


def test_check_batch_holds_every_demo_in_every_view(recolor_task):
    task = recolor_task(demos=3)
    batch, demo_index, view_index = check_batch(task, [0, 1])
    assert demo_index.tolist() == [0, 1, 2, 0, 1, 2] and view_index.tolist() == [0, 0, 0, 1, 1, 1]
    assert np.array_equal(batch.query_output[1, :3, :3].numpy(), task.train[1].output)
    assert np.array_equal(batch.query_input[4, :3, :3].numpy(), np.rot90(task.train[1].input))


def test_colour_permutations_move_only_colours_without_a_fixed_role():
    rng = np.random.default_rng(0)
    # 7 -> 5 in every demo: 5 and 7 have fixed roles; 1, 2, 3 come and go.
    demos = [Pair(np.array([[7, c]]), np.array([[5, c]])) for c in (1, 2, 3)]
    fixed = fixed_colors(Task("t", demos, []))
    assert fixed == (0, 5, 7)
    perms = [random_colors(rng, fixed) for _ in range(20)]
    assert all(sorted(p) == list(range(10)) and all(p[c] == c for c in fixed) for p in perms)
    assert len(set(perms)) > 10  # the free colours really move


def test_demo_loss_is_the_mean_over_rows_and_can_read_every_step(system, recolor_task):
    batch, _, _ = check_batch(recolor_task(demos=3), [0])
    prompt = torch.randn(3, system.agent.prompt_dim, requires_grad=True)
    out = system.predict(batch.query_input, batch.query_input_mask, prompt)
    loss = demo_loss(out, batch, size_weight=1.0)
    loss.backward()
    assert all(prompt.grad[i].abs().max() > 0 for i in range(3))  # every row reaches its prompt
    per_row = []
    for i in range(3):
        one, _, _ = check_batch(Task("r", [recolor_task(demos=3).train[i]], []), [0])
        per_row.append(demo_loss(system.predict(one.query_input, one.query_input_mask, prompt[i:i + 1]), one,
                                 1.0).item())
    assert loss.item() == pytest.approx(sum(per_row) / 3, rel=1e-4)
    assert len({round(v, 4) for v in per_row}) == 3  # rows really differ
    assert demo_loss(out, batch, 1.0, all_steps=True).item() != pytest.approx(loss.item())


def test_wrong_cells_can_weigh_more_in_the_demo_loss(system, recolor_task):
    batch, _, _ = check_batch(recolor_task(demos=3), [0])
    out = system.predict(batch.query_input, batch.query_input_mask, torch.randn(3, system.agent.prompt_dim))
    logits = out.cell_logits[:, -1]
    ce = torch.nn.functional.cross_entropy(logits.permute(0, 3, 1, 2), batch.query_output, reduction="none")
    mask = batch.query_output_mask.float()
    wrong = (logits.argmax(-1) != batch.query_output).float() * mask
    assert 0 < wrong.sum() < mask.sum()  # the untrained agent gets some cells right, some wrong
    count = mask.flatten(1).sum(1)
    plain = demo_loss(out, batch, size_weight=0.0)
    assert demo_loss(out, batch, 0.0, wrong_cell_weight=1.0).item() == plain.item()
    want = (((ce * mask).flatten(1).sum(1) + 3.0 * (ce * wrong).flatten(1).sum(1)) / count).mean()
    assert demo_loss(out, batch, 0.0, wrong_cell_weight=4.0).item() == pytest.approx(want.item(), rel=1e-5)


def test_ttt_fits_a_simple_task_and_stops_once_every_demo_is_exact(system, recolor_task):
    task = recolor_task(demos=4)
    views = [0, 1]
    cfg = TTTConfig(max_steps=300, prompt_lr=3e-2, adapter_lr=3e-2, check_every=2)
    original = [p.clone() for p in TaskAdapter(system.agent_parts(), cfg.adapter).params]
    with TaskAdapter(system.agent_parts(), cfg.adapter) as adapter:
        prompts = view_prompts(system, task, views)
        result = fit_task(system, task, views, prompts, adapter, cfg, TaskClock(60), holdout=3)
        tuned = [p.clone() for p in adapter.params]
    assert result.stopped == "solved" and 0 < result.steps < 300 and result.best_step == result.steps
    assert result.before.exact == 0.0 and result.after == DemoScore(1.0, 1.0)
    assert result.holdout_before.exact == 0.0 and result.holdout_after.exact == 1.0  # it generalised
    assert result.history[-1] < result.history[0]
    assert result.offset.shape == prompts.shape and result.offset.abs().max() > 0
    assert any(not torch.equal(a, b) for a, b in zip(tuned, original))  # the kept step's adapter values
    assert all(torch.equal(a, b) for a, b in zip(TaskAdapter(system.agent_parts(), cfg.adapter).params, original))


def test_ttt_stops_before_the_deadline(system, recolor_task):
    task = recolor_task(demos=4)
    cfg = TTTConfig(max_steps=10_000, prompt_lr=1e-6, adapter_lr=0.0)  # too slow to solve anything
    clock = TaskClock(2.0)
    with TaskAdapter(system.agent_parts(), cfg.adapter) as adapter:
        result = fit_task(system, task, [0, 2], view_prompts(system, task, [0, 2]), adapter, cfg, clock)
    assert result.stopped == "budget" and result.steps > 0
    assert clock.elapsed() <= 2.2
    assert clock.runs["ttt_update"] == result.steps and clock.spent["ttt_check"] > 0  # where the time went


def test_updates_draw_fresh_rows_and_never_the_held_out_demo(system):
    # The held-out demo is the only 4x4 one, so any 4x4 update row would be it, in some view.
    rng = np.random.default_rng(0)
    demos = [Pair(g, np.where(g == 1, 2, g)) for g in (rng.integers(0, 4, (3, 3)) for _ in range(3))]
    held_out = rng.integers(0, 4, (4, 4))
    task = Task("t", [*demos, Pair(held_out, np.where(held_out == 1, 2, held_out))], [])
    seen: list[torch.Tensor] = []
    planning_steps: set[int | None] = set()
    agent_forward = system.agent.forward

    def recording(inputs, mask, prompt, steps=None, out_size=None, table_parts=None):
        if torch.is_grad_enabled():  # an update, not a check
            seen.append(mask.clone())
        planning_steps.add(steps)
        return agent_forward(inputs, mask, prompt, steps, out_size, table_parts)

    cfg = TTTConfig(max_steps=12, rows_per_step=4, check_every=3, adapter_lr=1e-6, prompt_lr=1e-6,
                       agent_steps=1)
    system.agent.forward = recording
    try:
        with TaskAdapter(system.agent_parts(), cfg.adapter) as adapter:
            prompts = view_prompts(system, task, [0, 1, 2])
            result = fit_task(system, task, [0, 1, 2], prompts, adapter, cfg, TaskClock(60), holdout=3, seed=1)
    finally:
        del system.agent.forward
    assert result.steps == 12 and len(seen) == 12 and all(len(rows) == 4 for rows in seen)
    assert all(int(m.sum()) == 9 for rows in seen for m in rows)  # 3x3 rows only: never the 4x4 demo
    assert result.best_step % 3 == 0  # the kept values come from a check
    assert planning_steps == {1}  # every update and check ran the configured planning steps


def test_palette_rows_are_read_with_the_prompt_of_their_own_colours(system):
    # Colours 1-4 move; each palette's prompts are a constant that names (palette, view), so every update
    # row's prompt says which colours and view it claims, and the row's input must be a demo in exactly those.
    rng = np.random.default_rng(0)
    demos = [Pair(g, np.where(g == 1, 2, g)) for g in (rng.integers(0, 5, (3, 4)) for _ in range(3))]
    task = Task("t", demos, [])
    views = [0, 1]
    prompts = view_prompts(system, task, views)
    colors = [tuple(range(10)), random_colors(rng, (0,)), random_colors(rng, (0,))]
    table = torch.zeros(3, 2, 1, prompts.shape[1])
    table[0, :, 0] = prompts
    for k in (1, 2):
        for v in range(2):
            table[k, v] = 100.0 * k + v
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    agent_forward = system.agent.forward

    def recording(inputs, mask, prompt, steps=None, out_size=None, table_parts=None):
        if torch.is_grad_enabled():  # an update, not a check
            seen.append((inputs.clone(), prompt.detach().clone()))
        return agent_forward(inputs, mask, prompt, steps, out_size, table_parts)

    cfg = TTTConfig(max_steps=10, rows_per_step=6, check_every=5, adapter_lr=1e-6, prompt_lr=1e-6, agent_steps=1)
    system.agent.forward = recording
    try:
        with TaskAdapter(system.agent_parts(), cfg.adapter) as adapter:
            fit_task(system, task, views, prompts, adapter, cfg, TaskClock(60), seed=3,
                     row_prompts=RowPrompts(colors, table))
    finally:
        del system.agent.forward
    claimed = {0: 0, 1: 0, 2: 0}  # rows per palette (0: identity colours, the view's own prompt)
    for inputs, prompt in seen:
        for grid, p in zip(inputs, prompt):
            k, v = 0, min(range(2), key=lambda v: float((p - prompts[v]).abs().max()))
            if float(p.mean()) > 50:  # a palette's constant (plus a tiny offset)
                k, v = int(float(p.mean()) // 100), round(float(p.mean()) % 100)
            wanted = [Augmentation(views[v], colors[k]).apply_pair(d).input for d in demos]
            h, w = wanted[0].shape
            assert any(np.array_equal(grid[:h, :w].numpy(), g) for g in wanted)
            claimed[k] += 1
    assert all(n > 0 for n in claimed.values())  # identity and both palettes were drawn


def test_leave_one_out_rows_and_checks_are_read_without_their_own_pair(system):
    # One prompt per (view, demo), a constant naming both: every update row must be that demo in that view,
    # and every check row (view-major, each demo) must be read with its own slot's prompt.
    rng = np.random.default_rng(1)
    demos = [Pair(g, np.where(g == 1, 2, g)) for g in (rng.integers(0, 5, (3, 4)) for _ in range(3))]
    task, views = Task("t", demos, []), [0, 1]
    prompts = view_prompts(system, task, views)
    table = torch.zeros(1, 2, 3, prompts.shape[1])
    for v in range(2):
        for n in range(3):
            table[0, v, n] = 100.0 + 10 * v + n
    updates, checks = [], []
    agent_forward = system.agent.forward

    def recording(inputs, mask, prompt, steps=None, out_size=None, table_parts=None):
        (updates if torch.is_grad_enabled() else checks).append((inputs.clone(), prompt.detach().clone()))
        return agent_forward(inputs, mask, prompt, steps, out_size, table_parts)

    cfg = TTTConfig(max_steps=6, rows_per_step=6, check_every=3, adapter_lr=1e-6, prompt_lr=1e-6, agent_steps=1,
                    color_permute=False)
    system.agent.forward = recording
    try:
        with TaskAdapter(system.agent_parts(), cfg.adapter) as adapter:
            fit_task(system, task, views, prompts, adapter, cfg, TaskClock(60), holdout=2, seed=3,
                     row_prompts=RowPrompts(None, table))
    finally:
        del system.agent.forward
    for inputs, prompt in updates:
        for grid, p in zip(inputs, prompt):
            code = round(float(p.mean())) - 100
            v, n = code // 10, code % 10
            assert n != 2  # the held-out demo is never an update row
            want = Augmentation(views[v], tuple(range(10))).apply_pair(demos[n]).input
            assert np.array_equal(grid[: want.shape[0], : want.shape[1]].numpy(), want)
    assert len(checks) == 3
    for _, prompt in checks:
        assert [round(float(p.mean())) for p in prompt] == [100, 101, 102, 110, 111, 112]


def test_max_steps_zero_only_measures(system, recolor_task):
    task = recolor_task(demos=2)
    with TaskAdapter(system.agent_parts(), ()) as adapter:
        prompts = view_prompts(system, task, [0])
        result = fit_task(system, task, [0], prompts, adapter, TTTConfig(max_steps=0), TaskClock(60))
    assert result.steps == 0 and result.stopped == "max_steps" and result.offset.abs().max() == 0
    assert result.holdout_before is None and result.before == result.after


def test_best_step_prefers_held_out_accuracy_and_keeps_the_earlier_of_equals(system):
    adapter = TaskAdapter(system.agent_parts(), ())
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
        TTTConfig(max_steps=-1).validate()
    with pytest.raises(ValueError, match="check_every"):
        TTTConfig(check_every=0).validate()
    with pytest.raises(ValueError, match="rows_per_step"):
        TTTConfig(rows_per_step=0).validate()
    with pytest.raises(ValueError, match="wrong_cell_weight"):
        TTTConfig(wrong_cell_weight=-1).validate()
    with pytest.raises(ValueError, match="prompt_colours"):
        TTTConfig(prompt_colours=-1).validate()
