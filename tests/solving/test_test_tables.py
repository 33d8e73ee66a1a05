"""A table-reading model's test inputs can be read with leave-one-out tables (test_tables.py), as every fitted
row was, and the solver then votes on the average of those reads."""

import numpy as np
import pytest
import torch

from arc_efe.data.augment import Augmentation
from arc_efe.data.task import Pair, Task
from arc_efe.solving.solver import SolveConfig, Solver
from arc_efe.solving.test_tables import leave_one_out_prompts, reads_per_view
from arc_efe.solving.ttt import TTTConfig
from arc_efe.system import ModelConfig, build_system
from tests.solving.test_row_tables import edit_task, table_system  # noqa: F401  (fixture)


def test_each_prompt_holds_the_table_of_the_demos_less_one_same_size_demo(table_system):  # noqa: F811
    task, aug = edit_task(), Augmentation(5)
    prompt = torch.randn(table_system.prompt_dim)
    got = leave_one_out_prompts(table_system, task, aug, prompt)
    width = table_system.agent.prompt_dim
    assert got.shape == (4, table_system.prompt_dim)  # four same-size demos; the size-changing one is never left out
    torch.testing.assert_close(got[:, :width], prompt[:width].expand(4, -1))
    pairs = [aug.apply_pair(p) for p in task.train]
    expected = table_system.agent.rule_table.write([[p for j, p in enumerate(pairs) if j != i] for i in range(4)],
                                                   torch.device("cpu"))
    torch.testing.assert_close(got[:, width:], expected)
    all_demos = table_system.agent.rule_table.write([pairs], torch.device("cpu"))
    assert not any(torch.allclose(row, all_demos[0]) for row in got[:, width:])


def test_no_leave_one_out_without_a_table_or_with_one_same_size_demo(table_system):  # noqa: F811
    plain = build_system(ModelConfig()).eval()
    task = edit_task()
    assert leave_one_out_prompts(plain, task, Augmentation(0), torch.zeros(plain.prompt_dim)) is None
    rng = np.random.default_rng(1)
    one = Task("one", [Pair(rng.integers(0, 3, (3, 3)), rng.integers(0, 3, (3, 3))),
                       Pair(rng.integers(0, 3, (2, 2)), rng.integers(0, 3, (4, 4)))], [task.test[0]])
    assert leave_one_out_prompts(table_system, one, Augmentation(0), torch.zeros(table_system.prompt_dim)) is None


def test_the_vote_reads_the_average_of_the_leave_one_out_reads(table_system):  # noqa: F811
    task = edit_task()
    cfg = SolveConfig(time_budget=60, augmentations=2, experts=["neural"], ttt=TTTConfig(max_steps=0),
                      test_tables="leave_one_out")
    solver = Solver(table_system, cfg)
    prompts = torch.randn(2, table_system.prompt_dim)
    per_test = [[]]
    solver._vote_view(task, 1, 3, prompts, None, None, per_test)
    aug = Augmentation(3)
    tables = leave_one_out_prompts(table_system, task, aug, prompts[1])
    query = torch.zeros(len(tables), 30, 30, dtype=torch.long)
    g = aug.apply(task.test[0].input)
    query[:, : g.shape[0], : g.shape[1]] = torch.from_numpy(g)
    mask = torch.zeros_like(query, dtype=torch.bool)
    mask[:, : g.shape[0], : g.shape[1]] = True
    out = table_system.predict(query, mask, tables)
    mean = torch.softmax(out.cell_logits[:, -1], -1).mean(0)
    h = int(torch.softmax(out.height_logits[:, -1], -1).mean(0).argmax()) + 1
    w = int(torch.softmax(out.width_logits[:, -1], -1).mean(0).argmax()) + 1
    (view, grid, _), = per_test[0]
    assert view == aug
    np.testing.assert_array_equal(grid, mean.argmax(-1)[:h, :w].numpy())


@pytest.mark.parametrize("bad", ["loo", ""])
def test_an_unknown_test_tables_setting_is_refused(bad):
    with pytest.raises(ValueError, match="test_tables"):
        SolveConfig(test_tables=bad).validate()


def test_the_first_views_time_estimate_counts_every_leave_one_out_read(table_system):  # noqa: F811
    assert reads_per_view(table_system, edit_task()) == 4  # four same-size demos
    assert reads_per_view(build_system(ModelConfig()).eval(), edit_task()) == 1
