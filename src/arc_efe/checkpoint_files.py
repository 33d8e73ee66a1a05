"""The checkpoint folder format, read by the solver and written by the trainer (one definition for both).

    CHECKPOINT/config.json        the full TrainConfig as a dict; its "model" entry builds the system
    CHECKPOINT/model.safetensors  the ArcSystem state dict
    CHECKPOINT/checksums.json     size and sha256 of every other file, written last (absent in the shipped
                                  model and older checkpoints); a truncated or altered file is named, not used
    CHECKPOINT/trained_on.json    what the run trained on (training.provenance)
    RUN_DIR/latest                the name of the newest folder under RUN_DIR/checkpoints/
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from arc_efe.config import ConfigError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CHECKSUMS_FILE = "checksums.json"
LATEST_FILE = "latest"
CHECKPOINTS_DIR = "checkpoints"


class CheckpointError(ConfigError):
    """A checkpoint cannot be used; the message names the file and what is wrong, in one line.

    A ConfigError because the checkpoint is an input the user named (--checkpoint, --resume): every
    command reports it as one line, not a traceback."""


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksums(folder: Path) -> dict[str, dict[str, Any]]:
    """{relative path: {"bytes", "sha256"}} of every file in `folder` but the checksums file itself."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != CHECKSUMS_FILE)
    return {str(p.relative_to(folder)): {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in files}


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"


def read_config(folder: Path) -> dict[str, Any]:
    """The checkpoint's config dict; CheckpointError naming the file when it is unreadable or not a config."""
    path = folder / CONFIG_FILE
    try:
        config = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"checkpoint {path}: not a readable JSON config ({_one_line(err)})") from err
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        raise CheckpointError(f"checkpoint {path}: has no 'model' section")
    return config


def verify_checkpoint(folder: Path, only: Collection[str] | None = None) -> None:
    """Raise CheckpointError naming the first file of `folder` that is unreadable, truncated or altered since
    it was saved: the config and the weights' header always, and against checksums.json (if present) every
    file, or the files named in `only` (solving reads the weights, not the optimiser state)."""
    read_config(folder)
    weights = folder / WEIGHTS_FILE
    try:
        with safe_open(str(weights), framework="pt"):
            pass  # opening parses the header and checks that it covers the file; no tensor is read
    except (OSError, SafetensorError) as err:
        raise CheckpointError(f"checkpoint {weights}: not a readable safetensors file ({_one_line(err)})") from err
    manifest = folder / CHECKSUMS_FILE
    if not manifest.is_file():
        return  # the shipped model and checkpoints from before checksums were written
    try:
        listed = json.loads(manifest.read_bytes())
        saved = {name: (int(entry["bytes"]), str(entry["sha256"])) for name, entry in listed.items()}
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint {manifest}: not a readable checksums file ({_one_line(err)})") from err
    for name, (size, digest) in saved.items():
        if only is not None and name not in only:
            continue
        path = folder / name
        if not path.is_file():
            raise CheckpointError(f"checkpoint {path}: missing (listed in {CHECKSUMS_FILE})")
        actual = path.stat().st_size
        if actual != size:
            raise CheckpointError(f"checkpoint {path}: truncated or overwritten ({actual} bytes, {size} when saved)")
        if _sha256(path) != digest:
            raise CheckpointError(f"checkpoint {path}: corrupted (its sha256 differs from the one saved in "
                                  f"{CHECKSUMS_FILE})")


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The state dict saved in `folder` (verified first: the config, the header, and checksums if any)."""
    verify_checkpoint(folder, only=(CONFIG_FILE, WEIGHTS_FILE))
    return load_file(str(folder / WEIGHTS_FILE))


def write_weights(folder: Path, state: dict[str, torch.Tensor], config: dict[str, Any]) -> None:
    """A solver-readable checkpoint: `config` and the state dict (contiguous CPU copies) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(folder / WEIGHTS_FILE))


def _describe(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return f"{len(keys)} ({shown}{', ...' if len(keys) > limit else ''})"


def shape_mismatches(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> list[str]:
    """"name: saved shape vs model shape" for every name in both whose shapes differ."""
    return [f"{k}: {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
            if k in state and tuple(state[k].shape) != tuple(v.shape)]


def check_state(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], path: Path) -> None:
    """CheckpointError naming the keys when `state` (read from `path`) does not fit the model's `expected`."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"checkpoint {path} does not match the model its {CONFIG_FILE} describes: "
                              f"missing keys {_describe(missing)}; unexpected keys {_describe(unexpected)}")
    wrong = shape_mismatches(state, expected)
    if wrong:
        raise CheckpointError(f"checkpoint {path}: shape mismatch (saved vs model) for {_describe(wrong)}")
