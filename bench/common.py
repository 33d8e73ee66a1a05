"""Helpers shared by the benchmark scripts: the machine line, timing, the summary line, bench configs.

Every script prints `machine_line()` first and `summary_line(...)` last, so a result can be pasted into
BENCHMARKS.md with the machine it was measured on, and a test can parse the last line.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from arc_efe.checkpoint_files import resolve_checkpoint
from arc_efe.config import from_dict, merge, to_dict
from arc_efe.solving.load import default_model
from arc_efe.training.config import PRESETS, TrainConfig


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (platform's guess where that file does not exist)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine_line() -> str:
    """One line naming what the numbers were measured on."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (f"machine: cores={os.cpu_count()} torch_threads={torch.get_num_threads()} cpu='{cpu_model()}' "
            f"gpu='{gpu}' torch={torch.__version__} python={platform.python_version()} date={now}")


def sync(device: torch.device | str) -> None:
    """Wait for queued GPU work so that a wall-clock time covers it (no-op on CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def timed(fn: Callable[[], object], device: torch.device | str = "cpu") -> float:
    """Seconds `fn()` takes, GPU work included."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def median(values: list[float]) -> float:
    return statistics.median(values)


def _format(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ",".join(_format(v) for v in value)
    return str(value).replace(" ", "_")


def summary_line(values: dict[str, object]) -> str:
    """`key=value key=value ...`: floats to 4 significant digits, lists comma-joined, no spaces in values."""
    return " ".join(f"{key}={_format(value)}" for key, value in values.items())


def parse_summary(line: str) -> dict[str, str]:
    """The inverse of `summary_line` (values stay strings)."""
    return dict(item.split("=", 1) for item in line.split())


def bench_config(out: str | Path, quick: bool, preset: str = "cpu", **overrides: object) -> TrainConfig:
    """A TrainConfig for timing: the preset's sizes (`quick`: the tiny preset), no TensorBoard, no progress
    bar, no periodic checkpoints; `overrides` is a nested dict merged last."""
    data = merge(to_dict(TrainConfig()), PRESETS["tiny" if quick else preset]())
    data = merge(data, {"out": str(out), "tensorboard": False, "progress": False, "save_every": 0})
    data = merge(data, dict(overrides))
    return from_dict(TrainConfig, data)


def set_threads(threads: int | None) -> None:
    """Pin torch's intra-op threads when asked (results name the count in the machine line)."""
    if threads:
        torch.set_num_threads(threads)


def checkpoint_folder(flag: str | None) -> Path:
    """The checkpoint folder a `--checkpoint` flag names (a run folder, its best/ or a checkpoint), or the
    shipped model's when it names none."""
    return resolve_checkpoint(flag).resolve() if flag else default_model()[0]
