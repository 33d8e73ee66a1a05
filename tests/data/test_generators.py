"""Procedural task generators: every family keeps the task invariants, and a few rules do what they say."""

import json

import numpy as np
import pytest

from arc_efe.data.generators import CONCEPTS, FAMILIES, Family, GenerationError, generate, generate_task, task_to_json
from arc_efe.data.generators.base import valid_grid
from arc_efe.data.sources import parse_task

CI_SEEDS = range(10)
DIFFICULTIES = (0.0, 1.0)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a, b)


def _check_task(name: str, task) -> None:
    family = FAMILIES[name]
    pairs = task.train + task.test
    assert 3 <= len(task.train) <= 5 and 1 <= len(task.test) <= 2
    for p in pairs:
        assert p.output is not None
        assert valid_grid(p.input) and valid_grid(p.output), f"{task.id}: invalid grid"
    inputs = [p.input for p in pairs]
    for i in range(len(inputs)):
        for j in range(i):
            assert not _same(inputs[i], inputs[j]), f"{task.id}: pairs {j} and {i} share an input"
    assert not all(_same(p.input, p.output) for p in task.train), f"{task.id}: every demo is unchanged"
    params = task.meta["params"]
    json.dumps(params)  # the rule instance is stored as plain JSON values
    # Every pair, tests included, follows the one stored rule instance.
    for p in pairs:
        given = p.input.copy()
        assert _same(family.apply(params, given), p.output), f"{task.id}: a pair breaks the task's rule"
        assert _same(given, p.input), f"{task.id}: the rule wrote into its input"
    # No other listed instance fits all demos yet answers a test differently.
    for alt in family.alternatives(params) if family.alternatives else []:
        if all(_same(family.apply(alt, p.input), p.output) for p in task.train):
            assert all(_same(family.apply(alt, p.input), p.output) for p in task.test), f"{task.id}: {alt} fits"


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_keeps_task_invariants(name):
    for seed in CI_SEEDS:
        for difficulty in DIFFICULTIES:
            task = generate_task(name, seed, difficulty)
            assert task.id == f"gen-{name}-{seed}" and task.meta["family"] == name
            _check_task(name, task)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_keeps_task_invariants_many_seeds(name):
    for seed in range(100, 200):
        for difficulty in (0.0, 0.5, 1.0):
            _check_task(name, generate_task(name, seed, difficulty))


def test_same_seed_same_task_and_seeds_differ():
    for name in FAMILIES:
        first, again, other = (task_to_json(generate_task(name, s, 0.5)) for s in (7, 7, 8))
        assert first == again, name
        assert first != other, name


def test_registry_size_and_concept_coverage():
    assert len(FAMILIES) >= 50
    tags = [t for family in FAMILIES.values() for t in family.concepts]
    assert set(tags) <= set(CONCEPTS), f"undeclared tags: {set(tags) - set(CONCEPTS)}"
    assert set(CONCEPTS) <= set(tags), f"concepts no family covers: {set(CONCEPTS) - set(tags)}"
    assert all(name == family.name and family.concepts for name, family in FAMILIES.items())


def test_hidden_parameter_families_change_outputs_with_the_instance():
    """Where a family lists alternatives, some alternative answers the same inputs differently, so a
    model that ignores the demonstrations cannot fit that family."""
    with_alternatives = [n for n, f in FAMILIES.items() if f.alternatives]
    assert len(with_alternatives) >= 20
    for name in with_alternatives:
        family, task = FAMILIES[name], generate_task(name, 0, 0.5)
        alts = family.alternatives(task.meta["params"])
        assert any(not _same(family.apply(alt, p.input), p.output) for alt in alts for p in task.train), name


def test_task_to_json_round_trips_through_the_task_parser():
    task = generate_task("gravity_cells", 3, 0.5)
    back = parse_task(json.loads(json.dumps(task_to_json(task))), task.id)
    for a, b in zip(task.train + task.test, back.train + back.test):
        assert _same(a.input, b.input) and _same(a.output, b.output)


