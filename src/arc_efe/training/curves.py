"""Training curves: loss, EFE terms, Qwen_grad, mask ratio, reward, accuracies and held-out solve rate."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


PLOTTED_TERMS = ("risk", "ambiguity", "step", "consistency", "bidirectional", "anchor", "size", "prompt")


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_curves(run_dir: str | Path, output: str | Path | None = None) -> Path:
    """Write a 2x3 panel PNG of a run's metrics; returns its path."""
    run_dir = Path(run_dir)
    records = read_jsonl(run_dir / "metrics.jsonl")
    if not records:
        raise FileNotFoundError(f"{run_dir / 'metrics.jsonl'}: no metrics to plot")
    evals = read_jsonl(run_dir / "eval.jsonl")
    steps = [r["step"] for r in records]
    series = lambda key: [r.get(key) for r in records]  # noqa: E731
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    axes[0, 0].plot(steps, series("Loss"), label="Loss (EFE)")
    axes[0, 0].set_title("loss")
    for key in sorted(k for k in records[-1] if k.startswith("term/") and k[5:] in PLOTTED_TERMS):
        axes[0, 1].plot(steps, series(key), label=key[5:])
    axes[0, 1].set_title("terms")
    axes[0, 1].set_yscale("symlog", linthresh=1e-3)
    axes[0, 2].plot(steps, series("Qwen_grad"))
    axes[0, 2].set_yscale("log")
    axes[0, 2].set_title("Qwen_grad (encoder grad norm)")
    axes[1, 0].plot(steps, series("Mask_ratio"))
    axes[1, 0].set_title("mask ratio (wrong cells)")
    axes[1, 1].plot(steps, series("Reward"))
    axes[1, 1].set_title("reward 5·(acc_after − acc_before)")
    axes[1, 2].plot(steps, series("acc_before"), label="acc_before")
    axes[1, 2].plot(steps, series("acc_after"), label="acc_after")
    if evals:
        axes[1, 2].plot([e["step"] for e in evals], [e.get("solve_rate") for e in evals], "o-",
                        label="held-out solve rate")
    axes[1, 2].set_title("accuracy")
    for ax in axes.flat:
        ax.set_xlabel("step")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(output) if output else run_dir / "curves.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
