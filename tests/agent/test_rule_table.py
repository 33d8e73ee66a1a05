"""The demos' rule table (AgentConfig.rule_table): written from same-size demo pairs, read per query cell."""

import numpy as np
import pytest
import torch

from arc_efe.agent import AgentConfig, build_agent
from arc_efe.agent.rule_table import FEATURES, FIXED_SLOTS, VALUES, WINDOW, RuleTable, fixed_slots, neighbourhoods
from arc_efe.data.task import Pair

P, K = 8, 4


def pair(inp, out) -> Pair:
    return Pair(np.array(inp, dtype=np.int64), np.array(out, dtype=np.int64))


def random_pair(rng, h, w, edit=True):
    grid = rng.integers(0, 4, size=(h, w))
    out = np.where(grid == 1, 5, grid) if edit else grid.copy()
    return Pair(grid, out)


def test_neighbourhoods_see_colours_only_as_same_or_background_apart_from_the_centre():
    rng = np.random.default_rng(0)
    grid = torch.from_numpy(rng.integers(0, 10, size=(1, 6, 6)))
    mask = torch.zeros(1, 6, 6, dtype=torch.bool)
    mask[:, :5, :4] = True
    permutation = torch.tensor([0, 3, 1, 2, 9, 8, 7, 6, 5, 4])  # background fixed, the rest shuffled
    a, b = neighbourhoods(grid, mask), neighbourhoods(permutation[grid], mask)
    assert a.shape == (1, 6, 6, FEATURES)
    relational = 3 * WINDOW + 1
    torch.testing.assert_close(a[..., :relational], b[..., :relational], rtol=0, atol=0)
    assert not torch.equal(a[..., relational:], b[..., relational:])  # the centre's own colour is absolute
    assert a[~mask].abs().sum() == 0  # cells outside the grid describe nothing
    corner = a[0, 0, 0, 2 * WINDOW : 3 * WINDOW]  # the top-left cell: 5x5 window minus itself, off-grid flags
    assert corner.sum() == 24 - 8  # in the grid: the 3x3 block from it down and right, itself excluded


def test_a_tasks_table_depends_on_its_own_demos_only_and_skips_size_changes():
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    table = RuleTable(K, channels=8)
    a = [random_pair(rng, 4, 5), random_pair(rng, 3, 3)]
    b = [random_pair(rng, 6, 6, edit=False)]
    resized = [pair([[1, 2]], [[1], [2]])]
    both = table.write([a, b, resized], torch.device("cpu"))
    assert both.shape == (3, table.dim) and table.dim == (FIXED_SLOTS + K) * (VALUES + 1)
    torch.testing.assert_close(both[0], table.write([a], torch.device("cpu"))[0])
    torch.testing.assert_close(both[1], table.write([b], torch.device("cpu"))[0])
    assert both[2].abs().sum() == 0  # no same-size demo: an empty table
    assert not torch.allclose(both[0], both[1])
    slots = both[1].view(FIXED_SLOTS + K, VALUES + 1)
    unchanged, mass = slots[:, VALUES - 1], torch.expm1(slots[:, VALUES])
    torch.testing.assert_close(unchanged, mass / (mass + 1))  # an identity demo: every cell unchanged


def test_the_proposal_of_an_edit_rule_names_the_edited_colour_and_of_identity_the_cell_itself():
    torch.manual_seed(0)
    table = RuleTable(K, channels=8)
    square = np.zeros((6, 6), dtype=np.int64)
    square[1:5, 1:5] = 2
    border = square.copy()
    border[1:5, 1:5][[0, -1], :] = 7
    border[1:5, 1:5][:, [0, -1]] = 7  # the square's edge turns 7, its inside stays 2
    device = torch.device("cpu")
    query = torch.from_numpy(square)[None]
    mask = torch.ones_like(query, dtype=torch.bool)
    _, edit = table.read(query, mask, table.write([[Pair(square, border)] * 3], device))
    _, same = table.read(query, mask, table.write([[Pair(square, square)] * 3], device))
    np.testing.assert_array_equal(same.argmax(-1)[0].numpy(), square)
    guess = edit.argmax(-1)[0].numpy()
    assert guess[1, 1] == 7 and guess[1, 3] == 7 and guess[2, 2] == 2 and guess[0, 0] == 0


def test_fixed_slots_tell_interior_edge_and_isolated_cells_apart():
    grid = torch.zeros(1, 5, 5, dtype=torch.long)
    grid[0, 1:4, 1:4] = 3  # a 3x3 square
    grid[0, 0, 4] = 7  # an isolated cell in the corner
    mask = torch.ones_like(grid, dtype=torch.bool)
    kind = fixed_slots(neighbourhoods(grid, mask), mask).argmax(-1)[0]
    assert kind[2, 2] == 4 * 5 + 4  # the square's centre: every side and corner neighbour shares its colour
    assert kind[1, 1] == 2 * 5 + 1  # its corner: two sides, one corner
    assert kind[0, 4] == 0  # the isolated cell
    assert kind[0, 0] == 25 + 2 * 5 + 0  # background: two sides off the grid, two background ones, corner 3


def agent(**overrides):
    cfg = AgentConfig(channels=16, prompt_dim=P, steps=2, blocks_per_step=1, heads=2, rule_table=K)
    for name, value in overrides.items():
        setattr(cfg, name, value)
    return build_agent(cfg).eval()


