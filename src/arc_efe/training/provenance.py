"""What a training run trained on, by content, and which public evaluation sets that overlaps.

`training_provenance` is written into every checkpoint as `trained_on.json`; `arc-efe evaluate` reads it
back to refuse scoring tasks the checkpoint has seen. Held-out (`--val`) tasks count as training data: they
choose the best checkpoint, so a score on them is not a clean test either. Overlap is by content
fingerprint (`arc_efe.data.fingerprint`), so a renamed file or a Kaggle file with other ids still counts.
Training on an overlapping set is allowed (arc2/training holds most of ARC-AGI-1 evaluation and is the
natural training set for ARC-AGI-2 work); it is warned about loudly and recorded, never hidden.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from arc_efe.data.bundled import BUNDLED_SETS
from arc_efe.data.fingerprint import FINGERPRINT_SCHEME, bundled_fingerprints, fingerprint_index, task_fingerprint
from arc_efe.data.sources import load_tasks
from arc_efe.data.task import Task

log = logging.getLogger(__name__)

TRAINED_ON_FILE = "trained_on.json"
PUBLIC_EVAL_SETS = ("arc1/evaluation", "arc2/evaluation")
PROVENANCE_FORMAT = 1
_SHOWN_IDS = 5


def training_provenance(train_tasks: list[Task], val_tasks: list[Task],
                        check_sets: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON-serialisable `trained_on.json` of a run: fingerprints of its training and held-out tasks and
    their overlap with the public evaluation sets and with each source in `check_sets` (any source
    `load_tasks` reads). Logs a warning for every non-empty overlap."""
    train, val = fingerprint_index(train_tasks), fingerprint_index(val_tasks)
    seen = _merge(train, val)
    overlaps = {}
    for name in dict.fromkeys([*PUBLIC_EVAL_SETS, *check_sets]):
        overlap = _overlap(seen, _set_index(name))
        overlaps[name] = overlap
        if overlap["count"]:
            _warn(name, overlap)
    return {"format": PROVENANCE_FORMAT, "scheme": FINGERPRINT_SCHEME, "train": train, "val": val,
            "overlaps": overlaps}


def load_provenance(checkpoint: str | Path) -> dict[str, Any] | None:
    """The checkpoint's `trained_on.json`, or None when it has none (an older checkpoint: provenance
    unknown). Raises ValueError naming the file when it is unreadable."""
    path = Path(checkpoint) / TRAINED_ON_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict) or data.get("format") != PROVENANCE_FORMAT:
        raise ValueError(f"{path}: not a format-{PROVENANCE_FORMAT} trained_on.json")
    return data


def contaminated_ids(provenance: dict[str, Any], tasks: Iterable[Task]) -> list[str]:
    """Ids of `tasks` whose content the run trained on (training or held-out tasks)."""
    seen = set(provenance.get("train", {})) | set(provenance.get("val", {}))
    return [t.id for t in tasks if task_fingerprint(t) in seen]


def _set_index(name: str) -> dict[str, list[str]]:
    if name in BUNDLED_SETS:
        return bundled_fingerprints(name)
    result = load_tasks(name)
    for problem in result.problems:
        log.warning("contamination check %s: skipped %s", name, problem)
    return fingerprint_index(result.tasks)


def _merge(*indexes: dict[str, list[str]]) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for index in indexes:
        for fp, ids in index.items():
            merged.setdefault(fp, []).extend(ids)
    return merged


def _overlap(seen: dict[str, list[str]], index: dict[str, list[str]]) -> dict[str, Any]:
    common = set(seen) & set(index)
    ids = sorted(i for fp in common for i in index[fp])
    trained = sorted(i for fp in common for i in seen[fp])
    return {"count": len(ids), "ids": ids, "trained_ids": trained}


def _warn(name: str, overlap: dict[str, Any]) -> None:
    shown = ", ".join(overlap["ids"][:_SHOWN_IDS]) + (", ..." if overlap["count"] > _SHOWN_IDS else "")
    log.warning(
        "CONTAMINATION: %d task(s) of %s are in this run's training or held-out data by content (e.g. %s). "
        "Scores of this model on them are not a clean test; `arc-efe evaluate` will refuse to score them "
        "unless --allow-contaminated. Recorded in %s.", overlap["count"], name, shown, TRAINED_ON_FILE)
