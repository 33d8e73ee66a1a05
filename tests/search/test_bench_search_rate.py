"""bench/search_rate.py --quick runs end to end: machine line first, summary line last."""

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))  # the script imports `common` from its own folder
    spec = importlib.util.spec_from_file_location("bench_search_rate", BENCH / "search_rate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_search_rate_quick(monkeypatch, capsys):
    module = load(monkeypatch)
    assert module.main(["--quick"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("machine: cores=")
    summary = sys.modules["common"].parse_summary(lines[-1])
    assert summary["tasks"] == "3" and 0 <= float(summary["task_score"]) <= 1
    assert float(summary["max_s"]) < 0.5 + 0.25  # the 0.5 s budget: the search stops at its deadline


def test_ids_as_a_list_longer_than_a_file_name(monkeypatch, tmp_path):
    """A comma list of 29 ids is longer than a file name may be: read as a list, not an error."""
    module = load(monkeypatch)
    ids = [f"{i:08x}" for i in range(29)]
    assert module.read_ids(",".join(ids)) == set(ids)
    listed = tmp_path / "ids.tsv"
    listed.write_text("task_id\tsolved\n# a comment\n0a1b2c3d\t1\n")
    assert module.read_ids(str(listed)) == {"0a1b2c3d"}
