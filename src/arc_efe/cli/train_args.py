"""Training flags shared by `arc-efe train` and `arc-efe diagnose`, and their merge into a TrainConfig.

Order: defaults -> `--preset` -> the resumed run's saved config (`--resume`) -> `--config FILE` (YAML) -> flags
-> `--set a.b=value` overrides. A resumed run thus keeps its data mix, weights and model unless told otherwise.
"""

from __future__ import annotations

import argparse

from arc_efe.cli.config_args import add_config_arguments, resolve_config
from arc_efe.config import merge, to_dict
from arc_efe.training.config import PRESETS, TrainConfig

# flag dest -> config key path; a flag left unset does not override the file or preset.
FLAG_PATHS = {
    "epochs": "epochs",
    "agent_lr": "optim.agent_lr",
    "encoder_lr": "optim.encoder_lr",
    "policy_lr": "optim.policy_lr",
    "device": "device",
    "tasks": "data.train",
    "val": "data.val",
    "contamination_check": "data.contamination_check",
    "llm": "model.encoder.llm",
    "llm_train": "model.encoder.train_mode",
    "batch_size": "data.batch_size",
    "max_steps": "max_steps",
    "log_every": "log_every",
    "prompt_refresh": "prompt_refresh",
    "precision": "precision",
    "seed": "seed",
    "out": "out",
    "save_every": "save_every",
    "eval_limit": "eval_limit",
    "init_from": "init_from",
}


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p, "model.agent.channels=96")
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu", help="starting point (default: cpu)")
    p.add_argument("--tasks", action="append", help="training source (repeatable; default arc1/training)")
    p.add_argument("--val", help="held-out source (default: a seeded 10%% of the training tasks)")
    p.add_argument("--contamination-check", dest="contamination_check", action="append", metavar="SOURCE",
                   help="also record (and warn about) overlap of the training and held-out tasks with this set, "
                        "by content (repeatable; arc1/evaluation and arc2/evaluation are always checked)")
    p.add_argument("--llm", help="pretrained Qwen2/Qwen2.5 folder or hub name (default: built-in encoder)")
    p.add_argument("--llm-train", dest="llm_train", choices=["full", "lora", "frozen"])
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-steps", dest="max_steps", type=int, help="stop after N optimiser steps")
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--agent-lr", "--agent_lr", dest="agent_lr", type=float)
    # The status note calls the task encoder "Qwen": its flag names stay, beside the encoder's own.
    p.add_argument("--qwen-lr", "--qwen_lr", "--encoder-lr", dest="encoder_lr", type=float,
                   help="lr of the task encoder and its projection")
    p.add_argument("--policy-lr", "--policy_lr", dest="policy_lr", type=float)
    p.add_argument("--prompt-refresh", dest="prompt_refresh", type=int, help="recompute prompts every N steps")
    p.add_argument("--precision", choices=["bf16", "fp16", "fp32"])
    p.add_argument("--device", choices=["auto", "cpu", "cuda"])
    p.add_argument("--seed", type=int)
    p.add_argument("--out", help="run folder (default runs/default)")
    p.add_argument("--log-every", dest="log_every", type=int)
    p.add_argument("--save-every", dest="save_every", type=int, help="checkpoint every N steps (0: epochs only)")
    p.add_argument("--eval-limit", dest="eval_limit", type=int, help="held-out tasks evaluated per epoch")
    p.add_argument("--init-from", dest="init_from", metavar="CHECKPOINT",
                   help="start from this model's weights where names match (new parts keep their init)")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Resolve the TrainConfig; raises ConfigError naming any unknown or ill-typed key (CheckpointError, one of
    them, naming the file when a resumed run's config is unreadable)."""
    base = merge(to_dict(TrainConfig()), PRESETS[args.preset]())
    if getattr(args, "resume", None):
        from arc_efe.checkpoint_files import read_config, resolve_checkpoint  # torch: only when resuming

        base = merge(base, read_config(resolve_checkpoint(args.resume)))
    return resolve_config(TrainConfig, base, args, FLAG_PATHS)
