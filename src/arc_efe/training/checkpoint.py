"""Checkpoints: atomic accelerate `save_state` folders, a `latest` pointer, keep-last-K and `best/`.

Layout of a run folder:
    RUN_DIR/checkpoints/step-00000200/   accelerate state (model.safetensors, optimizer.bin, scheduler.bin,
                                          random_states_*.pkl, custom_checkpoint_*.pkl) + config.json
    RUN_DIR/latest                       name of the newest complete checkpoint
    RUN_DIR/best/                        copy of the checkpoint with the best held-out solve rate
A checkpoint is written to a hidden temp folder and renamed, so a crash never leaves a broken `latest`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from arc_efe.config import ConfigError, diff
# The folder format is read by the solver too; one definition of it serves both sides.
from arc_efe.solving.load import CHECKPOINTS_DIR, CONFIG_FILE, LATEST_FILE, resolve_checkpoint  # noqa: F401

log = logging.getLogger(__name__)



@dataclass
class TrainState:
    """Counters and small state that make `--resume` continue exactly (registered with accelerate)."""

    step: int = 0
    window_start: int = 0  # step at which the current prompt-refresh window began
    sampler_at_window: dict = field(default_factory=dict)  # sampler state when the window was drawn
    cache: dict = field(default_factory=dict)  # PromptCache.state_dict()
    monitor: dict = field(default_factory=dict)  # Monitor.state_dict()
    last_eval_epoch: int = 0
    best_score: float = -1.0

    def state_dict(self) -> dict:
        return dict(self.__dict__)

    def load_state_dict(self, state: dict) -> None:
        self.__dict__.update(state)


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_checkpoint(accelerator, run_dir: Path, step: int, config: dict, keep_last: int) -> Path:
    """Save the full training state for `step`; every process must call this."""
    root = run_dir / CHECKPOINTS_DIR
    final = root / f"step-{step:08d}"
    tmp = root / f".tmp-step-{step:08d}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        write_text_atomic(run_dir / LATEST_FILE, final.name)
        prune(root, keep_last, protect=final.name)
    accelerator.wait_for_everyone()
    return final


def prune(root: Path, keep_last: int, protect: str) -> None:
    """Delete all but the newest `keep_last` step folders."""
    steps = sorted(p for p in root.glob("step-*") if p.is_dir())
    for old in steps[: max(0, len(steps) - keep_last)]:
        if old.name != protect:
            shutil.rmtree(old, ignore_errors=True)


def update_best(run_dir: Path, checkpoint: Path) -> None:
    """Copy `checkpoint` to RUN_DIR/best through a temp folder and a rename."""
    tmp = run_dir / ".best.tmp"
    old = run_dir / ".best.old"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(checkpoint, tmp)
    best = run_dir / "best"
    if best.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(best, old)
    os.replace(tmp, best)
    shutil.rmtree(old, ignore_errors=True)


def read_config(checkpoint: Path) -> dict:
    return json.loads((checkpoint / CONFIG_FILE).read_text())


def check_compatible(saved: dict, current: dict, checkpoint: Path) -> None:
    """The model must be built the same way; other differences (lr, steps) are allowed and logged."""
    model_diff = diff(saved.get("model", {}), current.get("model", {}), "model")
    if model_diff:
        raise ConfigError(
            f"checkpoint {checkpoint} was saved with a different model config; differing fields:\n  "
            + "\n  ".join(model_diff)
        )
    other = [line for line in diff(saved, current) if not line.startswith("model")]
    if other:
        log.info("resuming with changed settings:\n  %s", "\n  ".join(other))
