"""run_diagnosis: build the configured run, take one refresh step and one cached step of the real
`train_step` on one real batch under a StepProbe, log both through the real Monitor, and judge.

Nothing of the step is re-implemented: the doctor calls the same `train_step` the loop calls, on the
objects `Trainer` builds, so a bug in either shows up here. `fault(trainer)` runs after the build and
before the first step; tests use it to break the system on purpose.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from arc_efe.config import ConfigError
from arc_efe.data.batching import Batch, collate
from arc_efe.diagnose import checks
from arc_efe.diagnose.checks import CheckResult
from arc_efe.diagnose.probes import StepProbe, StepRecord
from arc_efe.training.prompt_cache import PromptCache
from arc_efe.training.config import TrainConfig
from arc_efe.training.loop import Trainer
from arc_efe.training.step import StepResult, batch_keys, train_step

log = logging.getLogger(__name__)

FaultHook = Callable[[Trainer], None]


@dataclass
class Diagnosis:
    checks: list[CheckResult]  # the ten checks, in order
    params_without_grad: list[str]  # trainable, no gradient at all on the refresh step
    params_with_zero_grad: list[str]  # trainable, a gradient of exactly 0 on the refresh step
    notes: list[str]  # adjustments the doctor made to the config
    setup: str  # one line: batch, precision, device, encoder
    step_seconds: list[float]  # refresh step, cached step
    seconds: float

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


@dataclass
class Observation:
    """Everything the two steps showed; the checks are computed from this alone."""

    records: tuple[StepRecord, StepRecord]  # refresh step, cached step
    results: tuple[StepResult, StepResult]
    stored: torch.Tensor | None  # [B, P] cache entries for the batch after the refresh step
    changes: dict[str, float]  # largest |Δ| of each trainable parameter (by name) over the refresh step
    lines: list[str]  # the monitor's console lines
    logged: list[dict]  # the metrics.jsonl records the two steps appended
    seconds: list[float]  # wall time of each step


def stored_prompts(cache: PromptCache, batch: Batch) -> torch.Tensor | None:
    """The cache's prompts for the batch's keys stacked in batch order [B, P], or None if any is missing."""
    entries = {key: prompt for key, prompt, _ in cache.state_dict()["entries"]}
    keys = batch_keys(batch)
    if not all(key in entries for key in keys):
        return None
    return torch.stack([entries[key] for key in keys]).clone()


def _trainable(system: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    return {name: p for name, p in system.named_parameters() if p.requires_grad and p.numel() > 0}


def _snapshot(params: dict[str, torch.nn.Parameter]) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in params.items()}


def _changes(params: dict[str, torch.nn.Parameter], before: dict[str, torch.Tensor]) -> dict[str, float]:
    """Largest |Δ| per parameter: a group's maximum would hide a subset of it that did not step."""
    return {name: (params[name].detach() - old).abs().max().item() for name, old in before.items()}


def _group_members(system: torch.nn.Module, groups: dict[str, list[torch.nn.Parameter]]) -> dict[str, list[str]]:
    """The parameter names of each non-empty group (`groups` holds the tensors, train_step's view of them)."""
    names = {id(p): name for name, p in system.named_parameters()}
    members = {group: [names[id(p)] for p in params if id(p) in names] for group, params in groups.items()}
    return {group: found for group, found in members.items() if found}


def _grad_scale(trainer: Trainer) -> Callable[[], float]:
    scaler = trainer.accelerator.scaler
    return (lambda: float(scaler.get_scale())) if scaler is not None else (lambda: 1.0)


def observe(trainer: Trainer) -> Observation:
    """Run the refresh step and the cached step (same batch) under the probe; log both like the loop."""
    acc = trainer.accelerator
    batch = collate(trainer.sampler.next_batch()).to(acc.device)
    monitor = trainer.monitor
    offset = monitor.metrics_path.stat().st_size if monitor and monitor.metrics_path.exists() else 0
    params = _trainable(acc.unwrap_model(trainer.system))
    before = _snapshot(params)
    records, results, lines, seconds = [], [], [], []
    stored, changes = None, {}
    with StepProbe(acc.unwrap_model(trainer.system), _grad_scale(trainer)) as probe:
        for step in range(2):
            records.append(probe.begin())
            tick = time.perf_counter()
            result = train_step(trainer.system, batch, trainer.optimizer, trainer.scheduler, acc, trainer.cache,
                                trainer.groups, step, trainer.epoch, trainer.cfg)
            seconds.append(time.perf_counter() - tick)
            rate = len(batch) / max(seconds[-1], 1e-9)
            results.append(result)
            if step == 0:
                changes = _changes(params, before)
                stored = stored_prompts(trainer.cache, batch)
            if monitor is not None:
                monitor.observe(step + 1, result)
                lines.append(monitor.record(step + 1, trainer.epoch, result, rate, {}))
    logged = []
    if monitor is not None:
        with monitor.metrics_path.open() as f:
            f.seek(offset)
            logged = [json.loads(line) for line in f.read().splitlines() if line.strip()]
    return Observation(tuple(records), tuple(results), stored, changes, lines, logged, seconds)


