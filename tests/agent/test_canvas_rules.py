"""Output-canvas rules (AgentConfig.rule_table_induced_canvas): the demos' size rule, and rules on the cells of an
output of another size than the input."""

import numpy as np
import pytest
import torch

from arc_efe.agent import AgentConfig, build_agent
from arc_efe.agent.canvas_rules import CANVAS_KIND_NAMES, SELECTORS, UNDEFINED, canvas_keys, output_box, size_rule
from arc_efe.agent.induced_rules import CANVAS_BASE, COPY_BASE, decide, induce, output_box as encoded_box, width, write
from arc_efe.agent.rule_table import INDUCED_RULES, RuleTable
from arc_efe.data.task import Pair


def shaped(*shapes: tuple[tuple[int, int], tuple[int, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs of grids of these (input, output) shapes, full of colour 1 (one object: every selector's box is the
    whole input)."""
    return [(np.ones(i, dtype=int), np.ones(o, dtype=int)) for i, o in shapes]


def shape_of(rule: np.ndarray, shape: tuple[int, int]) -> tuple[int, int] | None:
    box = output_box(rule, np.ones(shape, dtype=int))
    return None if box is None else box[2:]


def test_the_size_rule_is_the_simplest_every_demo_fits():
    np.testing.assert_array_equal(size_rule(shaped(((3, 3), (9, 6)), ((2, 5), (6, 10)))),
                                  [1, 0, 3, 1, 0, 1, 2, 1, 0])
    # halves split by a separator line: 2k + 1 rows become k; columns kept
    halves = size_rule(shaped(((7, 4), (3, 4)), ((11, 6), (5, 6))))
    assert shape_of(halves, (9, 2)) == (4, 2)
    # a transposition reads the other axis
    assert shape_of(size_rule(shaped(((3, 5), (5, 3)), ((2, 7), (7, 2)))), (4, 9)) == (9, 4)
    # a constant size where nothing simpler fits
    assert shape_of(size_rule(shaped(((5, 5), (3, 3)), ((8, 2), (3, 3)))), (20, 20)) == (3, 3)
    assert size_rule(shaped(((2, 2), (4, 4)), ((3, 3), (3, 3)), ((5, 5), (2, 2)))) is None
    assert shape_of(size_rule(shaped(((3, 3), (9, 9)))), (11, 2)) is None  # 33 rows: no ARC grid


def test_a_crop_to_a_selected_part_is_a_size_rule_and_the_box_kind_reads_it():
    rng = np.random.default_rng(4)

    def scene(side: int) -> tuple[np.ndarray, np.ndarray]:
        """Scattered single cells of colour 3 and one larger 2-coloured object; the output is that object's box."""
        g = np.where(rng.random((side, side)) < 0.08, 3, 0)
        r, c = rng.integers(0, side - 4, size=2)
        obj = rng.integers(1, 3, (3, 4)) * 4 % 9  # colours 4 and 8
        g[r - 1 : r + 4, c - 1 : c + 5] = 0
        g[r : r + 3, c : c + 4] = obj
        return g, obj

    pairs = [scene(s) for s in (9, 11, 12)]
    rule = size_rule(pairs)
    assert rule[0] >= 2 and SELECTORS[int(rule[0]) - 2] in ("largest_c8", "largest_o8")
    query, answer = scene(10)
    written = write(pairs, 3, 256, canvas=True)
    assert encoded_box(written, query, 3, 256)[2:] == answer.shape
    colour, _ = decide(written, query, 3, 256)
    np.testing.assert_array_equal(colour, answer)


def test_canvas_keys_read_the_input_where_each_kind_says():
    g = np.array([[1, 2], [3, 4]])
    keys = canvas_keys(g, (4, 4))
    name = CANVAS_KIND_NAMES.index
    np.testing.assert_array_equal(keys[name("scaled")], np.kron(g, np.ones((2, 2), dtype=int)))
    np.testing.assert_array_equal(keys[name("tiled")], np.tile(g, (2, 2)))
    np.testing.assert_array_equal(keys[name("tiled_flip_rows")], np.tile(np.concatenate([g, g[::-1]]), (1, 2)))
    np.testing.assert_array_equal(keys[name("tiled_flip_rows_even")], np.tile(np.concatenate([g[::-1], g]), (1, 2)))
    assert (keys[name("corner_tl")][2:] == UNDEFINED).all()  # an output larger than the input reads off it
    small = canvas_keys(np.array([[5, 5, 1, 1], [5, 7, 1, 1]]), (1, 2))
    np.testing.assert_array_equal(small[name("block_majority")], [[5, 1]])
    np.testing.assert_array_equal(small[name("corner_br")], [[1, 1]])


def self_similar(g: np.ndarray) -> np.ndarray:
    """007bbfb7's rule: each coloured cell becomes a copy of the input, each background cell a blank block."""
    return np.kron(g != 0, np.ones_like(g)) * np.tile(g, g.shape)


def test_a_self_similar_tiling_is_induced_and_decided_on_the_larger_output():
    rng = np.random.default_rng(0)
    grids = [np.where(rng.random((3, 3)) < 0.5, 6, 0) for _ in range(4)]
    pairs = [(g, self_similar(g)) for g in grids[:3]]
    rules = induce(pairs, INDUCED_RULES, canvas=True)
    assert rules and CANVAS_KIND_NAMES[rules[0].kind - CANVAS_BASE] == "self_similar"
    written = write(pairs, INDUCED_RULES, 256, canvas=True)
    assert len(written) == width(INDUCED_RULES, 256, canvas=True) == width(INDUCED_RULES, 256) + 9
    assert encoded_box(written, grids[3], INDUCED_RULES, 256) == (0, 0, 9, 9)
    colour, rank = decide(written, grids[3], INDUCED_RULES, 256)
    assert colour.shape == (9, 9) and (rank == 0).all()
    np.testing.assert_array_equal(colour, self_similar(grids[3]))
    # without `canvas` a size change has no rule, and the width is the old one
    assert induce(pairs, INDUCED_RULES) == [] and len(write(pairs, INDUCED_RULES, 256)) == width(INDUCED_RULES, 256)


def test_a_copy_rule_scales_colours_no_demo_showed():
    rng = np.random.default_rng(1)
    grids = (rng.integers(0, 3, (2, 3)), rng.integers(0, 3, (4, 2)))
    pairs = [(g, np.kron(g, np.ones((2, 3), dtype=int))) for g in grids]
    rules = induce(pairs, INDUCED_RULES, canvas=True)
    assert rules[0].kind == COPY_BASE + CANVAS_KIND_NAMES.index("scaled") and len(rules[0].keys) == 0
    query = np.array([[7, 8], [0, 9]])
    colour, _ = decide(write(pairs, INDUCED_RULES, 256, canvas=True), query, INDUCED_RULES, 256)
    np.testing.assert_array_equal(colour, np.kron(query, np.ones((2, 3), dtype=int)))


def mirrored_down(g: np.ndarray) -> np.ndarray:
    return np.concatenate([g, g[::-1]])


def test_the_table_proposes_the_output_size_and_its_cells_beyond_the_input():
    rng = np.random.default_rng(2)
    demos = [Pair(g, mirrored_down(g)) for g in (rng.integers(0, 4, (3, 4)), rng.integers(0, 4, (2, 5)))]
    query = rng.integers(0, 4, (4, 3))
    table = RuleTable(4, channels=8, induced=256, induced_canvas=True)
    written = table.write([demos], torch.device("cpu"))  # no same-size demo: the rules still ride along
    assert written.shape == (1, table.dim)
    canvas = 8
    grid = torch.zeros(1, canvas, canvas, dtype=torch.long)
    grid[0, :4, :3] = torch.from_numpy(query)
    mask = torch.zeros_like(grid, dtype=torch.bool)
    mask[0, :4, :3] = True
    sizes = table.size_proposal(grid, mask, written)
    assert sizes[0, 0].argmax() == 7 and sizes[0, 1].argmax() == 2 and sizes[0, 0, 7] == table.size_gate
    with torch.no_grad():
        table.gate.zero_()
        _, proposal = table.read(grid, mask, written)
    np.testing.assert_array_equal(proposal[0, :8, :3].argmax(-1).numpy(), mirrored_down(query))
    assert (proposal[0, :, 3:] == 0).all()  # nothing proposed outside the output
    # a table without `induced_canvas` proposes no size and no cell outside the same-size input
    plain = RuleTable(4, channels=8, induced=256)
    assert (plain.size_proposal(grid, mask, plain.write([demos], torch.device("cpu"))) == 0).all()


def test_the_agent_takes_the_tables_size_and_the_config_needs_induced_rules():
    with pytest.raises(ValueError, match="rule_table_induced_canvas"):
        AgentConfig(rule_table=4, rule_table_induced_canvas=True).validate()
    torch.manual_seed(0)
    config = AgentConfig(channels=8, prompt_dim=8, steps=2, rule_table=4, rule_table_induced=64,
                         rule_table_induced_canvas=True)
    agent = build_agent(config)
    assert agent.prompt_width - build_agent(AgentConfig(channels=8, prompt_dim=8, steps=2, rule_table=4,
                                                        rule_table_induced=64)).prompt_width == 9
    rng = np.random.default_rng(3)
    demos = [Pair(g, np.kron(g, np.ones((3, 3), dtype=int))) for g in (rng.integers(0, 3, (2, 2)),
                                                                       rng.integers(0, 3, (3, 2)))]
    table = agent.rule_table.write([demos], torch.device("cpu"))
    prompt = torch.cat([torch.zeros(1, 8), table], dim=1)
    grid = torch.zeros(1, 12, 12, dtype=torch.long)
    grid[0, :3, :4] = torch.from_numpy(rng.integers(0, 3, (3, 4)))
    mask = torch.zeros_like(grid, dtype=torch.bool)
    mask[0, :3, :4] = True
    with torch.no_grad():
        agent.rule_table.size_gate.fill_(100.0)  # far above the untrained heads' logits
        out = agent(grid, mask, prompt)
    assert out.height_logits[0, -1].argmax() == 8 and out.width_logits[0, -1].argmax() == 11


def test_self_similar_grids_of_two_sizes_and_a_new_colour_need_the_square_rule_and_a_pair_kind():
    rng = np.random.default_rng(7)
    grids = [np.where(rng.random((3, 3)) < 0.5, 6, 0), np.where(rng.random((2, 2)) < 0.6, 2, 0),
             np.where(rng.random((3, 3)) < 0.5, 3, 0)]
    for g in grids:
        g[0, 0] = g[0, 0] or g.max() or 1
    pairs = [(g, self_similar(g)) for g in grids]
    assert shape_of(size_rule(pairs), (4, 4)) == (16, 16)  # out = in * in
    query = np.where(rng.random((4, 4)) < 0.5, 9, 0)
    query[0, 0] = 9
    colour, _ = decide(write(pairs, INDUCED_RULES, 1024, canvas=True), query, INDUCED_RULES, 1024)
    np.testing.assert_array_equal(colour, self_similar(query))


def test_a_pair_kind_overlays_two_halves_in_colours_no_demo_showed():
    rng = np.random.default_rng(8)

    def halves(a: int, b: int, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
        left = np.where(rng.random((rows, cols)) < 0.5, a, 0)
        right = np.where(rng.random((rows, cols)) < 0.5, b, 0)
        g = np.concatenate([left, np.full((rows, 1), 5), right], axis=1)
        return g, np.where(left != 0, left, right)

    pairs = [halves(1, 2, 4, 3), halves(2, 1, 3, 4), halves(1, 3, 5, 5)]
    query, answer = halves(7, 8, 4, 4)
    colour, _ = decide(write(pairs, INDUCED_RULES, 1024, canvas=True), query, INDUCED_RULES, 1024)
    np.testing.assert_array_equal(colour, answer)
