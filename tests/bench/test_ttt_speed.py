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
