"""Test-time training computes a table-reading agent's query features once per demo and view and recolours them
(query_parts.py): the gathered parts, and the agent's outputs and fit with them, equal computing them afresh."""

import numpy as np
import torch

from arc_efe.data.augment import Augmentation
from arc_efe.solving import query_parts
from arc_efe.solving.clock import TaskClock
from arc_efe.solving.query_parts import RowQueryParts
from arc_efe.solving.ttt import TaskAdapter, TTTConfig, UpdateRows, fit_task
from tests.solving.test_row_tables import edit_task

COLOURS = [tuple(range(10)), (0, 2, 3, 1, 5, 4, 6, 7, 8, 9), (0, 9, 8, 7, 6, 5, 4, 3, 2, 1),
           (0, 3, 1, 2, 4, 5, 6, 7, 9, 8)]


def test_gathered_and_recoloured_parts_equal_parts_computed_on_the_batch(full_table_system):
    task, views = edit_task(seed=1), [0, 3, 5]
    rows = UpdateRows(task, views)
    cached = RowQueryParts(full_table_system, rows, torch.device("cpu"))
    view_index, demos = np.array([0, 1, 2, 1]), [0, 2, 3, 2]  # not demo 1, the 5x5 one
    batch = rows.batch(view_index, demos, COLOURS)
    assert batch.query_input.shape[-1] < cached.parts.fixed.shape[1]  # gathered from a larger canvas
    got = cached.take(view_index, demos, COLOURS, batch.query_input.shape[-1])
    expected = full_table_system.agent.rule_table.query_parts(batch.query_input, batch.query_input_mask)
    for name, a, b in zip(expected._fields, got, expected):
        assert torch.equal(a, b), name
    unrecoloured = cached.take(view_index, demos, [COLOURS[0]] * 4, batch.query_input.shape[-1])
    assert not torch.equal(got.nearest[1:], unrecoloured.nearest[1:])  # the colours were really renamed


def test_the_agent_reads_the_same_numbers_with_given_parts(full_table_system):
    task, views = edit_task(seed=2), [0, 6]
    rows = UpdateRows(task, views)
    batch = rows.batch(np.array([0, 1, 1]), [1, 0, 2], COLOURS[1:])
    prompts = full_table_system.encode([[Augmentation(d8).apply_pair(p) for p in task.train] for d8 in views])
    prompt = prompts[torch.tensor([0, 1, 1])]
    parts = RowQueryParts(full_table_system, rows, torch.device("cpu")).take(np.array([0, 1, 1]), [1, 0, 2],
                                                                          COLOURS[1:], batch.query_input.shape[-1])
    fresh = full_table_system.predict(batch.query_input, batch.query_input_mask, prompt)
    given = full_table_system.predict(batch.query_input, batch.query_input_mask, prompt, table_parts=parts)
    torch.testing.assert_close(given.cell_logits, fresh.cell_logits, rtol=0, atol=1e-5)
    torch.testing.assert_close(given.height_logits, fresh.height_logits, rtol=0, atol=1e-5)


def test_fit_task_with_cached_parts_fits_as_without(full_table_system, monkeypatch):
    task, views = edit_task(seed=3), [0, 2]
    prompts = full_table_system.encode([[Augmentation(d8).apply_pair(p) for p in task.train] for d8 in views])
    cfg = TTTConfig(max_steps=6, check_every=2, adapter_lr=3e-2, rows_per_step=4, holdout=False)

    def fit():
        with TaskAdapter(full_table_system.agent_parts(), cfg.adapter) as adapter:
            return fit_task(full_table_system, task, views, prompts, adapter, cfg, TaskClock(60.0), seed=0)

    cached = fit()
    monkeypatch.setattr(query_parts.RowQueryParts, "of", classmethod(lambda cls, *a: None))
    fresh = fit()
    assert len(cached.history) == len(fresh.history) == 6
    np.testing.assert_allclose(cached.history, fresh.history, rtol=0, atol=1e-5)
    torch.testing.assert_close(cached.offset, fresh.offset, rtol=0, atol=1e-5)