def judge(trainer: Trainer, obs: Observation) -> tuple[list[CheckResult], list[str], list[str]]:
    """The ten checks, and the trainable parameters without / with zero gradient on the refresh step."""
    cfg = trainer.cfg
    system = trainer.accelerator.unwrap_model(trainer.system)
    named = dict(system.named_parameters())
    trainable = [n for n, p in named.items() if p.requires_grad]
    llm = [n for n in trainable if n.startswith("encoder.llm.")]
    projection = [n for n in trainable if n.startswith("encoder.projection.")]
    frozen = not llm
    refresh, cached = obs.records
    grads = refresh.grads
    no_grad = [n for n in trainable if n not in grads]
    zero_grad = [n for n in trainable if n in grads and grads[n].norm == 0.0]
    results = [
        checks.check_grad_mode(refresh),
        checks.check_prompt_connected(refresh, {n: named[n] for n in llm + projection}, frozen),
        checks.check_prompt_reaches_loss(refresh),
        checks.check_train_mode(refresh),
        checks.check_optimizer(system.encoder, trainer.optimizer.param_groups, cfg.optim.encoder_lr,
                               cfg.model.encoder.train_mode),
        checks.check_devices_dtypes(named, list(obs.records), trainer.accelerator.device, cfg.precision,
                                    trainer.accelerator.scaler is not None),
        checks.check_prompt_cache(refresh, cached, obs.results, obs.stored, projection if frozen else llm,
                                  "projection" if frozen else "encoder LLM"),
        checks.check_grad_monitor(obs.results, obs.logged, checks.grad_norm(refresh, llm), not frozen),
        checks.check_step_updates(obs.results, obs.changes, _group_members(system, trainer.groups), grads,
                                  no_grad, zero_grad),
        checks.check_metrics(obs.lines, obs.logged),
    ]
    return results, no_grad, zero_grad


def run_diagnosis(cfg: TrainConfig, fault: FaultHook | None = None) -> Diagnosis:
    """Build the run from `cfg` (writing into cfg.out), take the two observed steps, run the ten checks."""
    if cfg.model.encoder.oracle_families:
        # Checks 4-6 and 9 follow gradients through an LLM encoder; the oracle's table has none to follow.
        raise ConfigError("arc-efe diagnose checks the gradient flow of an LLM encoder; model.encoder."
                          f"oracle_families={list(cfg.model.encoder.oracle_families)} replaces it with a RuleOracle "
                          "(a diagnostic prompt table), so run diagnose without that option")
    start = time.perf_counter()
    notes = []
    if cfg.prompt_refresh < 2:
        notes.append(f"prompt_refresh {cfg.prompt_refresh} raised to 2: the second step must use the cache")
        cfg = replace(cfg, prompt_refresh=2)
    trainer = Trainer(cfg)
    try:
        if fault is not None:
            fault(trainer)
        obs = observe(trainer)
    finally:
        if trainer.monitor is not None:
            trainer.monitor.close()
    results, no_grad, zero_grad = judge(trainer, obs)
    if zero_grad and all("lora_A" in name for name in zero_grad):
        notes.append("LoRA A matrices get exactly zero gradient on the first step because LoRA's B matrices "
                     "start at zero; expected, they train from the second step on")
    encoder = cfg.model.encoder
    setup = (f"batch of {cfg.data.batch_size} tasks, {cfg.precision} on {trainer.accelerator.device}, encoder "
             f"{encoder.llm or 'built-in Qwen2'} ({encoder.train_mode}), prompt_refresh {cfg.prompt_refresh}")
    for check in results:
        log.debug("check %d %s: %s", check.check, check.status, check.message)
    return Diagnosis(results, no_grad, zero_grad, notes, setup, obs.seconds, time.perf_counter() - start)
