"""bench/lookup.py: the `specific` lookup alone solves a colour map and not a flip; with a checkpoint it counts
that checkpoint's plain solves among the lookup's tasks."""

import json
import sys

import numpy as np
import pytest

from arc_efe.data.generators import task_to_json
from arc_efe.data.task import Pair, Task


@pytest.fixture
def script(load_bench):
    return load_bench("lookup")


def recoloured(rng, h, w):
    grid = rng.choice([0, 1, 3], size=(h, w))
    return Pair(grid, np.select([grid == 1, grid == 3], [2, 4], grid))


def flipped(rng, h, w):
    grid = rng.choice([0, 5, 6], size=(h, w))
    return Pair(grid, grid[:, ::-1].copy())


def test_the_lookup_solves_a_colour_map_and_not_a_flip(script, tmp_path, capsys):
    rng = np.random.default_rng(0)
    colour_map = Task("cmap", [recoloured(rng, 5, 6), recoloured(rng, 4, 4), recoloured(rng, 6, 5)],
                      [recoloured(rng, 7, 7)])
    flip = Task("flip", [flipped(rng, 5, 6), flipped(rng, 4, 4)], [flipped(rng, 6, 6)])
    table = script.lookup_table(64)
    assert script.lookup_solves(table, colour_map) and not script.lookup_solves(table, flip)
    for task in (colour_map, flip):
        (tmp_path / f"{task.id}.json").write_text(json.dumps(task_to_json(task)))
    assert script.main(["--tasks", str(tmp_path), "--buckets", "64"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert "cmap" in out[-2] and "flip" not in out[-2]
    s = sys.modules["common"].parse_summary(out[-1])
    assert (s["lookup_solved"], s["tasks"]) == ("1", "2")


def test_with_a_checkpoint_it_counts_plain_solves_among_the_lookups_tasks(script, capsys):
    shipped = str(sys.modules["common"].checkpoint_folder(None))
    assert script.main(["--tasks", "arc1/training", "--checkpoint", shipped, "--limit-generated", "30",
                        "--heldout-families", "colour_map"]) == 0
    s = sys.modules["common"].parse_summary(capsys.readouterr().out.strip().splitlines()[-1])
    assert int(s["lookup_solved_untrained"]) >= 20  # fresh colour maps: the lookup's own family
    assert 0 <= int(s["plain_of_lookup_untrained"]) <= int(s["lookup_solved_untrained"])
    assert 0 <= int(s["plain_of_lookup_generated"]) <= int(s["lookup_solved_generated"])


def by_size(rng, size):
    """Bars of colour 5 recoloured 1, 2 or 3 by length (3 for 3 or more): a rule of the object, not the window."""
    grid = np.zeros((size, size), dtype=np.int64)
    for r in range(1, size, 2):
        length = rng.integers(1, 6)
        start = rng.integers(0, size - length + 1)
        grid[r, start : start + length] = 5
    out = grid.copy()
    for r in range(1, size, 2):
        out[r][grid[r] == 5] = min(int((grid[r] == 5).sum()), 3)
    return Pair(grid, out)


def test_the_induced_rules_solve_recolouring_by_size_where_the_specific_lookup_does_not(script, tmp_path, capsys):
    rng = np.random.default_rng(2)
    task = Task("size", [by_size(rng, 9), by_size(rng, 10), by_size(rng, 11)], [by_size(rng, 12)])
    assert script.lookup_solves(script.lookup_table(256, induced=True), task)
    assert not script.lookup_solves(script.lookup_table(256), task)
    (tmp_path / "size.json").write_text(json.dumps(task_to_json(task)))
    assert script.main(["--tasks", str(tmp_path), "--buckets", "256", "--induced"]) == 0
    s = sys.modules["common"].parse_summary(capsys.readouterr().out.strip().splitlines()[-1])
    assert s["lookup_solved"] == "1"
