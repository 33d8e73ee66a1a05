"""The model shipped inside the package (`arc_efe/models/default/`, see MODEL_CARD.md) and its
`model_info.json`; `evaluate` and `solve` use it when no checkpoint is given. Checkpoints load through
`ArcSystem.load` (the folder format is `arc_efe.checkpoint_files`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from arc_efe.checkpoint_files import WEIGHTS_FILE, CheckpointError

MODEL_INFO_FILE = "model_info.json"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "default"


def default_model() -> tuple[Path, dict[str, Any]]:
    """The shipped checkpoint folder and its model_info.json (name, training data, date, command)."""
    info_path = DEFAULT_MODEL_DIR / MODEL_INFO_FILE
    if not info_path.is_file() or not (DEFAULT_MODEL_DIR / WEIGHTS_FILE).is_file():
        raise CheckpointError(f"the shipped default model is missing from {DEFAULT_MODEL_DIR} (a broken install?); "
                              "pass --checkpoint")
    return DEFAULT_MODEL_DIR, json.loads(info_path.read_text())


def describe_model(info: dict[str, Any]) -> str:
    """One line naming a shipped model: name, training data, date, how it was trained."""
    return (f"model: {info['name']} (shipped default) | trained on {info['trained_on']} | {info['date']} | "
            f"{info['how']}")
