"""Exact cell keys (AgentConfig.rule_table_exact): the table's slots for colour maps and local rewrites."""

import numpy as np
import pytest
import torch

from arc_efe.agent import AgentConfig, build_agent
from arc_efe.agent.exact_keys import KINDS, exact_keys, exact_slots
from arc_efe.agent.rule_table import RuleTable
from arc_efe.data.task import Pair

BUCKETS = 4096  # large, so that the few keys here do not collide


def keys_of(rows, mask=None):
    grid = torch.tensor([rows])
    mask = torch.ones_like(grid, dtype=torch.bool) if mask is None else mask
    return exact_keys(grid, mask, BUCKETS)[0]


def test_keys_go_from_the_colour_to_the_exact_neighbourhood():
    k = keys_of([[0, 0, 0, 0, 0, 0, 0],
                 [0, 3, 0, 0, 0, 3, 0],
                 [0, 1, 0, 0, 0, 2, 0],
                 [0, 0, 0, 0, 0, 0, 0],
                 [0, 4, 0, 0, 0, 0, 0]])
    assert k.shape == (5, 7, KINDS) and int(k.max()) < exact_slots(BUCKETS)
    assert k[1, 1, 0] == k[1, 5, 0] == 3  # the first key is the colour
    # (1,1) and (1,5): colour 3 over a coloured cell, background elsewhere: one relative key, two absolute ones
    assert k[1, 1, 1] == k[1, 5, 1] and k[1, 1, 2] != k[1, 5, 2]
    assert k[4, 1, 1] != k[1, 1, 1]  # colour 4 at the bottom edge: another colour, off-grid neighbours
    assert (k[..., 1] >= 10).all() and (k[..., 1] < 10 + BUCKETS).all() and (k[..., 2] >= 10 + BUCKETS).all()


def test_a_neighbour_outside_the_mask_is_off_the_grid():
    small = keys_of([[5, 0], [0, 0]])
    canvas = torch.zeros(1, 4, 4, dtype=torch.long)
    canvas[0, 0, 0] = 5
    canvas[0, 2:, :] = 7  # padding the mask hides
    mask = torch.zeros(1, 4, 4, dtype=torch.bool)
    mask[0, :2, :2] = True
    padded = exact_keys(canvas, mask, BUCKETS)[0]
    assert torch.equal(padded[:2, :2], small)


def colour_map(rng, h, w):
    grid = rng.choice([1, 3, 6], size=(h, w))
    return Pair(grid, np.select([grid == 1, grid == 3], [2, 4], grid))  # 1 -> 2, 3 -> 4, 6 stays


def test_exact_slots_make_the_proposal_of_a_colour_map_exact():
    rng = np.random.default_rng(0)
    demos = [colour_map(rng, 4, 5), colour_map(rng, 3, 3), colour_map(rng, 5, 4)]
    query = colour_map(rng, 6, 6)
    grid = torch.from_numpy(query.input)[None]
    mask = torch.ones_like(grid, dtype=torch.bool)
    torch.manual_seed(0)
    table = RuleTable(4, channels=8, consistent=True, exact=64)
    written = table.write([demos], torch.device("cpu"))
    assert written.shape == (1, table.dim) and table.dim == (table.slots + 10 + 128) * (table.values + 1)
    with torch.no_grad():
        _, proposal = table.read(grid, mask, written)
    np.testing.assert_array_equal(proposal.argmax(-1)[0].numpy(), query.output)


def test_exact_slots_of_one_task_hold_only_its_own_cells():
    rng = np.random.default_rng(1)
    table = RuleTable(2, channels=8, exact=16)
    a, b = [colour_map(rng, 4, 4)], [colour_map(rng, 3, 5), colour_map(rng, 2, 2)]
    both = table.write([a, b], torch.device("cpu"))
    torch.testing.assert_close(both[1], table.write([b], torch.device("cpu"))[0])
    rows = both.view(2, table.slots + table.exact, table.values + 1)
    cells = torch.expm1(rows[:, table.slots :, -1]).sum(dim=1)  # every cell counted once per key kind
    torch.testing.assert_close(cells, torch.tensor([16.0 * KINDS, (15.0 + 4.0) * KINDS]))


def test_config_takes_the_exact_buckets_only_with_a_table():
    with pytest.raises(ValueError, match="rule_table_exact"):
        AgentConfig(rule_table_exact=8).validate()
    with pytest.raises(ValueError, match="rule_table_exact"):
        AgentConfig(rule_table=4, rule_table_exact=-1).validate()
    model = build_agent(AgentConfig(channels=8, prompt_dim=8, steps=1, heads=2, rule_table=4, rule_table_exact=8))
    assert model.prompt_width == 8 + model.rule_table.dim and model.rule_table.exact == 10 + 16
