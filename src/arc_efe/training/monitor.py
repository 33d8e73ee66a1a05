"""Training monitor: the one-line log, metrics.jsonl, TensorBoard, and warnings a user can act on.

Runs on the main process only. The prototype's "Qwen_grad" was printed but never checked; here a run of
zero encoder gradients on refresh steps, non-finite losses and a flat reward each raise a warning.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections import deque
from pathlib import Path

from arc_efe.training.step import StepResult

log = logging.getLogger(__name__)

ZERO_GRAD_WINDOW = 100  # refresh steps with encoder grad 0 before warning
FLAT_REWARD_WINDOW = 200  # steps with reward exactly 0 before warning


def format_line(step: int, r: StepResult, encoder_grad: float, pairs_per_s: float,
                unique_pairs_per_s: float | None = None) -> str:
    """`step | Loss | Qwen_grad | Mask_ratio | Reward | acc_before→acc_after | pair-updates/s | unique pairs/s`;
    Loss is the EFE loss. A window's batch trains `prompt_refresh` updates, so pair-updates/s (rows through
    the optimiser, repeats counted) is that many times the unique pairs/s (new training pairs drawn)."""
    unique = "" if unique_pairs_per_s is None else f" | {unique_pairs_per_s:.1f} unique pairs/s"
    return (
        f"step {step:6d} | Loss {r.efe:.4f} | Qwen_grad {encoder_grad:.2e} | "
        f"Mask_ratio {r.terms.get('mask_ratio', math.nan):.3f} | Reward {r.reward:+.4f} | "
        f"acc {r.acc_before:.3f}→{r.acc_after:.3f} | {pairs_per_s:.1f} pair-updates/s{unique}"
    )


def _step_of(line: str) -> float:
    """The step of a jsonl record; a torn last line (a killed write) counts as after every step."""
    try:
        return json.loads(line)["step"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return math.inf


class Monitor:
    """Collects step results; every `log_every` steps writes a line, a jsonl record and scalars."""

    def __init__(self, run_dir: Path, tensorboard: bool, trainable_encoder: bool):
        self.metrics_path = run_dir / "metrics.jsonl"
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run_dir / "tb"))
        self.trainable_encoder = trainable_encoder
        self.last_encoder_grad = 0.0  # encoder grad norm of the last refresh step (cached steps have none)
        self.last_prompt_term = 0.0  # prompt consistency is computed on refresh steps only
        self.zero_grad_refreshes = 0
        self.nonfinite_steps = 0
        self.recent_rewards: deque[float] = deque(maxlen=FLAT_REWARD_WINDOW)
        self.warned: set[str] = set()

    def observe(self, step: int, r: StepResult) -> None:
        """Update running state and warnings from every step (logged or not)."""
        if r.skipped:
            self.nonfinite_steps += 1
            log.warning("step %d: loss is NaN/Inf; update skipped (%d so far)", step, self.nonfinite_steps)
            return
        if r.refreshed:
            self.last_encoder_grad = r.grad_norms.get("encoder", 0.0)
            self.last_prompt_term = r.terms.get("prompt", 0.0)
            self.zero_grad_refreshes = self.zero_grad_refreshes + 1 if self.last_encoder_grad == 0.0 else 0
            if self.trainable_encoder and self.zero_grad_refreshes == ZERO_GRAD_WINDOW:
                log.warning("Qwen_grad has been 0 on %d refresh steps in a row: the encoder is not learning. "
                            "Run `arc-efe diagnose` with the same flags.", ZERO_GRAD_WINDOW)
        self.recent_rewards.append(r.reward)
        if (len(self.recent_rewards) == FLAT_REWARD_WINDOW and "flat_reward" not in self.warned
                and all(x == 0.0 for x in self.recent_rewards)):
            self.warned.add("flat_reward")
            log.warning("Reward has been exactly 0 for %d steps: the refiner policy changes no prediction "
                        "(policy action scale too small, or the agent ignores the prompt).", FLAT_REWARD_WINDOW)

    def record(self, step: int, epoch: float, r: StepResult, pairs_per_s: float, extra: dict,
               unique_pairs_per_s: float | None = None, updates_per_s: float | None = None) -> str:
        """Write one jsonl record and TensorBoard scalars; return the console line. `pairs_per_s` counts a
        pair once per update it trains (the key keeps its name for older readers: bench/gpu.sh, past runs'
        logs); `unique_pairs_per_s` counts each drawn pair once; `updates_per_s` counts optimiser steps."""
        rates = {"pairs_per_s": pairs_per_s}
        if unique_pairs_per_s is not None:
            rates["unique_pairs_per_s"] = unique_pairs_per_s
        if updates_per_s is not None:
            rates["updates_per_s"] = updates_per_s
        record = {
            "step": step, "epoch": round(epoch, 4), "Loss": r.efe, "Total": r.loss,
            "Qwen_grad": self.last_encoder_grad, "Mask_ratio": r.terms.get("mask_ratio"),
            "Reward": r.reward, "acc_before": r.acc_before, "acc_after": r.acc_after,
            **rates, "refreshed": r.refreshed, "nonfinite_steps": self.nonfinite_steps,
            **{f"term/{k}": v for k, v in r.terms.items()},
            "term/prompt": self.last_prompt_term,
            **{f"grad/{k}": v for k, v in r.grad_norms.items()},
            **extra,
        }
        with self.metrics_path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "step":
                    self.writer.add_scalar(key, value, step)
        return format_line(step, r, self.last_encoder_grad, pairs_per_s, unique_pairs_per_s)

    def record_eval(self, step: int, epoch: float, scores: dict) -> None:
        with (self.metrics_path.parent / "eval.jsonl").open("a") as f:
            f.write(json.dumps({"step": step, "epoch": epoch, **scores}) + "\n")
        if self.writer is not None:
            for key, value in scores.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.writer.add_scalar(f"val/{key}", value, step)

    def rewind(self, step: int) -> None:
        """Drop the metrics.jsonl and eval.jsonl records after `step`: a resumed run redoes the steps its
        predecessor took after its last checkpoint, and each step must be logged once."""
        for path in (self.metrics_path, self.metrics_path.parent / "eval.jsonl"):
            if not path.exists():
                continue
            lines = path.read_text().splitlines()
            kept = [line for line in lines if _step_of(line) <= step]
            if len(kept) < len(lines):
                log.info("%s: dropped %d records after step %d (logged after the last checkpoint)", path,
                         len(lines) - len(kept), step)
                tmp = path.with_name(f".{path.name}.tmp")
                tmp.write_text("".join(f"{line}\n" for line in kept))
                os.replace(tmp, path)

    def state_dict(self) -> dict:
        return {"last_encoder_grad": self.last_encoder_grad, "last_prompt_term": self.last_prompt_term,
                "zero_grad_refreshes": self.zero_grad_refreshes,
                "nonfinite_steps": self.nonfinite_steps, "recent_rewards": list(self.recent_rewards)}

    def load_state_dict(self, state: dict) -> None:
        # Runs saved before the rename kept it under its log name.
        self.last_encoder_grad = state.get("last_encoder_grad", state.get("last_qwen_grad", 0.0))
        self.last_prompt_term = state["last_prompt_term"]
        self.zero_grad_refreshes = state["zero_grad_refreshes"]
        self.nonfinite_steps = state["nonfinite_steps"]
        self.recent_rewards = deque(state["recent_rewards"], maxlen=FLAT_REWARD_WINDOW)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