def test_the_agent_reads_the_table_after_the_prompt_and_a_blind_agent_does_not():
    torch.manual_seed(0)
    model = agent()
    assert model.prompt_width == P + model.rule_table.dim
    inputs = torch.randint(0, 10, (2, 5, 5))
    mask = torch.ones(2, 5, 5, dtype=torch.bool)
    prompt = torch.randn(2, model.prompt_width)
    other = prompt.clone()
    other[:, P:] = torch.randn(2, model.rule_table.dim)
    with torch.no_grad():
        assert not torch.allclose(model(inputs, mask, prompt).cell_logits, model(inputs, mask, other).cell_logits)
        blind = agent(reads_prompt=False)
        torch.testing.assert_close(blind(inputs, mask, prompt).cell_logits, blind(inputs, mask, other).cell_logits)
    with pytest.raises(ValueError, match="prompt must be"):
        model(inputs, mask, prompt[:, :P])


def test_config_refuses_a_negative_table():
    with pytest.raises(ValueError, match="rule_table"):
        AgentConfig(rule_table=-1).validate()


def test_a_consistent_table_trusts_the_slot_whose_demo_cells_agreed():
    table = RuleTable(2, channels=8, consistent=True)
    slots = torch.zeros(1, table.slots, table.values + 1)
    nine = float(np.log1p(9.0))
    slots[0, 0, 5], slots[0, 0, table.values] = 0.9, nine  # all 9 demo cells in slot 0 turned 5 (mean 9 / 10)
    slots[0, 1, 2], slots[0, 1, 3], slots[0, 1, table.values] = 0.5, 0.4, nine  # slot 1: split between 2 and 3
    slots[0, 2, 7] = 1.0  # slot 2 says 7 but no demo cell reached it (zero mass): ignored
    assignment = torch.zeros(1, 1, 1, table.slots)
    assignment[..., 0], assignment[..., 1], assignment[..., 2] = 0.3, 0.7, 0.9
    summed = torch.einsum("bhwk,bkv->bhwv", assignment, slots)[0, 0, 0, :10]
    with torch.no_grad():
        trusted = table._trusted(assignment, slots, None)[0, 0, 0, :10]
    assert summed.argmax() == 7  # the plain sum follows the empty slot, then the mixed one
    assert trusted.argmax() == 5 and trusted[7] == 0
    assert trusted.sum() <= 1 + 1e-6  # a mean of the slots, not a sum


def rays(h, w, points):
    """A demo of "each coloured cell paints the rest of its row to the right"."""
    grid = np.zeros((h, w), dtype=np.int64)
    out = grid.copy()
    for r, c, colour in points:
        grid[r, c] = colour
        out[r, c:] = colour
    return Pair(grid, out)


def test_a_consistent_table_reads_rays_that_a_summed_one_gets_wrong():
    demos = [rays(7, 8, [(1, 0, 3), (4, 2, 5)]), rays(6, 6, [(0, 1, 4), (3, 0, 2), (5, 3, 6)]),
             rays(8, 7, [(2, 1, 1), (6, 0, 8)])]
    query = rays(7, 7, [(1, 1, 7), (5, 0, 9)])
    grid = torch.from_numpy(query.input)[None]
    mask = torch.ones_like(grid, dtype=torch.bool)
    accuracy = {}
    for consistent in (False, True):
        torch.manual_seed(0)  # the same learned slots both times; the line slots do the work
        table = RuleTable(K, channels=8, context=True, line_slots=True, consistent=consistent)
        with torch.no_grad():
            _, proposal = table.read(grid, mask, table.write([demos], torch.device("cpu")))
        accuracy[consistent] = (proposal.argmax(-1)[0].numpy() == query.output).mean()
    assert accuracy[True] > 0.85 and accuracy[True] > accuracy[False] + 0.1


def test_config_refuses_a_consistent_table_without_a_table():
    with pytest.raises(ValueError, match="rule_table_consistent"):
        AgentConfig(rule_table_consistent=True).validate()
    AgentConfig(rule_table=4, rule_table_consistent=True).validate()
    model = build_agent(AgentConfig(channels=8, prompt_dim=P, steps=1, heads=2, rule_table=K,
                                    rule_table_consistent=True))
    assert model.rule_table.sharpness is not None


def test_recolouring_written_parts_equals_writing_the_recoloured_grids():
    """Test-time training writes row tables from cached parts recoloured per row (row_tables.py): that must be
    exactly the parts of the recoloured grids, context and line slots included."""
    torch.manual_seed(0)
    table = RuleTable(4, channels=8, context=True, line_slots=True)
    rng = np.random.default_rng(3)
    inputs = torch.from_numpy(rng.integers(0, 5, (3, 6, 6)) * (rng.random((3, 6, 6)) < 0.5))
    outputs = torch.where(inputs == 2, 7, inputs)
    mask = torch.ones(3, 6, 6, dtype=torch.bool)
    mask[1, 4:], mask[2, :, 5:] = False, False
    inputs, outputs = inputs * mask, outputs * mask
    colors = torch.tensor([list(range(10)), [0, 3, 2, 1, 9, 5, 6, 8, 7, 4], [0, 9, 8, 7, 6, 5, 4, 3, 2, 1]])
    recoloured = [colors.gather(1, g.flatten(1)).view_as(g) for g in (inputs, outputs)]
    want = table.write_parts(recoloured[0], recoloured[1], mask)
    got = RuleTable.recolour(table.write_parts(inputs, outputs, mask), colors)
    for name, a, b in zip(want._fields, got, want):
        assert torch.equal(a, b), name
    assert not torch.equal(got.features[2], table.write_parts(inputs, outputs, mask).features[2])  # it did move
