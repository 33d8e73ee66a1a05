"""Test-time training's rows of a table-reading model read the table of the other demos, in the row's own view
and colours (row_tables.py), never a table that holds the row's own answer."""

import numpy as np
import pytest
import torch

from arc_efe.config import from_dict, merge, to_dict
from arc_efe.data.augment import Augmentation
from arc_efe.data.task import Pair, Task
from arc_efe.solving.clock import TaskClock
from arc_efe.solving.row_tables import RowTables
from arc_efe.solving.ttt import RowPrompts, TaskAdapter, TTTConfig, UpdateRows, check_batch, fit_task
from arc_efe.solving.ttt_batch import fit_tasks
from arc_efe.system import ModelConfig, build_system
from arc_efe.training.config import tiny_preset
from tests.solving.test_ttt_batch import alone, assert_same_fit, mixed_jobs


@pytest.fixture(scope="module")
def table_system():
    torch.manual_seed(0)
    data = merge(to_dict(ModelConfig()), tiny_preset()["model"])
    return build_system(from_dict(ModelConfig, merge(data, {"agent": {"rule_table": 3}}))).eval().requires_grad_(False)


def edit_task(seed: int = 0) -> Task:
    """Colour 1 becomes 4; demos of several sizes, one of which changes size (it gets no table)."""
    rng = np.random.default_rng(seed)
    pairs = []
    for h, w in [(3, 4), (5, 5), (4, 2), (2, 3)]:
        g = rng.integers(0, 4, (h, w))
        pairs.append(Pair(g, np.where(g == 1, 4, g)))
    pairs.append(Pair(rng.integers(0, 4, (2, 2)), rng.integers(0, 4, (3, 3))))
    return Task("edit", pairs, [pairs[0]])


def tables_of(system, prompts: torch.Tensor) -> torch.Tensor:
    return prompts[:, system.agent.prompt_dim :]


@pytest.fixture(scope="module")
def canvas_table_system():
    """Induced rules with the size rule and canvas kinds: edit_task's size-changing demo makes them canvas rules."""
    torch.manual_seed(2)
    data = merge(to_dict(ModelConfig()), tiny_preset()["model"])
    table = {"rule_table": 3, "rule_table_induced": 64, "rule_table_induced_canvas": True}
    return build_system(from_dict(ModelConfig, merge(data, {"agent": table}))).eval().requires_grad_(False)


@pytest.mark.parametrize("system_name", ["table_system", "full_table_system", "canvas_table_system"])
def test_a_rows_table_is_the_table_of_the_other_demos_in_its_view_and_colours(request, system_name):
    table_system = request.getfixturevalue(system_name)
    task, views = edit_task(), [0, 3, 5]
    rows = UpdateRows(task, views)
    tables = RowTables(table_system, rows)
    view_index = np.array([0, 1, 2, 1])
    demos = [0, 2, 1, 4]
    colors = [tuple(range(10)), (0, 2, 3, 1, 5, 4, 6, 7, 8, 9), (0, 9, 8, 7, 6, 5, 4, 3, 2, 1), tuple(range(10))]
    prompts = torch.randn(4, table_system.prompt_dim)
    got = tables.apply(prompts, view_index, demos, colors)
    torch.testing.assert_close(got[:, : table_system.agent.prompt_dim], prompts[:, : table_system.agent.prompt_dim])
    contexts = [[Augmentation(views[v], c).apply_pair(p) for j, p in enumerate(task.train) if j != d]
                for v, d, c in zip(view_index, demos, colors)]
    expected = table_system.agent.rule_table.write(contexts, torch.device("cpu"))
    torch.testing.assert_close(tables_of(table_system, got), expected)
    assert not torch.allclose(expected[0], expected[1])  # the rows really read different tables


def test_a_rows_table_does_not_hold_its_own_answer(table_system):
    task, views = edit_task(), [0, 1]
    changed = Task(task.id, [Pair(task.train[0].input, np.full_like(task.train[0].output, 7))] + task.train[1:],
                   task.test)

    def row_table(t: Task, demo: int) -> torch.Tensor:
        rows = UpdateRows(t, views)
        tables = RowTables(table_system, rows)
        return tables.apply(torch.zeros(1, table_system.prompt_dim), np.array([1]), [demo])

    torch.testing.assert_close(row_table(task, 0), row_table(changed, 0))  # demo 0's answer is not in its table
    assert not torch.allclose(row_table(task, 1), row_table(changed, 1))  # but it is in the others'


def test_a_row_with_no_other_same_size_demo_reads_an_empty_table(table_system):
    task = edit_task()
    task = Task(task.id, [task.train[0], task.train[4]], task.test)  # the other demo changes size
    rows = UpdateRows(task, [0, 1])
    got = RowTables(table_system, rows).apply(torch.ones(2, table_system.prompt_dim), np.array([1, 0]), [0, 1])
    assert tables_of(table_system, got)[0].abs().sum() == 0
    assert tables_of(table_system, got)[1].abs().sum() > 0  # demo 1's table holds demo 0
    alone = RowTables(table_system, rows).apply(torch.ones(1, table_system.prompt_dim), np.array([1]), [0])
    torch.testing.assert_close(alone, got[:1])  # no row of the draw has a pair to write


