"""Which torch device a run uses: one rule for training and solving."""

from __future__ import annotations

import torch

from arc_efe.config import ConfigError


def resolve_device(name: str) -> torch.device:
    """`auto`: CUDA when torch sees it, else CPU; `cuda` without a CUDA device is a ConfigError."""
    if name not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"device must be auto, cpu or cuda, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but torch sees no CUDA device (use --device cpu or auto)")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
