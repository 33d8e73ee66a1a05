"""bench/search_rate.py --quick runs end to end: machine line first, summary line last."""

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_search_rate_quick(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(BENCH))  # the script imports `common` from its own folder
    spec = importlib.util.spec_from_file_location("bench_search_rate", BENCH / "search_rate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--quick"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("machine: cores=")
    summary = sys.modules["common"].parse_summary(lines[-1])
    assert summary["tasks"] == "3" and 0 <= float(summary["task_score"]) <= 1
    assert float(summary["max_s"]) < 0.5 + 0.25  # the 0.5 s budget: the search stops at its deadline