@pytest.mark.parametrize("row_tables", [True, False])
def test_fit_task_reads_leave_one_out_tables_only_when_asked(table_system, monkeypatch, row_tables):
    task, views = edit_task(), [0, 2]
    contexts = [[Augmentation(d8).apply_pair(p) for p in task.train] for d8 in views]
    prompts = table_system.encode(contexts)
    seen = []
    real = table_system.predict

    def spy(inputs, mask, prompt, **kw):
        seen.append(prompt.detach().clone())
        return real(inputs, mask, prompt, **kw)

    monkeypatch.setattr(table_system, "predict", spy)
    cfg = TTTConfig(max_steps=2, check_every=1, row_tables=row_tables, holdout=False)
    with TaskAdapter(table_system.agent_parts(), cfg.adapter) as adapter:
        fit_task(table_system, task, views, prompts, adapter, cfg, TaskClock(60.0), seed=0)
    _, demo_index, view_index = check_batch(task, views)
    first_check = tables_of(table_system, seen[0])  # offsets are still zero at the first check
    of_views = tables_of(table_system, RowPrompts.of_views(prompts).of_checks(view_index, demo_index))
    if row_tables:
        assert not torch.allclose(first_check, of_views)
        # demo 4 changes size: it was never in a table, so its leave-one-out table is its view's table
        last = demo_index == 4
        torch.testing.assert_close(first_check[last], of_views[last])
    else:
        torch.testing.assert_close(first_check, of_views)


def test_batched_lanes_read_the_same_row_tables_as_each_fitted_alone(table_system, recolor_task):
    cfg = TTTConfig(max_steps=6, check_every=3, adapter_lr=3e-2, rows_per_step=4)
    jobs = mixed_jobs(table_system, recolor_task)
    results = fit_tasks(table_system, jobs, cfg)
    for j, result in zip(jobs, results):
        assert_same_fit(result, *alone(table_system, j, cfg), table_system, j)
    leaky = fit_tasks(table_system, mixed_jobs(table_system, recolor_task), TTTConfig(
        max_steps=6, check_every=3, adapter_lr=3e-2, rows_per_step=4, row_tables=False))
    assert leaky[0].history != results[0].history  # the row tables mattered


@pytest.mark.parametrize("table_offsets", [False, True])
def test_offsets_move_the_table_part_only_when_asked(table_system, table_offsets):
    task, views = edit_task(), [0, 2]
    prompts = table_system.encode([[Augmentation(d8).apply_pair(p) for p in task.train] for d8 in views])
    cfg = TTTConfig(max_steps=4, check_every=1, table_offsets=table_offsets, holdout=False, prompt_lr=0.1)
    with TaskAdapter(table_system.agent_parts(), cfg.adapter) as adapter:
        result = fit_task(table_system, task, views, prompts, adapter, cfg, TaskClock(60.0), seed=0)
    assert result.best_step > 0  # a moved offset was kept
    width = table_system.agent.prompt_dim
    assert result.offset[:, :width].abs().sum() > 0
    assert (result.offset[:, width:].abs().sum() > 0) == table_offsets


def test_batched_lanes_leave_the_table_part_of_their_offsets_alone(table_system, recolor_task):
    cfg = TTTConfig(max_steps=6, check_every=1, prompt_lr=0.1, rows_per_step=4)
    for result in fit_tasks(table_system, mixed_jobs(table_system, recolor_task), cfg):
        assert result.offset[:, : table_system.agent.prompt_dim].abs().sum() > 0
        assert result.offset[:, table_system.agent.prompt_dim :].abs().sum() == 0


def test_a_frozen_tables_rows_are_written_once_per_view_demo_and_map_of_the_tasks_colours(full_table_system,
                                                                                          monkeypatch):
    task, views = edit_task(), [0, 3]
    rows = UpdateRows(task, views)
    tables = RowTables(full_table_system, rows)
    writes = []
    real = full_table_system.agent.rule_table.write_grids
    monkeypatch.setattr(full_table_system.agent.rule_table, "write_grids",
                        lambda *a, **k: writes.append(len(a[0])) or real(*a, **k))
    prompts = torch.randn(3, full_table_system.prompt_dim)
    swap = (0, 2, 1, 3, 4, 5, 6, 7, 8, 9)
    first = tables.apply(prompts, np.array([0, 1, 1]), [0, 2, 2], [IDENTITY, swap, swap])
    assert len(writes) == 1
    # colours 7 and 8 are in no demo: swapping them changes no grid, so no table is written again
    unused = (0, 1, 2, 3, 4, 5, 6, 8, 7, 9)
    again = tables.apply(prompts.flip(0)[:2], np.array([0, 1]), [0, 2], [unused, swap])
    assert len(writes) == 1
    torch.testing.assert_close(tables_of(full_table_system, again), tables_of(full_table_system, first)[:2])
    fresh = RowTables(full_table_system, rows)._write(prompts[:2], np.array([0, 1]), np.array([0, 2]),
                                                     [unused, swap])
    torch.testing.assert_close(tables_of(full_table_system, again), tables_of(full_table_system, fresh))
    torch.testing.assert_close(again[:, : full_table_system.agent.prompt_dim],
                               prompts.flip(0)[:2, : full_table_system.agent.prompt_dim])
    writes.clear()
    tables.apply(prompts[:1], np.array([0]), [1], [IDENTITY])  # a new key is written
    assert len(writes) == 1
    with TaskAdapter(full_table_system.agent_parts(), ("rule_table",)):  # a tuned table is written every time
        tables.apply(prompts[:1], np.array([0]), [1], [IDENTITY])
    assert len(writes) == 2


IDENTITY = tuple(range(10))
