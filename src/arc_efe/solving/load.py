"""Load a trained ArcSystem from a run folder, its `best/`, or one checkpoint folder.

The solver reads the checkpoint format itself (it may not import the training loop):
    CHECKPOINT/config.json        the full TrainConfig as a dict; its "model" entry builds the system
    CHECKPOINT/model.safetensors  the ArcSystem state dict
    RUN_DIR/latest                the name of the newest folder under RUN_DIR/checkpoints/

The package ships one trained checkpoint (`arc_efe/models/default/`, see MODEL_CARD.md) with a
`model_info.json` saying what it is; `evaluate` and `solve` use it when no checkpoint is given.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from arc_efe.config import from_dict
from arc_efe.model import ArcSystem, ModelConfig, build_system

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
LATEST_FILE = "latest"
CHECKPOINTS_DIR = "checkpoints"
MODEL_INFO_FILE = "model_info.json"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "default"


class CheckpointError(ValueError):
    """A checkpoint cannot be used; the message names the path and what is wrong."""


def resolve_checkpoint(path: str | Path) -> Path:
    """The checkpoint folder meant by `path`: itself if it holds config + weights, else the folder its
    `latest` file names. Raises FileNotFoundError naming the path and what was looked for."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path}: no such file or folder")
    if (path / CONFIG_FILE).is_file() and (path / WEIGHTS_FILE).is_file():
        return path
    pointer = path / LATEST_FILE
    if pointer.is_file():
        target = path / CHECKPOINTS_DIR / pointer.read_text().strip()
        if not (target / WEIGHTS_FILE).is_file() or not (target / CONFIG_FILE).is_file():
            raise FileNotFoundError(f"checkpoint {path}: {LATEST_FILE} names {target}, which lacks "
                                    f"{CONFIG_FILE} or {WEIGHTS_FILE}")
        return target
    raise FileNotFoundError(
        f"checkpoint {path}: not a checkpoint folder ({CONFIG_FILE} + {WEIGHTS_FILE}) and not a run folder "
        f"(no '{LATEST_FILE}' file); pass RUN_DIR, RUN_DIR/best or RUN_DIR/checkpoints/step-N"
    )


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


def _describe(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return f"{len(keys)} ({shown}{', ...' if len(keys) > limit else ''})"


def load_system(path: str | Path, device: str | torch.device = "cpu") -> tuple[ArcSystem, dict[str, Any]]:
    """(system in eval mode on `device`, the checkpoint's config dict). Weights load strictly: a missing
    or unexpected key, or a shape mismatch, raises CheckpointError naming the keys and the path."""
    folder = resolve_checkpoint(path)
    try:
        config = json.loads((folder / CONFIG_FILE).read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"checkpoint {folder}: {CONFIG_FILE} is not valid JSON ({err})") from err
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        raise CheckpointError(f"checkpoint {folder}: {CONFIG_FILE} has no 'model' section")
    system = build_system(from_dict(ModelConfig, config["model"], "model"))
    state = load_file(str(folder / WEIGHTS_FILE))
    expected = system.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint {folder / WEIGHTS_FILE} does not match the model its {CONFIG_FILE} describes: "
            f"missing keys {_describe(missing)}; unexpected keys {_describe(unexpected)}"
        )
    wrong = [f"{k}: {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
             if tuple(state[k].shape) != tuple(v.shape)]
    if wrong:
        raise CheckpointError(f"checkpoint {folder / WEIGHTS_FILE}: shape mismatch (saved vs model) for "
                              f"{_describe(wrong)}")
    system.load_state_dict(state, strict=True)
    system.to(device).eval()
    logger.info("loaded %s (%d tensors) on %s", folder, len(state), device)
    return system, config
