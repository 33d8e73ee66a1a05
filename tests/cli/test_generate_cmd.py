"""`arc-efe generate` writes loadable, seeded tasks; `arc-efe show gen:NAME` draws one."""

import json

from arc_efe.cli.main import main
from arc_efe.data.generators import FAMILIES, generate_task
from arc_efe.data.sources import load_tasks


def test_generate_writes_tasks_that_load_and_match_the_stream(tmp_path, capsys):
    first, second = sorted(FAMILIES)[:2]
    assert main(["generate", f"{first},{second}", "--count", "3", "--seed", "5", "--out", str(tmp_path)]) == 0
    assert "wrote 6 tasks" in capsys.readouterr().out
    loaded = load_tasks(str(tmp_path), strict=True).tasks
    assert sorted(t.id for t in loaded) == sorted(f"gen-{f}-{s}" for f in (first, second) for s in (5, 6, 7))
    again = generate_task(first, 6, 0.5)
    saved = json.loads((tmp_path / f"{again.id}.json").read_text())
    assert saved["train"][0]["input"] == again.train[0].input.tolist()


def test_generate_rejects_unknown_families_and_lists_known_ones(tmp_path, capsys):
    assert main(["generate", "no_such_family", "--out", str(tmp_path)]) == 2
    assert "unknown generator families" in capsys.readouterr().err
    assert main(["generate", "--list"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(FAMILIES)


def test_show_draws_a_generated_task(tmp_path, capsys):
    family = sorted(FAMILIES)[0]
    png = tmp_path / "g.png"
    assert main(["show", f"gen:{family}", "--seed", "2", "-o", str(png)]) == 0
    assert png.stat().st_size > 1000
    assert main(["show", "gen:all"]) == 1
