"""bench/rule_instances.py: tasks carry the fixed instance, are seeded and load from disk; a run prints each value."""

import sys

import pytest

from arc_efe.data.generators import FAMILIES
from arc_efe.data.sources import load_tasks


@pytest.fixture
def script(load_bench):
    return load_bench("rule_instances")


def test_rendered_tasks_follow_the_fixed_instance_and_are_seeded(script):
    tasks = script.render("d8_transform", "k", 7, 5, seed=3, difficulty=(0.0, 0.6))
    family = FAMILIES["d8_transform"]
    assert len(tasks) == 5 and all(t.meta["params"] == {"k": 7} for t in tasks)
    assert all(family.fits({"k": 7}, t.train + t.test) and not family.fits({"k": 5}, t.train) for t in tasks)
    again = script.render("d8_transform", "k", 7, 5, seed=3, difficulty=(0.0, 0.6))
    assert [t.train[0].input.tolist() for t in again] == [t.train[0].input.tolist() for t in tasks]
    other = script.render("d8_transform", "k", 5, 5, seed=3, difficulty=(0.0, 0.6))
    assert other[0].train[0].input.tolist() != tasks[0].train[0].input.tolist()


def test_written_tasks_are_a_training_source(script, tmp_path, capsys):
    assert script.main(["--values", "5,7", "--count", "3", "--write", str(tmp_path)]) == 0
    loaded = load_tasks(str(tmp_path))
    assert loaded.problems == []
    tasks = loaded.tasks
    assert sorted(t.id for t in tasks) == sorted(f"d8_transform-k{v}-{i}" for v in (5, 7) for i in range(3))


def test_a_run_reports_each_value_on_the_shipped_model(script, capsys):
    assert script.main(["--family", "gravity_cells", "--param", "dir", "--values", "up,left", "--count", "2"]) == 0
    s = sys.modules["common"].parse_summary(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"own_up", "drop_up", "own_left", "drop_left", "own", "drop"} <= set(s)
    assert all(0.0 <= float(s[f"own_{v}"]) <= 1.0 for v in ("up", "left"))


def test_an_unknown_family_is_refused(script):
    with pytest.raises(SystemExit):
        script.parse_args(["--family", "no_such_family"])