def test_generate_draws_from_the_given_rng_and_rejects_unknown_names():
    a = generate("d8_transform", np.random.default_rng(5), 0.5)
    b = generate("d8_transform", np.random.default_rng(5), 0.5)
    assert task_to_json(a) == task_to_json(b)
    with pytest.raises(KeyError, match="unknown generator family"):
        generate("no_such_family", np.random.default_rng(0), 0.5)


def _grid_input(rng, difficulty, params):
    return rng.integers(0, 3, size=(4, 4))


def test_renderer_refuses_a_rule_that_changes_nothing():
    lazy = Family("lazy", ("d8",), lambda r, d: {}, _grid_input, lambda p, g: g.copy())
    with pytest.raises(GenerationError, match="lazy"):
        lazy(np.random.default_rng(0), 0.5)


def _corner_blank(g: np.ndarray) -> bool:
    return bool(g[0, 0] == 0 and g[0, 1] == 0)


def _flip(p, g):
    # Instance 5 differs from instance 7 only on inputs with a blank corner pair.
    return g[::-1] if p["k"] == 5 and _corner_blank(g) else g[:, ::-1]


def test_renderer_redraws_demos_that_do_not_pin_the_rule():
    """A test with a blank corner needs a demo with one, or instance 5 would fit the demos and fail it."""
    checked = Family("checked", ("d8",), lambda r, d: {"k": 7}, _grid_input, _flip, lambda p: [{"k": 5}])
    unchecked = Family("unchecked", ("d8",), lambda r, d: {"k": 7}, _grid_input, _flip)

    def unpinned(family):
        tasks = [family(np.random.default_rng(s), 0.5) for s in range(40)]
        return sum(
            any(_corner_blank(p.input) for p in t.test) and not any(_corner_blank(p.input) for p in t.train)
            for t in tasks
        )

    assert unpinned(unchecked) > 0
    assert unpinned(checked) == 0


def _apply(name, params, grid):
    return FAMILIES[name].apply(params, np.array(grid))


def test_rules_on_hand_made_grids():
    assert _apply("gravity_cells", {"dir": "down"}, [[1, 0], [0, 0], [2, 3]]).tolist() == [[0, 0], [1, 0], [2, 3]]
    assert _apply("gravity_cells", {"dir": "left"}, [[0, 1, 0, 2]]).tolist() == [[1, 2, 0, 0]]
    ring = [[1, 1, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0]]
    assert _apply("fill_enclosed", {"where": "inside", "colour": 4}, ring)[1].tolist() == [1, 4, 1, 0]
    assert _apply("fill_enclosed", {"where": "outside", "colour": 4}, ring)[:, 3].tolist() == [4, 4, 4]
    halves = [[1, 0, 5, 2, 2], [0, 0, 5, 0, 2]]
    assert _apply("logic_halves", {"op": "xor", "colour": 3}, halves).tolist() == [[0, 3], [0, 3]]
    assert _apply("logic_halves", {"op": "and", "colour": 3}, halves).tolist() == [[3, 0], [0, 0]]
    assert _apply("periodic_repair", {"mode": "repair"}, [[1, 2, 1, 2], [1, 0, 0, 2]]).tolist() == [[1, 2, 1, 2]] * 2
    block = np.ones((5, 5), dtype=int)
    block[1, 1] = block[3, 3] = 0
    assert _apply("count_holes", {"colour": 6}, block).tolist() == [[6, 6]]
    assert _apply("recolour_by_size", {"colour": 1, "map": {"1": 7, "2": 8}}, [[1, 0, 1, 1]]).tolist() == [[7, 0, 8, 8]]
    assert _apply("tile_self_similar", {"invert": False}, [[1, 0], [0, 0]]).tolist() == [
        [1, 0, 0, 0],
        [0, 0, 0, 0],
        [0, 0, 0, 0],
        [0, 0, 0, 0],
    ]
