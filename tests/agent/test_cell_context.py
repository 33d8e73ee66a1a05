"""The rule table's line and object features (agent/cell_context.py, AgentConfig.rule_table_context)."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from arc_efe.agent import AgentConfig, build_agent
from arc_efe.agent.cell_context import (
    AXES,
    CONTEXT_FEATURES,
    DIRECTIONS,
    SIZE_BINS,
    component_sizes,
    context_features,
    nearest_colours,
)
from arc_efe.agent.rule_table import FEATURES, FIXED_SLOTS, VALUES, WINDOW, RuleTable
from arc_efe.data.task import Pair

CPU = torch.device("cpu")


def random_canvas(rng, canvas=9):
    """A sparse grid of random size on a larger canvas, and its mask."""
    h, w = (int(v) for v in rng.integers(1, canvas + 1, size=2))
    grid = np.zeros((canvas, canvas), dtype=np.int64)
    grid[:h, :w] = rng.choice([0, 0, 0, 1, 2, 3], size=(h, w))
    grid[h:, :] = 5  # colour off the grid must never be seen
    grid[:, w:] = 5
    mask = np.zeros_like(grid, dtype=bool)
    mask[:h, :w] = True
    return grid, mask, h, w


def walk(grid, h, w, r, c, dr, dc):
    r, c = r + dr, c + dc
    while 0 <= r < h and 0 <= c < w:
        if grid[r, c]:
            return grid[r, c]
        r, c = r + dr, c + dc
    return -1


def test_nearest_colours_and_object_sizes_match_a_cell_by_cell_walk_and_scipy_labels():
    rng = np.random.default_rng(0)
    for _ in range(40):
        grid, mask, h, w = random_canvas(rng)
        g, m = torch.from_numpy(grid)[None], torch.from_numpy(mask)[None]
        near, sizes = nearest_colours(g, m)[0].numpy(), component_sizes(g, m)[0].numpy()
        expected = np.zeros_like(grid)
        for colour in range(1, 10):
            labels, n = ndimage.label((grid == colour) & mask)  # 4-connected by default
            for k in range(1, n + 1):
                expected[labels == k] = (labels == k).sum()
        np.testing.assert_array_equal(sizes, expected)
        for r in range(h):
            for c in range(w):
                walked = [walk(grid, h, w, r, c, *step) for step in DIRECTIONS]
                assert list(near[r, c]) == walked


def test_context_features_name_no_colour_and_describe_nothing_off_the_grid():
    rng = np.random.default_rng(1)
    grid, mask, _, _ = random_canvas(rng)
    g, m = torch.from_numpy(grid)[None], torch.from_numpy(mask)[None]
    permutation = torch.tensor([0, 3, 1, 2, 9, 8, 7, 6, 5, 4])  # background fixed
    a = context_features(g, m, nearest_colours(g, m))
    b = context_features(permutation[g], m, nearest_colours(permutation[g], m))
    assert a.shape == (1, 9, 9, CONTEXT_FEATURES)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert a[~m].abs().sum() == 0


def test_between_and_extreme_object_features_on_a_drawn_grid():
    grid = torch.tensor([[[2, 0, 0, 2, 0],
                          [0, 0, 0, 0, 0],
                          [1, 1, 0, 3, 0]]])
    mask = torch.ones_like(grid, dtype=torch.bool)
    f = context_features(grid, mask, nearest_colours(grid, mask))[0]
    between = 2 * len(DIRECTIONS)
    sizes = between + len(AXES)
    assert f[0, 1, between + 0] == 1 and f[0, 4, between + 0] == 0  # between the two 2s on the row, not beyond
    assert f[2, 0, sizes + 1] == 1 and f[2, 3, sizes + 0] == 1  # the 1s are an object of 2, the 3 of 1
    largest, smallest = sizes + SIZE_BINS, sizes + SIZE_BINS + 1
    assert f[2, 0, largest] == 1 and f[2, 0, smallest] == 0
    assert f[2, 3, smallest] == 1 and f[0, 0, smallest] == 1 and f[0, 0, largest] == 0
    assert f[1, 1, largest:].sum() == 0  # background is no object


def rays_right(grid):
    """Every coloured cell's colour painted rightwards over the background until the border or a coloured cell."""
    out = grid.copy()
    for r, row in enumerate(grid):
        colour = 0
        for c, v in enumerate(row):
            colour = v if v else colour
            out[r, c] = v if v else colour
    return out


