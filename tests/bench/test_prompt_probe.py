"""bench/prompt_probe.py: the probe finds a parameter that is in the features and not one that is absent, labels
are the families' hidden instances, and a quick run on the shipped model prints every summary key."""

import sys

import numpy as np
import pytest
import torch


@pytest.fixture
def probe(load_bench):
    """bench/prompt_probe.py as a module."""
    return load_bench("prompt_probe")


def test_probe_reads_a_parameter_present_in_the_features_and_not_an_absent_one(probe):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=200)
    noise = torch.from_numpy(rng.normal(size=(200, 16))).float()
    carried = noise.clone()
    carried[:, :4] += 5.0 * torch.nn.functional.one_hot(torch.from_numpy(labels), 4).float()
    present, majority = probe.probe_accuracy(carried, labels, 4)
    absent, _ = probe.probe_accuracy(noise, labels, 4)
    assert present > 0.9
    assert absent < majority + 0.2
    assert 0.25 <= majority < 0.5


def test_labels_are_the_hidden_instances(probe):
    tasks = probe.render("gravity_cells", 30, 3)
    labels, classes = probe.instance_labels(tasks)
    assert classes == len({t.meta["params"]["dir"] for t in tasks}) and 2 <= classes <= 4
    same = [i for i in range(30) if tasks[i].meta["params"] == tasks[0].meta["params"]]
    assert set(np.flatnonzero(labels == labels[0])) == set(same)
    assert [t.meta for t in probe.render("gravity_cells", 30, 3)] == [t.meta for t in tasks]  # seeded


def test_quick_run_on_the_shipped_model(probe, capsys):
    assert probe.main(["--families", "gravity_cells,colour_map", "--tasks", "40"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    s = sys.modules["common"].parse_summary(lines[-1])
    assert 0.0 <= float(s["probe_gravity_cells"]) <= 1.0
    assert 0.0 < float(s["majority_gravity_cells"]) <= 1.0
    assert s["probe_colour_map"] == "n/a"  # a colour map per task: too many instances to probe
    assert int(s["classes_colour_map"]) > 4


def test_unknown_family_is_refused(probe):
    with pytest.raises(SystemExit):
        probe.parse_args(["--families", "no_such_family"])
