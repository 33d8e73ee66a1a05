"""Builders for a training run: accelerator, data split, optimiser parameter groups and schedule.

Everything here runs before the first step, so bad data or a bad config stops the run before training.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from accelerate import Accelerator, DistributedDataParallelKwargs

from arc_efe.config import ConfigError
from arc_efe.data.batching import TaskSampler
from arc_efe.device import resolve_device
from arc_efe.data.generated import GeneratedTasks, MixedSampler, families_of, family_weight, is_generated
from arc_efe.data.sources import load_tasks
from arc_efe.data.task import Task
from arc_efe.training.config import DataConfig, OptimConfig, TrainConfig
from arc_efe.training.provenance import training_provenance

log = logging.getLogger(__name__)

HELDOUT_STREAM_SEED = 2**31 - 1  # the generated held-out stream's seed base (training streams: cfg.seed + rank)


def build_accelerator(cfg: TrainConfig) -> Accelerator:
    """Device and precision from the config. fp16 needs CUDA (on CPU it would silently be fp32)."""
    cpu = resolve_device(cfg.device).type == "cpu"
    if cfg.precision == "fp16" and cpu:
        raise ConfigError("--precision fp16 needs a CUDA device (with a GradScaler); on CPU use bf16 or fp32")
    mixed = {"bf16": "bf16", "fp16": "fp16", "fp32": "no"}[cfg.precision]
    # Cached-prompt steps leave the encoder unused, so DDP must tolerate unused parameters.
    ddp = DistributedDataParallelKwargs(find_unused_parameters=True)
    return Accelerator(cpu=cpu, mixed_precision=mixed, kwargs_handlers=[ddp])


def load_source_tasks(sources: list[str], strict: bool) -> list[Task]:
    tasks: list[Task] = []
    for source in sources:
        result = load_tasks(source, strict=strict)
        for problem in result.problems:
            log.warning("skipped: %s", problem)
        tasks.extend(result.tasks)
    if not tasks:
        raise ValueError(f"no valid tasks in {sources}")
    return tasks


def generated_families(cfg: DataConfig) -> list[str]:
    """The generator families named by the `gen:` entries of `cfg.train`, in order, each once."""
    return list(dict.fromkeys(f for source in cfg.train if is_generated(source) for f in families_of(source)))


def run_provenance(cfg: TrainConfig, train_tasks: list[Task], val_tasks: list[Task]) -> dict:
    """A run's `trained_on.json`: its real tasks' fingerprints, and its generated stream (an endless stream:
    what identifies it is the families and the seed)."""
    record = training_provenance(train_tasks, val_tasks, cfg.data.contamination_check)
    record["generated"] = generated_stream_record(cfg)
    return record


def generated_stream_record(cfg: TrainConfig) -> dict:
    """The generated stream's part of `trained_on.json`: the families drawn from, those named but weighted 0
    (the held-out ones) apart, and the seed."""
    named = generated_families(cfg.data)
    unused = [f for f in named if family_weight(cfg.data.gen_weights, f) == 0.0]
    return {"families": [f for f in named if f not in unused], "weight_zero": unused, "seed": cfg.seed}


def split_tasks(cfg: DataConfig) -> tuple[list[Task], list[Task]]:
    """Real training tasks and held-out tasks (a seeded fraction of the training tasks, or `cfg.val`);
    `gen:` sources are streams, drawn by `build_sampler`, not listed here.

    Nothing is refused here: overlap with public evaluation sets is checked by content, warned about and
    recorded in each checkpoint by `training.provenance` (arc2/training is a legitimate training set)."""
    real = [source for source in cfg.train if not is_generated(source)]
    if not real:
        return [], (load_source_tasks([cfg.val], cfg.strict) if cfg.val is not None else [])
    tasks = load_source_tasks(real, cfg.strict)
    if cfg.val is not None:
        val = load_source_tasks([cfg.val], cfg.strict)
        val_ids = {t.id for t in val}
        tasks = [t for t in tasks if t.id not in val_ids]
        return tasks, val
    order = np.random.default_rng(cfg.split_seed).permutation(len(tasks))
    n_val = int(round(cfg.val_fraction * len(tasks)))
    val = [tasks[i] for i in sorted(order[:n_val])]
    train = [tasks[i] for i in sorted(order[n_val:])]
    return train, val


def generated_per_batch(cfg: DataConfig, has_real: bool) -> int:
    """Generated tasks in each batch: all of it without real tasks, else round(batch × gen_share), leaving
    at least one real task (0 when no `gen:` source is named)."""
    if not generated_families(cfg):
        return 0
    if not has_real:
        return cfg.batch_size
    n = max(1, round(cfg.batch_size * cfg.gen_share))
    if n >= cfg.batch_size:
        raise ConfigError(f"data.gen_share {cfg.gen_share} leaves no real task in a batch of {cfg.batch_size}; "
                          "lower it, or train on gen: sources alone")
    return n


def build_sampler(cfg: DataConfig, train_tasks: list[Task], seed: int) -> TaskSampler | MixedSampler:
    """The batch source: real tasks alone (TaskSampler), or a fixed share of generated tasks per batch."""
    n_gen = generated_per_batch(cfg, bool(train_tasks))
    real = None
    if train_tasks:
        real = TaskSampler(train_tasks, cfg.batch_size - n_gen, seed=seed, augment=cfg.augment,
                           keep_background=cfg.keep_background, bucket_by_size=cfg.bucket_by_size)
    if not n_gen:
        return real
    stream = GeneratedTasks(generated_families(cfg), seed, tuple(cfg.gen_difficulty), cfg.gen_weights,
                            twins=cfg.gen_twins, stages=cfg.gen_stages, stage_tasks=cfg.gen_stage_steps * n_gen)
    return MixedSampler(real, stream, n_gen, seed, augment=cfg.augment, keep_background=cfg.keep_background)


def generated_heldout(cfg: DataConfig) -> list[Task]:
    """A fixed set of `gen_val_tasks` generated tasks from a stream seeded apart from every training stream
    (training streams use small seeds), for the held-out report of generated families."""
    families = generated_families(cfg)
    if not families or cfg.gen_val_tasks < 1:
        return []
    stream = GeneratedTasks(families, HELDOUT_STREAM_SEED + cfg.split_seed, tuple(cfg.gen_difficulty))
    return stream.tasks(0, cfg.gen_val_tasks)


def build_optimizer(groups: dict[str, list[torch.nn.Parameter]], cfg: OptimConfig) -> torch.optim.Optimizer:
    lrs = {"encoder": cfg.encoder_lr, "projection": cfg.encoder_lr, "agent": cfg.agent_lr, "policy": cfg.policy_lr}
    param_groups = [{"params": ps, "lr": lrs[name], "name": name} for name, ps in groups.items() if ps]
    return torch.optim.AdamW(param_groups, weight_decay=cfg.weight_decay)


def build_scheduler(optimizer: torch.optim.Optimizer, warmup_steps: int):
    """Linear warm-up to each group's lr, then constant."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / max(1, warmup_steps))
    )
