"""The models shipped inside the package (`arc_efe/models/NAME/`, see MODEL_CARD.md) and their
`model_info.json`. `evaluate` and `solve` use `default` when no checkpoint is given, another by `--model NAME`.
Checkpoints load through `ArcSystem.load` (the folder format is `arc_efe.checkpoint_files`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from arc_efe.checkpoint_files import WEIGHTS_FILE, CheckpointError

MODEL_INFO_FILE = "model_info.json"
MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
DEFAULT_MODEL = "default"
DEFAULT_MODEL_DIR = MODELS_DIR / DEFAULT_MODEL


def bundled_names() -> list[str]:
    """The names of the shipped models (their folders under `arc_efe/models/`)."""
    return sorted(p.name for p in MODELS_DIR.iterdir() if (p / MODEL_INFO_FILE).is_file()) \
        if MODELS_DIR.is_dir() else []


def bundled_model(name: str = DEFAULT_MODEL) -> tuple[Path, dict[str, Any]]:
    """A shipped checkpoint folder and its model_info.json (name, training data, date, command)."""
    folder = MODELS_DIR / name
    if name != DEFAULT_MODEL and name not in bundled_names():
        raise CheckpointError(f"no model named {name!r} ships with arc-efe; shipped: {', '.join(bundled_names())}")
    info_path = folder / MODEL_INFO_FILE
    if not info_path.is_file() or not (folder / WEIGHTS_FILE).is_file():
        raise CheckpointError(f"the shipped model {name!r} is missing from {folder} (a broken install?); "
                              "pass --checkpoint")
    return folder, json.loads(info_path.read_text())


def default_model() -> tuple[Path, dict[str, Any]]:
    """The shipped default checkpoint folder and its model_info.json."""
    return bundled_model(DEFAULT_MODEL)


def describe_model(info: dict[str, Any], name: str = DEFAULT_MODEL) -> str:
    """One line naming a shipped model: name, training data, date, how it was trained."""
    role = "shipped default" if name == DEFAULT_MODEL else f"shipped, --model {name}"
    return f"model: {info['name']} ({role}) | trained on {info['trained_on']} | {info['date']} | {info['how']}"
