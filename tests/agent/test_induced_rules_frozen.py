"""What each set of induced-rule flags writes and decides is frozen: a checkpoint trained with
`model.agent.rule_table_induced` (and `_views`, `_canvas`, `_blind`) reads its rules through this code, so a new
kind or a changed key under flags a saved model already has would change that model's predictions unseen
(session 26 grew the kinds under unchanged flags; BENCHMARKS.md). New kinds go behind a new flag. A tripwire, not a
proof: a kind added, dropped or moved trips the kinds digest, but a key changed only on tasks outside the sample
does not.

The digests (`data/induced_rules_frozen.json`) were written by commit 3babd26's code. Regenerate them only for a
change meant to alter every such model, and say so in its commit:
`ARC_EFE_REGOLD=1 python -m pytest tests/agent/test_induced_rules_frozen.py`.
"""

import hashlib
import itertools
import json
import os
from pathlib import Path

import numpy as np
import pytest

from arc_efe.agent import canvas_rules, induced_rules
from arc_efe.agent.canvas_rules import SOURCES
from arc_efe.agent.rule_table import INDUCED_RULES
from arc_efe.data.sources import load_tasks

GOLDEN = Path(__file__).parent / "data" / "induced_rules_frozen.json"
BUCKETS = 1024  # the trained models' `rule_table_induced`
FIRST = 16  # the first arc1/training tasks by id: same-size edits, crops, scalings, tilings among them, and two
VIEWED = ("25ff71a9", "3618c87e")  # whose rules with `views` differ (moved a row down, by D8 images)
FLAGS = list(itertools.product([False, True], repeat=3))  # views, canvas, blind


def digest(views: bool, canvas: bool, blind: bool) -> str:
    """A digest of every encoded rule set (rounded, so a last-bit difference of a log does not count) and every
    decision on the demo and test inputs, over the FIRST tasks and VIEWED."""
    h = hashlib.sha256()
    tasks = sorted(load_tasks("arc1/training").tasks, key=lambda t: t.id)
    for task in tasks[:FIRST] + [t for t in tasks if t.id in VIEWED]:
        pairs = [(p.input, p.output) for p in task.train]
        encoded = induced_rules.write(pairs, INDUCED_RULES, BUCKETS, views, canvas, blind)
        h.update(np.round(encoded.astype(np.float64), 4).tobytes())
        for grid in [p.input for p in task.train] + [p.input for p in task.test]:
            for part in induced_rules.decide(encoded, grid, INDUCED_RULES, BUCKETS):
                h.update(part.astype(np.int64).tobytes())
    return h.hexdigest()


def kinds() -> str:
    """A digest of the kind tables and numbering: a kind added, dropped or moved changes every later kind's id."""
    names = (induced_rules.KIND_NAMES, induced_rules.VIEW_KIND_NAMES, canvas_rules.CANVAS_KIND_NAMES,
             induced_rules.PAIR_KIND_NAMES, induced_rules.BLIND_KIND_NAMES, induced_rules.BLIND_COPY_NAMES,
             (induced_rules.BORDER_CAP, induced_rules.MAX_SIDE, induced_rules.FINGERPRINT_BITS, SOURCES,
              canvas_rules.SIZE_NUMBERS))
    return hashlib.sha256(json.dumps(names).encode()).hexdigest()


@pytest.fixture(scope="module")
def digests():
    return {"kinds": kinds(), **{f"views={v} canvas={c} blind={b}": digest(v, c, b) for v, c, b in FLAGS}}


def test_each_flag_sets_rules_are_as_recorded(digests):
    if os.environ.get("ARC_EFE_REGOLD") == "1":
        GOLDEN.write_text(json.dumps(digests, indent=1) + "\n")
    expected = json.loads(GOLDEN.read_text())
    assert sorted(digests) == sorted(expected)
    changed = [flags for flags in expected if digests[flags] != expected[flags]]
    assert not changed, f"induced rules changed under flags a trained model may have: {changed}"
    assert len(set(digests.values())) == len(digests)  # every flag really changes what is written
