"""bench/ttt_speed.py --quick runs fit_task's real update on a tiny agent and prints its summary line."""

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_ttt_speed_quick(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_ttt_speed", BENCH / "ttt_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--quick", "--profile-rows", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("machine: cores=")
    assert any("ttt_update" in line for line in lines)  # the profiler table covers the update stage
    summary = sys.modules["common"].parse_summary(lines[-1])
    assert set(summary) == {"ms_7x7", "cpu_ms_7x7"} and all(float(v) > 0 for v in summary.values())


def test_ttt_speed_flops_counts_one_update_in_proportion_to_its_rows(monkeypatch, capsys):
    """--flops adds GFLOP per update, achieved and peak GFLOP/s; one update's count (checks excluded) doubles
    with twice the rows, so it counts the update, not the fixed checks around it."""
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_ttt_speed", BENCH / "ttt_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
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
