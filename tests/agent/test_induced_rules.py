"""Induced cell rules (AgentConfig.rule_table_induced): the key kinds the demos' outputs are a function of."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from arc_efe.agent import AgentConfig, build_agent
from arc_efe.agent.induced_rules import (BLIND_BASE, BLIND_COPY_BASE, BLIND_COPY_NAMES, BLIND_KIND_NAMES, KIND_NAMES,
                                         KINDS, SAME, UNDEFINED, VIEW_KIND_NAMES, cell_keys, decide, encode, induce,
                                         width, write)
from arc_efe.agent.rule_table import INDUCED_RULES, RuleTable
from arc_efe.data.task import Pair


def recolour_by_size(grid: np.ndarray) -> np.ndarray:
    """Each 4-connected object of colour 5 turns 1, 2 or 3 by its size (1, 2, 3+ cells); nothing else changes.
    No 3x3 window states this: a cell of a 3-cell bar and of a 5-cell bar can look alike."""
    labels, _ = ndimage.label(grid == 5)
    sizes = np.bincount(labels.ravel())[labels]
    return np.where(grid == 5, np.minimum(sizes, 3), grid)


def bars(rng: np.random.Generator, size: int) -> np.ndarray:
    """Horizontal bars of colour 5, lengths 1..5, one per odd row, on a background of 0."""
    grid = np.zeros((size, size), dtype=np.int64)
    for r in range(1, size, 2):
        length = rng.integers(1, 6)
        start = rng.integers(0, size - length + 1)
        grid[r, start : start + length] = 5
    return grid


def demos_and_query(seed: int = 0) -> tuple[list[Pair], Pair]:
    rng = np.random.default_rng(seed)
    demos = [Pair(g, recolour_by_size(g)) for g in (bars(rng, 9), bars(rng, 10), bars(rng, 11))]
    query = bars(rng, 12)
    return demos, Pair(query, recolour_by_size(query))


def test_keys_are_deterministic_distinct_across_kinds_and_carry_the_colour():
    grid = np.random.default_rng(0).integers(0, 4, size=(6, 7))
    keys = cell_keys(grid)
    assert keys.shape == (KINDS, 6, 7) and keys.dtype == np.int64 and (keys >= 0).all()
    np.testing.assert_array_equal(keys, cell_keys(grid.copy()))
    assert len(np.intersect1d(keys[0], keys[1])) == 0  # one kind's key never reads as another's
    # the colour kind: one key per colour present
    assert len(np.unique(keys[KIND_NAMES.index("colour")])) == len(np.unique(grid))
    # two cells of one colour in objects of different sizes differ in the size key only when the sizes differ
    size = keys[KIND_NAMES.index("c4_size")]
    labels, _ = ndimage.label(grid == grid[0, 0])
    same_object = labels == labels[0, 0]
    assert (size[same_object] == size[0, 0]).all()


def test_the_fewest_keys_function_of_the_demos_is_induced_first():
    demos, _ = demos_and_query()
    rules = induce([(p.input, p.output) for p in demos], top=3)
    assert rules, "the size rule is a function of the c4 size key"
    names = [KIND_NAMES[r.kind] for r in rules]
    assert "colour" not in names  # colour 5 turns to three colours: not a function of the colour
    assert names[0].endswith("_size") or names[0].endswith("_size_touch")
    assert [len(r.keys) for r in rules] == sorted(len(r.keys) for r in rules)
    # demos that turn one input into two different outputs contradict themselves under every kind: no rule
    blank, noise = np.zeros((5, 5), dtype=np.int64), np.random.default_rng(1).integers(0, 10, size=(5, 5))
    assert induce([(blank, noise), (blank, (noise + 1) % 10)], top=3) == []


def test_encoded_rules_decide_a_new_query_and_only_keys_they_saw():
    demos, query = demos_and_query()
    rules = induce([(p.input, p.output) for p in demos], top=INDUCED_RULES)
    encoded = encode(rules, INDUCED_RULES, 256)
    assert encoded.shape == (width(INDUCED_RULES, 256),)
    colour, rank = decide(encoded, query.input, INDUCED_RULES, 256)
    assert (rank >= 0).all()
    np.testing.assert_array_equal(colour, query.output)
    # a colour the demos never showed has no key in any rule: undecided
    unseen = query.input.copy()
    unseen[0, 0] = 7
    colour, rank = decide(encoded, unseen, INDUCED_RULES, 256)
    assert rank[0, 0] == -1 and colour[0, 0] == -1
    # one bucket per rule: every key collides, so no bucket is trusted and nothing is decided
    colour, rank = decide(encode(rules, INDUCED_RULES, 1), query.input, INDUCED_RULES, 1)
    assert (rank == -1).all()


def test_the_table_proposes_the_induced_colours_and_written_grids_match_written_pairs():
    demos, query = demos_and_query()
    torch.manual_seed(0)
    table = RuleTable(4, channels=8, induced=256)
    written = table.write([demos], torch.device("cpu"))
    assert written.shape == (1, table.dim)
    size = 11
    inputs = torch.zeros(len(demos), size, size, dtype=torch.long)
    outputs, mask = torch.zeros_like(inputs), torch.zeros_like(inputs, dtype=torch.bool)
    for i, p in enumerate(demos):
        h, w = p.input.shape
        inputs[i, :h, :w], outputs[i, :h, :w], mask[i, :h, :w] = (torch.from_numpy(p.input),
                                                                 torch.from_numpy(p.output), True)
    from_grids = table.write_grids(inputs, outputs, mask, torch.zeros(len(demos), dtype=torch.long), 1)
    torch.testing.assert_close(from_grids, written)
    grid = torch.from_numpy(query.input)[None]
    with torch.no_grad():
        table.gate.zero_()  # the dense proposal off: the induced rules alone
        _, proposal = table.read(grid, torch.ones_like(grid, dtype=torch.bool), written)
    np.testing.assert_array_equal(proposal[0].argmax(-1).numpy(), query.output)
    # the gates' initial values: 3, plus 2 times the share decided (all of it)
    assert torch.allclose(proposal[0].amax(-1), torch.tensor(5.0))
    # the gate is a weight the loss reaches
    _, proposal = table.read(grid, torch.ones_like(grid, dtype=torch.bool), written)
    proposal.sum().backward()
    assert table.induced_gate.grad is not None and table.induced_gate.grad.abs().sum() > 0
    assert table.coverage_gate.grad is not None and table.coverage_gate.grad.abs() > 0


def test_config_validates_and_builds_an_agent_with_the_wider_prompt():
    with pytest.raises(ValueError, match="rule_table_induced"):
        AgentConfig(rule_table_induced=8).validate()
    with pytest.raises(ValueError, match="rule_table_induced"):
        AgentConfig(rule_table=4, rule_table_induced=True).validate()
    plain = build_agent(AgentConfig(channels=8, prompt_dim=8, steps=1, rule_table=4))
    induced = build_agent(AgentConfig(channels=8, prompt_dim=8, steps=1, rule_table=4, rule_table_induced=16))
    assert induced.prompt_width - plain.prompt_width == width(INDUCED_RULES, 16)


def test_written_rules_are_the_same_in_every_colouring_and_answer_in_the_querys_colours():
    demos, query = demos_and_query()
    pairs = [(p.input, p.output) for p in demos]
    written = write(pairs, INDUCED_RULES, 256)
    colour, rank = decide(written, query.input, INDUCED_RULES, 256)
    np.testing.assert_array_equal(colour, query.output)
    # the task in another colouring (5 -> 7, 1 -> 4, 2 -> 9, 3 -> 6): the same rules, renamed, and its own answers
    swap = np.arange(10)
    swap[[5, 1, 2, 3, 7, 4, 9, 6]] = [7, 4, 9, 6, 5, 1, 2, 3]
    recoloured = write([(swap[i], swap[o]) for i, o in pairs], INDUCED_RULES, 256)
    np.testing.assert_array_equal(recoloured[10:], written[10:])  # induced once, under the renaming
    colour, _ = decide(recoloured, swap[query.input], INDUCED_RULES, 256)
    np.testing.assert_array_equal(colour, swap[query.output])


def test_view_kinds_induce_a_mirror_completion_the_cell_kinds_cannot_state():
    """Symmetry completion (mirror_half, an untrained family): a background cell takes the colour its left-right
    mirror image holds. Only the `views` kinds key a cell on a far cell's colour."""
    rng = np.random.default_rng(4)

    def pair(h: int, w: int) -> Pair:
        half = rng.integers(1, 3, (h, (w + 1) // 2))  # two colours: the demos see every (colour, image) pair
        full = np.concatenate([half, np.fliplr(half)[:, w % 2 :]], axis=1)
        hole = rng.random(full.shape) < 0.3
        hole[:, w // 2 :] = False  # only the left half loses cells: their mirror images keep them
        broken = np.where(hole, 0, full)
        return Pair(broken, full)

    demos, query = [pair(7, 8), pair(8, 7), pair(8, 8)], pair(5, 8)  # big enough to hole every colour
    plain = write([(p.input, p.output) for p in demos], INDUCED_RULES, 256)
    viewed = write([(p.input, p.output) for p in demos], INDUCED_RULES, 256, views=True)
    colour, _ = decide(viewed, query.input, INDUCED_RULES, 256)
    np.testing.assert_array_equal(colour, query.output)
    colour, _ = decide(plain, query.input, INDUCED_RULES, 256)
    assert not np.array_equal(colour, query.output)
    rules = induce([(p.input, p.output) for p in demos], INDUCED_RULES, views=True)
    assert VIEW_KIND_NAMES[rules[0].kind - KINDS] == "d8_7"  # the left-right flip: one key per colour pair


def test_a_quarter_turn_is_no_rule_when_a_demo_is_not_square():
    rng = np.random.default_rng(5)
    square = [(g, np.rot90(g)) for g in (rng.integers(0, 4, (4, 4)), rng.integers(0, 4, (5, 5)))]
    assert [KINDS + VIEW_KIND_NAMES.index("d8_1")] == [r.kind for r in induce(square, 1, views=True)]
    wide = rng.integers(0, 4, (3, 5))
    assert cell_keys(wide, views=True)[KINDS + VIEW_KIND_NAMES.index("d8_1")].max() == UNDEFINED
    kinds = [r.kind - KINDS for r in induce(square + [(wide, wide)], INDUCED_RULES, views=True) if r.kind >= KINDS]
    assert VIEW_KIND_NAMES.index("d8_1") not in kinds
    with pytest.raises(ValueError, match="rule_table_induced_views"):
        AgentConfig(rule_table=4, rule_table_induced_views=True).validate()


def framed(g: np.ndarray) -> np.ndarray:
    """The outermost ring of cells turns colour 7; the rest keeps its colour."""
    out = np.full_like(g, 7)
    out[1:-1, 1:-1] = g[1:-1, 1:-1]
    return out


def test_blind_kinds_paint_a_border_and_keep_colours_no_demo_showed():
    rng = np.random.default_rng(5)
    grids = (rng.integers(0, 3, (6, 7)), rng.integers(0, 3, (7, 7)), rng.integers(0, 3, (5, 3)))
    pairs = [(g, framed(g)) for g in grids]
    query = rng.integers(4, 7, (7, 8))  # colours 4..6: no demo showed them
    coloured = decide(write(pairs, INDUCED_RULES, 256), query, INDUCED_RULES, 256)[0]
    assert (coloured[1:-1, 1:-1] < 0).all()  # coloured kinds never saw these colours (nor the row 6 / column 7)
    rules = induce(pairs, INDUCED_RULES, blind=True)
    assert BLIND_KIND_NAMES[rules[0].kind - BLIND_BASE] == "border_distance" and SAME in rules[0].colours
    # 1024 buckets, as trained: at 256 two of the six keys share a bucket, which then decides nothing
    colour, _ = decide(write(pairs, INDUCED_RULES, 1024, blind=True), query, INDUCED_RULES, 1024)
    np.testing.assert_array_equal(colour, framed(query))


def test_a_copy_kind_repairs_a_periodic_pattern_in_new_colours():
    rng = np.random.default_rng(6)

    def damaged(tile: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        whole = np.tile(tile, (shape[0] // tile.shape[0] + 1, shape[1] // tile.shape[1] + 1))[: shape[0], : shape[1]]
        g = whole.copy()
        g[2:4, 3:6] = 0
        return g, whole

    pairs = [damaged(rng.integers(1, 4, (2, 3)), (8, 9)), damaged(rng.integers(1, 4, (3, 2)), (9, 8))]
    rules = induce(pairs, INDUCED_RULES, blind=True)
    assert BLIND_COPY_NAMES[rules[0].kind - BLIND_COPY_BASE] == "periodic" and len(rules[0].keys) == 0
    query, answer = damaged(rng.integers(5, 9, (2, 2)), (7, 10))
    colour, _ = decide(write(pairs, INDUCED_RULES, 256, blind=True), query, INDUCED_RULES, 256)
    np.testing.assert_array_equal(colour, answer)


def test_copy_kinds_move_a_grid_and_blind_kinds_fill_interiors_in_new_colours():
    rng = np.random.default_rng(9)

    def moved(g: np.ndarray) -> np.ndarray:  # down 1, left 2, background coming in
        return np.pad(g, ((1, 0), (0, 2)))[: g.shape[0], 2:]

    pairs = [(g, moved(g)) for g in (rng.integers(0, 3, (5, 6)), rng.integers(0, 3, (6, 4)))]
    rules = induce(pairs, INDUCED_RULES, blind=True)
    assert BLIND_COPY_NAMES[rules[0].kind - BLIND_COPY_BASE] == "shift_1_-2"
    query = rng.integers(5, 9, (7, 7))
    colour, _ = decide(write(pairs, INDUCED_RULES, 1024, blind=True), query, INDUCED_RULES, 1024)
    np.testing.assert_array_equal(colour, moved(query))

    def hollowed(g: np.ndarray) -> np.ndarray:  # an object cell whose four side neighbours share its colour goes
        pad = np.pad(g, 1, constant_values=-1)
        inner = (g != 0) & np.all([pad[1 + dr : 1 + dr + g.shape[0], 1 + dc : 1 + dc + g.shape[1]] == g
                                   for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))], axis=0)
        return np.where(inner, 0, g)

    def blocks(colour: int) -> np.ndarray:
        g = np.zeros((9, 9), dtype=int)
        g[1:5, 1:6] = colour
        g[6:9, 5:8] = colour + 1
        return g

    pairs = [(g, hollowed(g)) for g in (blocks(1), blocks(2)[::-1])]
    query = blocks(6).T
    colour, _ = decide(write(pairs, INDUCED_RULES, 1024, blind=True), query, INDUCED_RULES, 1024)
    np.testing.assert_array_equal(colour, hollowed(query))
