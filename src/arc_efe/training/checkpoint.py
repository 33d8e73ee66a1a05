"""Checkpoints: atomic accelerate `save_state` folders, a `latest` pointer, keep-last-K and `best/`.

Layout of a run folder:
    RUN_DIR/checkpoints/step-00000200/   accelerate state (model.safetensors, optimizer.bin, scheduler.bin,
                                          random_states_*.pkl, custom_checkpoint_*.pkl) + config.json, the
                                          caller's extra JSON files, and checksums.json (written last)
    RUN_DIR/latest                       name of the newest complete checkpoint
    RUN_DIR/best/                        copy of the checkpoint with the best held-out solve rate
A checkpoint is written to a hidden temp folder and renamed, so a crash never leaves a broken `latest`;
a failed write (a full disk) removes its temp folder and leaves the previous checkpoint and `latest` as
they were. Temp folders of a killed save are removed by the next save.
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
from arc_efe.checkpoint_files import (CHECKPOINTS_DIR, CHECKSUMS_FILE, CONFIG_FILE, LATEST_FILE,  # noqa: F401
                                      CheckpointError, checksums, read_config, resolve_checkpoint,
                                      verify_checkpoint)

log = logging.getLogger(__name__)


class CheckpointWriteError(RuntimeError):
    """A checkpoint could not be written (e.g. the disk is full); the previous one is intact."""


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
    """Replace `path` whole or not at all (a failed write removes its temp file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_checkpoint(accelerator, run_dir: Path, step: int, config: dict, keep_last: int,
                    extra_json: dict[str, object] | None = None) -> Path:
    """Save the full training state for `step`, with `extra_json` {file name: value} beside it; every
    process must call this. Raises CheckpointWriteError when writing fails (the previous checkpoint and
    `latest` are untouched)."""
    root = run_dir / CHECKPOINTS_DIR
    final = root / f"step-{step:08d}"
    tmp = root / f".tmp-step-{step:08d}"
    if accelerator.is_main_process:
        for stale in root.glob(".tmp-step-*"):  # left by a save that was killed
            shutil.rmtree(stale, ignore_errors=True)
    accelerator.wait_for_everyone()
    try:
        accelerator.save_state(str(tmp))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            _complete(tmp, config, extra_json or {})
            _publish(tmp, final, run_dir)
    except OSError as err:
        if accelerator.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
        previous = (run_dir / LATEST_FILE).read_text().strip() if (run_dir / LATEST_FILE).is_file() else None
        kept = f"the previous checkpoint {previous} and '{LATEST_FILE}' are intact" if previous else "no checkpoint yet"
        raise CheckpointWriteError(
            f"could not write checkpoint {final} ({err.strerror or err}); {kept}. Free space and continue "
            f"with --resume {run_dir}"
        ) from err
    if accelerator.is_main_process:
        prune(root, keep_last, protect=final.name)
    accelerator.wait_for_everyone()
    return final


def _complete(tmp: Path, config: dict, extra_json: dict[str, object]) -> None:
    """Add the config, the extra files and, last, the checksums of everything to the temp folder."""
    (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    for name, value in extra_json.items():
        (tmp / name).write_text(json.dumps(value, indent=2))
    (tmp / CHECKSUMS_FILE).write_text(json.dumps(checksums(tmp), indent=2))


def _publish(tmp: Path, final: Path, run_dir: Path) -> None:
    """Rename the complete temp folder to `final` and point `latest` at it. A folder already at `final`
    (the same step saved again) is moved aside first, so `latest` never names a half-deleted folder."""
    old = final.with_name(f".old-{final.name}")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    write_text_atomic(run_dir / LATEST_FILE, final.name)
    shutil.rmtree(old, ignore_errors=True)


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
