"""bench/ttt_speed.py --quick runs fit_task's real update on a tiny agent and prints its summary line."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _module(monkeypatch):
    """bench/ttt_speed.py as a module, with bench/ on the path for its `common` import."""
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_ttt_speed", BENCH / "ttt_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ttt_speed_quick(monkeypatch, capsys):
    module = _module(monkeypatch)
    assert module.main(["--quick", "--profile-rows", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("machine: cores=")
    assert any("ttt_update" in line for line in lines)  # the profiler table covers the update stage
    summary = sys.modules["common"].parse_summary(lines[-1])
    assert set(summary) == {"ms_7x7", "cpu_ms_7x7"} and all(float(v) > 0 for v in summary.values())


def test_ttt_speed_flops_counts_one_update_in_proportion_to_its_rows(monkeypatch, capsys):
    """--flops adds GFLOP per update, achieved and peak GFLOP/s; one update's count (checks excluded) doubles
    with twice the rows, so it counts the update, not the fixed checks around it."""
    module = _module(monkeypatch)
    assert module.main(["--quick", "--flops", "--profile-rows", "0"]) == 0
    summary = sys.modules["common"].parse_summary(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"gflop_7x7", "gflops_7x7", "peak_gflops"} <= set(summary)
    assert float(summary["gflop_7x7"]) > 0 and float(summary["peak_gflops"]) > 0
    ratio = float(summary["gflops_7x7"]) * float(summary["ms_7x7"]) / 1000 / float(summary["gflop_7x7"])
    assert abs(ratio - 1) < 1e-3
    system = module.load_system(module.argparse.Namespace(quick=True, checkpoint=None, device="cpu"))
    task = module.synthetic_task(7, seed=7)
    eight, sixteen = (module.update_gflop(system, task, module.TTTConfig(rows_per_step=r), "cpu") for r in (8, 16))
    assert 1.8 < sixteen / eight < 2.2


def test_set_times_the_changed_architecture_untrained(monkeypatch):
    """--set model.agent.KEY=VALUE builds the checkpoint's config with that key changed and fresh weights: the
    variant has the new shape (fewer block weights) and none of the checkpoint's trained values."""
    module = _module(monkeypatch)
    args = module.argparse.Namespace(quick=False, checkpoint=None, device="cpu", overrides=[])
    shipped = module.load_system(args)
    args.overrides = ["model.agent.blocks_per_step=1"]
    variant = module.load_system(args)
    assert sum(p.numel() for p in variant.agent.parameters()) < sum(p.numel() for p in shipped.agent.parameters())
    name, weight = next((n, p) for n, p in shipped.named_parameters() if n.startswith("encoder") and p.dim() == 2)
    assert not module.torch.equal(dict(variant.named_parameters())[name], weight)  # fresh, not loaded
    assert not any(p.requires_grad for p in variant.parameters())  # frozen as the solver freezes it
    args.overrides = ["solve.ttt.max_steps=3"]
    with pytest.raises(SystemExit, match="only model"):
        module.load_system(args)
    args.overrides = ["model.agent.nope=1"]
    with pytest.raises(SystemExit, match="nope"):
        module.load_system(args)