def test_a_slot_for_cells_with_a_coloured_cell_on_their_left_proposes_that_cells_colour_in_new_colours(monkeypatch):
    torch.manual_seed(0)
    table = RuleTable(1, channels=8, context=True)

    def assign(features, fixed, mask):
        """By hand: the one learned slot holds the background cells (the centre-background feature) with a
        coloured cell on their left (line 0, the first context feature)."""
        mine = (features[..., FEATURES] > 0) & (features[..., 3 * WINDOW] > 0) & mask
        a = torch.zeros(*mask.shape, FIXED_SLOTS + 1)
        a[..., FIXED_SLOTS] = mine.float()
        return a

    monkeypatch.setattr(table, "_assign", assign)
    rng = np.random.default_rng(2)
    demos = []
    for _ in range(3):
        grid = np.zeros((6, 7), dtype=np.int64)
        grid[rng.choice(6, 3, replace=False), rng.integers(0, 3, 3)] = [1, 2, 1]
        demos.append(Pair(grid, rays_right(grid)))
    written = table.write([demos], CPU)
    slot = written.view(FIXED_SLOTS + 1, table.values + 1)[FIXED_SLOTS]
    assert slot[VALUES + 0] > 0.9  # its output took the colour of the nearest coloured cell on its left
    assert slot[:10].max() < 0.8  # and no one colour: the demos painted two
    test = np.zeros((5, 5), dtype=np.int64)
    test[1, 0], test[3, 2] = 7, 4  # colours the demos never used
    g = torch.from_numpy(test)[None]
    _, proposal = table.read(g, torch.ones_like(g, dtype=torch.bool), written)
    expected = torch.from_numpy(rays_right(test))[None]
    painted = expected != g
    assert painted.sum() == 6
    assert torch.equal(proposal.argmax(-1)[painted], expected[painted])


def test_line_slots_record_that_background_cells_seeing_a_cell_on_their_left_took_its_colour():
    table = RuleTable(2, channels=8, context=True, line_slots=True)
    assert table.slots == FIXED_SLOTS + 16 + 2
    grid = np.zeros((4, 6), dtype=np.int64)
    grid[0, 1], grid[2, 3] = 3, 6
    written = table.write([[Pair(grid, rays_right(grid))]], CPU).view(table.slots, table.values + 1)
    left, up = FIXED_SLOTS + 0, FIXED_SLOTS + 2  # background cells that see a coloured cell on their left / above
    painted = 4 + 2  # the background cells right of the 3 and of the 6
    assert torch.expm1(written[left, -1]).round() == painted
    torch.testing.assert_close(written[left, VALUES + 0], torch.tensor(painted / (painted + 1)))
    seen_above = 3 + 1  # the background under the 3 and under the 6: none of them right of a source, none painted
    assert torch.expm1(written[up, -1]).round() == seen_above
    assert written[up, VALUES + 0] == 0


def test_the_context_table_is_wider_and_the_default_table_unchanged():
    assert RuleTable(4, channels=8).dim == (FIXED_SLOTS + 4) * (VALUES + 1)
    assert RuleTable(4, channels=8, context=True).dim == (FIXED_SLOTS + 4) * (VALUES + len(DIRECTIONS) + 1)
    agent = build_agent(AgentConfig(channels=8, prompt_dim=8, heads=2, steps=1, rule_table=4, rule_table_context=True))
    pair = Pair(np.array([[1, 0, 0]]), np.array([[1, 1, 1]]))
    table = agent.rule_table.write([[pair]], CPU)
    inputs = torch.tensor([[[2, 0], [0, 0]]])
    out = agent(inputs, torch.ones_like(inputs, dtype=torch.bool), torch.cat([torch.zeros(1, 8), table], 1))
    assert out.cell_logits.shape[-1] == 10 and torch.isfinite(out.cell_logits).all()


def test_config_refuses_context_without_a_table_and_line_slots_without_context():
    with pytest.raises(ValueError, match="rule_table_context"):
        AgentConfig(rule_table_context=True).validate()
    with pytest.raises(ValueError, match="rule_table_context"):
        AgentConfig(rule_table=4, rule_table_context=1).validate()
    with pytest.raises(ValueError, match="rule_table_line_slots"):
        AgentConfig(rule_table=4, rule_table_line_slots=True).validate()
