"""bench/prior.py: the quick run on the shipped model prints every summary key in range, and the sets it
measures are the ones the issue names (trained vs untrained families, the checkpoint's own held-out split)."""

import sys

import numpy as np
import pytest
import torch

from arc_efe.solving.load import default_model
from arc_efe.training.config import DataConfig
from arc_efe.training.provenance import load_provenance
from arc_efe.training.setup import split_tasks

SETS = ("generated", "untrained", "heldout", "eval")


@pytest.fixture
def prior(load_bench):
    """bench/prior.py as a module."""
    return load_bench("prior")


def test_prior_quick_summary(prior, capsys):
    assert prior.main(["--quick", "--solve-budget", "0"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("machine: cores=")
    s = sys.modules["common"].parse_summary(lines[-1])
    for name in SETS:
        assert int(s[f"tasks_{name}"]) == prior.QUICK_TASKS, name
        for key in ("plain_solve", "cell_acc", "swap_own", "swap_other"):
            assert 0.0 <= float(s[f"{key}_{name}"]) <= 1.0, f"{key}_{name}"
        drop = float(s[f"swap_own_{name}"]) - float(s[f"swap_other_{name}"])
        assert float(s[f"swap_drop_{name}"]) == pytest.approx(drop, abs=1e-3), name
    # The shipped model trained on 070dd51e's twin: (d) must leave it out.
    assert s["eval_contaminated"] == "1"
    assert s["solve_eval"] == "skipped"


def test_derangement_moves_every_task(prior):
    for n in (2, 3, 7, 40):
        other = prior.derangement(n, 0)
        assert sorted(other) == list(range(n))
        assert all(o != j for j, o in enumerate(other))


def test_generated_sets_split_trained_and_untrained_families(prior):
    data = DataConfig(train=["arc1/training", "gen:translate,scale_up,colour_map"], gen_weights={"colour_map": 0.0})
    a, b = prior.gen_sets(data, 6, None)
    assert a.families == ["translate", "scale_up"]  # weight 0: never drawn, so not trained
    assert "colour_map" in b.families and not {"translate", "scale_up"} & set(b.families)
    assert len(a.tasks) == len(b.tasks) == 6
    assert {t.id.split("-")[1] for t in a.tasks} <= {"translate", "scale_up"}
    a2, b2 = prior.gen_sets(DataConfig(train=["gen:all"]), 2, ["translate", "scale_up"])
    assert "translate" not in a2.families and b2.families == ["translate", "scale_up"]
    assert "excluded" in b2.note  # gen:all named them: the report must say the caller had to keep them out


def test_heldout_set_is_the_checkpoints_own_split(prior):
    """The fingerprint route (trained_on.json) and the config route (split_tasks) give the same 40 tasks."""
    folder = default_model()[0]
    by_content = prior.heldout_set(load_provenance(folder), DataConfig())
    assert len(by_content.tasks) == 40
    assert sorted(t.id for t in by_content.tasks) == sorted(t.id for t in split_tasks(DataConfig())[1])


def test_per_family_lines_cover_each_family_lowest_accuracy_first(prior):
    from arc_efe.system import ArcSystem
    system, _ = ArcSystem.load(default_model()[0], "cpu")
    a, _ = prior.gen_sets(DataConfig(train=["gen:translate,colour_map"]), 4, None)
    lines = prior.per_family(system, a, torch.device("cpu"))
    assert sorted(line.split()[1] for line in lines) == ["colour_map", "translate"]
    accs = [float(line.split("own=")[1].split()[0]) for line in lines]
    assert accs == sorted(accs) and all(0 <= x <= 1 for x in accs)
    counts = sum(int(line.split("tasks=")[1].split()[0]) for line in lines)
    assert counts == sum(len(t.train) >= 2 for t in a.tasks)
    # Each family's plain scores are over its own tasks: weighted by test inputs they give the set's.
    attempts = system.plain_attempts(a.tasks)
    tests = {name: sum(len(t.test) for t in a.tasks if prior.family_of(t) == name)
             for name in ("colour_map", "translate")}
    cells = {line.split()[1]: float(line.split("plain_cells=")[1].split()[0]) for line in lines}
    overall = prior.plain_scores(attempts, a.tasks)[1]
    assert sum(cells[n] * tests[n] for n in tests) / sum(tests.values()) == pytest.approx(overall, abs=2e-3)
    assert all(0 <= float(line.split("plain_solve=")[1].split()[0]) <= 1 for line in lines)
    # The copy floor: each test input given as its own answer, scored per test input like plain_cells.
    for line in lines:
        pairs = [p for t in a.tasks if prior.family_of(t) == line.split()[1] for p in t.test]
        want = np.mean([(p.input == p.output).mean() if p.input.shape == p.output.shape else 0.0 for p in pairs])
        assert float(line.split("copy_cells=")[1].split()[0]) == pytest.approx(want, abs=2e-3)


def test_a_baseline_is_measured_on_the_same_rows(prior, capsys):
    """The shipped model as its own baseline: every gap is exactly 0, and each per-family line carries one."""
    from arc_efe.system import ArcSystem
    checkpoint = str(default_model()[0])
    assert prior.main(["--quick", "--solve-budget", "0", "--baseline", checkpoint]) == 0
    s = sys.modules["common"].parse_summary(capsys.readouterr().out.strip().splitlines()[-1])
    for name in SETS:
        assert float(s[f"baseline_own_{name}"]) == pytest.approx(float(s[f"swap_own_{name}"]), abs=1e-6), name
        assert float(s[f"gap_{name}"]) == pytest.approx(0.0, abs=1e-6), name
    system, _ = ArcSystem.load(default_model()[0], "cpu")
    blind, _ = ArcSystem.load(default_model()[0], "cpu")
    blind.agent.reads_prompt = False  # a different baseline: the gap is own minus its accuracy, per family
    a, _ = prior.gen_sets(DataConfig(train=["gen:colour_map"]), 4, None)
    cpu = torch.device("cpu")
    [line] = prior.per_family(system, a, cpu, prior.swap_per_task(blind, a.tasks, cpu)[1])
    own, base, gap = (float(line.split(f"{k}=")[1].split()[0]) for k in ("own", "baseline", "gap"))
    assert gap == pytest.approx(own - base, abs=2e-3) and base != own


def test_sized_plain_attempts_take_the_demos_size_rule(prior):
    """A task whose demos follow a size rule gets that size for every attempt; one without keeps the model's
    own plain attempts (what `plain_solve` scores), so the two measures differ only in the size."""
    import numpy as np

    from arc_efe.data.sources import load_tasks
    from arc_efe.solving.size_rule import task_size_rule
    from arc_efe.system import ArcSystem

    system, _ = ArcSystem.load(default_model()[0], "cpu")
    by_id = {t.id: t for t in load_tasks("arc1/training").tasks}
    ruled, free = by_id["007bbfb7"], by_id["0b148d64"]  # 3h x 3w; crops of varying size (no rule)
    assert task_size_rule(ruled) is not None and task_size_rule(free) is None
    plain = system.plain_attempts([ruled, free])
    rules = prior.size_rules([ruled, free])
    assert list(rules) == [ruled.id]
    sized = prior.sized_plain_attempts(system, [ruled, free], plain, rules)
    assert [a.shape for a in sized[ruled.id][0]] == [ruled.test[0].output.shape] * 2 == [(9, 9)] * 2
    assert all(np.array_equal(x, y) for x, y in zip(sized[free.id][0], plain[free.id][0]))
