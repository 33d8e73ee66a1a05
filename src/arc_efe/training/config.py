"""TrainConfig: the whole training run as one typed tree, with the CPU default and GPU presets.

Merge order is defaults -> preset -> `--config FILE` -> command-line flags -> `a.b=value` overrides;
`validate()` runs once before anything is built. The resolved config is saved as `config.json` in the run
folder and inside every checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from arc_efe.system import ModelConfig
from arc_efe.objective.efe import EFEConfig
from arc_efe.objective.policy_gradient import PGConfig


@dataclass
class DataConfig:
    train: list[str] = field(default_factory=lambda: ["arc1/training"])
    val: str | None = None  # None: a seeded `val_fraction` of the training tasks is held out
    val_fraction: float = 0.1
    split_seed: int = 0
    batch_size: int = 16
    augment: bool = True
    keep_background: bool = True
    bucket_by_size: bool = True  # batches of similar grid size: a smaller canvas, ~3x less agent work
    strict: bool = False  # stop on the first malformed task instead of skipping it
    # Sources checked by content for overlap with what the run trains on, besides arc1/ and arc2/evaluation.
    contamination_check: list[str] = field(default_factory=list)
    # Generated tasks (a `gen:` entry in `train`): their share of every batch, the families' relative
    # weights (unnamed: 1), the difficulty range drawn from, and the fixed generated held-out set's size.
    gen_share: float = 0.5
    gen_weights: dict[str, float] = field(default_factory=dict)
    gen_difficulty: list[float] = field(default_factory=lambda: [0.0, 1.0])
    gen_val_tasks: int = 40
    # Each generated task followed in its batch by a twin: the same inputs under another instance of its
    # family's rule (families without `alternatives` get none; data/generated.py).
    gen_twins: bool = False
    # A curriculum over generated families: stage s (gen_stage_steps steps long, counted in stream tasks, so
    # with twins a stage lasts longer) draws from the union of the first s + 1 groups; after the last
    # group, from every family. Empty: every family from the start.
    gen_stages: list[list[str]] = field(default_factory=list)
    gen_stage_steps: int = 0


@dataclass
class OptimConfig:
    agent_lr: float = 1e-3
    encoder_lr: float = 3e-4  # encoder group: the LLM and its projection (--qwen-lr, the status note's name)
    policy_lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    warmup_steps: int = 50


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    efe: EFEConfig = field(default_factory=EFEConfig)
    pg: PGConfig = field(default_factory=PGConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    epochs: int = 10
    max_steps: int | None = None
    prompt_refresh: int = 10
    prompt_consistency: bool = True  # encode two disjoint demo subsets on refresh steps
    # fp32 on CPU: at the default sizes a whole step measured as fast as bf16 autocast (BENCHMARKS.md);
    # the GPU preset uses bf16.
    precision: Literal["bf16", "fp16", "fp32"] = "fp32"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    seed: int = 0
    out: str = "runs/default"
    log_every: int = 10
    save_every: int = 200  # optimiser steps between mid-epoch checkpoints (0: only at epoch ends)
    keep_last: int = 3
    eval_limit: int | None = None  # held-out tasks evaluated per epoch (None: all)
    tensorboard: bool = True
    progress: bool = True
    # Start from this checkpoint's weights where names match (a run folder, RUN/best, RUN/checkpoints/step-N or
    # a model folder); parts it lacks keep their fresh init (`warm_start.py`). Ignored on --resume.
    init_from: str | None = None
    # Train only the parameters under these dotted prefixes (e.g. ["agent.rule_table"]); empty: all.
    train_only: tuple[str, ...] = ()

    def validate(self) -> None:
        self.model.validate()
        if self.data.batch_size < 1:
            raise ValueError(f"data.batch_size must be >= 1, got {self.data.batch_size}")
        if self.prompt_refresh < 1:
            raise ValueError(f"prompt_refresh must be >= 1, got {self.prompt_refresh}")
        if not 0.0 <= self.data.val_fraction < 1.0:
            raise ValueError(f"data.val_fraction must be in [0, 1), got {self.data.val_fraction}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        gen = self.data.gen_difficulty
        if not 0.0 < self.data.gen_share <= 1.0:
            raise ValueError(f"data.gen_share must be in (0, 1], got {self.data.gen_share}")
        if len(gen) != 2 or not 0.0 <= gen[0] <= gen[1] <= 1.0:
            raise ValueError(f"data.gen_difficulty must be [low, high] within [0, 1], got {gen}")
        if self.data.gen_stages and self.data.gen_stage_steps < 1:
            raise ValueError(f"data.gen_stages needs data.gen_stage_steps >= 1, got {self.data.gen_stage_steps}")
        if self.log_every < 1:
            raise ValueError(f"log_every must be >= 1, got {self.log_every}")


def gpu_preset() -> dict:
    """Overrides for a GPU run: a bigger encoder and agent, bigger batches, bf16 on CUDA."""
    return {
        "device": "cuda",
        "precision": "bf16",
        "data": {"batch_size": 64},
        "model": {
            "encoder": {"hidden_size": 256, "num_layers": 4, "num_heads": 8, "num_kv_heads": 4,
                        "intermediate_size": 768},
            "agent": {"channels": 128, "blocks_per_step": 3},
        },
    }


def tiny_preset() -> dict:
    """Overrides for tests and smoke runs: the smallest system that still exercises every path."""
    return {
        "data": {"batch_size": 4},
        "model": {
            "encoder": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_kv_heads": 1,
                        "intermediate_size": 64, "prompt_dim": 32},
            "agent": {"channels": 16, "prompt_dim": 32, "steps": 2, "blocks_per_step": 1},
            "policy": {"hidden": 32},
        },
        "log_every": 1,
        "tensorboard": False,
        "progress": False,
    }


PRESETS = {"cpu": dict, "gpu": gpu_preset, "tiny": tiny_preset}
