"""The training loop: prompt-refresh windows, periodic logging, held-out evaluation, checkpoints, resume.

Prompt caching works in windows of `prompt_refresh` steps: at the first step of a window a batch of
(task, augmentation, query) samples is drawn and the encoder runs with gradients; the next steps of the
window train on the same samples with the cached, detached prompts (no encoder cost, no encoder gradient).
`prompt_refresh 1` recomputes every step and draws a fresh batch every step.
"""

from __future__ import annotations

import json
import logging
import math
import pickle
import time
from pathlib import Path

import torch
from accelerate.utils import set_seed
from tqdm import tqdm

from arc_efe.config import from_dict, to_dict
from arc_efe.data.batching import collate
from arc_efe.data.generated import MixedSampler
from arc_efe.encoder.standardise import Standardise
from arc_efe.training.prompt_cache import PromptCache
from arc_efe.system import build_system
from arc_efe.objective.scoring import first_attempt_cell_accuracy, score_attempts
from arc_efe.training import checkpoint as ckpt
from arc_efe.training.config import TrainConfig
from arc_efe.training.monitor import Monitor
from arc_efe.training.provenance import TRAINED_ON_FILE
from arc_efe.training.setup import (build_accelerator, build_optimizer, build_sampler, build_scheduler,
                                    generated_heldout, run_provenance, split_tasks)
from arc_efe.training.step import train_step
from arc_efe.training.warm_start import load_matching, train_only

log = logging.getLogger(__name__)


def evaluate_heldout(system, tasks, limit: int | None) -> dict:
    """Solve rate (exact grid, pass@2, plain predictor) and attempt-1 cell accuracy on held-out tasks.

    Leaves `system` in eval mode; the trainer switches it back before the next step."""
    tasks = tasks[:limit] if limit else tasks
    if not tasks:
        return {}
    system.eval()
    attempts = system.plain_attempts(tasks)
    scores = score_attempts(attempts, tasks)
    return {"solve_rate": scores.task_score, "test_score": scores.test_score,
            "cell_accuracy": first_attempt_cell_accuracy(attempts, tasks),
            "solved": len(scores.solved_tasks), "tasks": scores.num_tasks}


def warn_unsynced_standardise(system: torch.nn.Module, processes: int) -> bool:
    """Under DDP a standardised prompt part (`encoder.standardise.Standardise`) uses each rank's own batch
    statistics: BatchNorm's CPU path has no SyncBatchNorm, and a cached-prompt step runs no encoder, so ranks
    would not meet in a collective. Said once at start, so a multi-process run is not read as identical to one
    process; returns whether it warned."""
    if processes < 2 or not any(isinstance(m, Standardise) for m in system.modules()):
        return False
    log.warning("pair_standardise/llm_standardise under %d processes: each rank standardises its prompts over "
                "its own tasks (statistics are not synchronised across ranks); solving uses the running "
                "statistics of rank 0's weights", processes)
    return True


class Trainer:
    """Owns the built objects of one run; `run()` trains until `max_steps` or `epochs`."""

    def __init__(self, cfg: TrainConfig, resume: str | None = None):
        cfg.validate()
        self.cfg = cfg
        self.accelerator = build_accelerator(cfg)
        set_seed(cfg.seed)
        self.run_dir = Path(cfg.out)
        self.train_tasks, self.val_tasks = split_tasks(cfg.data)
        self.gen_val_tasks = generated_heldout(cfg.data)
        self.provenance = run_provenance(cfg, self.train_tasks, self.val_tasks)
        system = build_system(cfg.model)
        if cfg.init_from and not resume:
            fresh, unused = load_matching(system, cfg.init_from)
            log.info("started from %s; %d weight(s) at their init %s; %d of its weight(s) unused %s", cfg.init_from,
                     len(fresh), fresh[:6], len(unused), unused[:6])
        kept = train_only(system, cfg.train_only)
        if cfg.train_only:
            log.info("training %d parameter tensor(s) under %s, the rest frozen", len(kept), list(cfg.train_only))
        warn_unsynced_standardise(system, self.accelerator.num_processes)
        self.groups = system.parameter_groups()
        optimizer = build_optimizer(self.groups, cfg.optim)
        scheduler = build_scheduler(optimizer, cfg.optim.warmup_steps)
        self.system, self.optimizer, self.scheduler = self.accelerator.prepare(system, optimizer, scheduler)
        # A pretrained LLM arrives in eval mode (from_pretrained); training runs in train mode from step 1.
        self.system.train()
        rank = self.accelerator.process_index
        self.sampler = build_sampler(cfg.data, self.train_tasks, seed=cfg.seed + 1000 * rank)
        self.cache = PromptCache(cfg.prompt_refresh)
        self.state = ckpt.TrainState()
        self.accelerator.register_for_checkpointing(self.state)
        self.config_dict = to_dict(cfg)
        self.monitor = None
        if self.accelerator.is_main_process:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.json").write_text(json.dumps(self.config_dict, indent=2))
            trainable = bool(self.groups["encoder"])
            self.monitor = Monitor(self.run_dir, cfg.tensorboard, trainable_encoder=trainable)
        self.window = None
        if resume:
            self._resume(resume)

    def _resume(self, path: str) -> None:
        checkpoint = ckpt.resolve_checkpoint(path)
        ckpt.verify_checkpoint(checkpoint)
        # Fields added since the run was saved take their defaults, as when its model is loaded for solving.
        saved = to_dict(from_dict(TrainConfig, ckpt.read_config(checkpoint)))
        ckpt.check_compatible(saved, self.config_dict, checkpoint)
        try:
            self.accelerator.load_state(str(checkpoint))
        except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as err:
            # A checkpoint without checksums.json (older format) reaches here with a damaged state file.
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise ckpt.CheckpointError(f"checkpoint {checkpoint}: the training state does not load "
                                       f"({type(err).__name__}: {first})") from err
        self.cache.load_state_dict(self.state.cache)
        if self.monitor is not None:
            if self.state.monitor:
                self.monitor.load_state_dict(self.state.monitor)
            self.monitor.rewind(self.state.step)
        # Redraw the window the checkpoint was inside, so the next step sees the same samples.
        self.sampler.load_state_dict(self.state.sampler_at_window)
        self._draw_window(keep_start=True)
        log.info("resumed from %s at step %d", checkpoint, self.state.step)

    @property
    def epoch(self) -> float:
        return self.sampler.epoch * self.accelerator.num_processes

    def _draw_window(self, keep_start: bool = False) -> None:
        self.state.sampler_at_window = self.sampler.state_dict()
        self.window = collate(self.sampler.next_batch()).to(self.accelerator.device)
        if not keep_start:
            self.state.window_start = self.state.step

    def total_steps(self) -> int:
        """Steps for `epochs` passes over the real tasks (generated only: over `gen_epoch` generated tasks)."""
        batch, procs = self.cfg.data.batch_size, self.accelerator.num_processes
        if isinstance(self.sampler, MixedSampler):
            real = batch - self.sampler.n_generated
            count, batch = (len(self.train_tasks), real) if real else (self.sampler.gen_epoch, batch)
        else:
            count = len(self.train_tasks)
        per_epoch = math.ceil(count / (batch * procs))
        by_epochs = self.cfg.epochs * per_epoch * self.cfg.prompt_refresh
        return min(by_epochs, self.cfg.max_steps) if self.cfg.max_steps else by_epochs

    def save(self, best_score: float | None = None) -> None:
        self.state.cache = self.cache.state_dict()
        if self.monitor is not None:
            self.state.monitor = self.monitor.state_dict()
        path = ckpt.save_checkpoint(self.accelerator, self.run_dir, self.state.step, self.config_dict,
                                    self.cfg.keep_last, extra_json={TRAINED_ON_FILE: self.provenance})
        if best_score is not None and best_score > self.state.best_score:
            self.state.best_score = best_score
            if self.accelerator.is_main_process:
                ckpt.update_best(self.run_dir, path)

    def end_of_epoch(self) -> None:
        """Held-out evaluation (real tasks, and generated ones under `gen_` keys), a checkpoint, and `best/`
        when the solve rate improved (the real tasks' when there are any; cell accuracy breaks ties)."""
        self.state.last_eval_epoch = int(self.epoch)
        score = None
        if self.accelerator.is_main_process and (self.val_tasks or self.gen_val_tasks):
            model = self.accelerator.unwrap_model(self.system)
            scores = {}
            for prefix, tasks in (("", self.val_tasks), ("gen_", self.gen_val_tasks)):
                with self.accelerator.autocast():
                    part = evaluate_heldout(model, tasks, self.cfg.eval_limit)
                scores.update({prefix + key: value for key, value in part.items()})
                if part:
                    log.info("epoch %d held-out %s: solve rate %.4f (%d/%d tasks), cell accuracy %.4f",
                             self.state.last_eval_epoch, "generated" if prefix else "real", part["solve_rate"],
                             part["solved"], part["tasks"], part["cell_accuracy"])
            self.monitor.record_eval(self.state.step, self.epoch, scores)
            prefix = "" if self.val_tasks else "gen_"
            # Cell accuracy breaks ties (a solved task moves the rate by >= 1/len, far more than 1e-3): while
            # nothing is solved yet, best/ still follows the model that draws the held-out outputs best.
            score = scores[prefix + "solve_rate"] + 1e-3 * scores[prefix + "cell_accuracy"]
            self.system.train()
        self.save(best_score=score)

    def run(self) -> Path:
        total = self.total_steps()
        bar = tqdm(total=total, initial=self.state.step, disable=not (self.cfg.progress
                   and self.accelerator.is_main_process), desc="train", dynamic_ncols=True)
        pairs_per_step = self.cfg.data.batch_size * self.accelerator.num_processes
        tick, tick_step = time.perf_counter(), self.state.step
        while self.state.step < total:
            if self.window is None or self.state.step - self.state.window_start >= self.cfg.prompt_refresh:
                if int(self.epoch) > self.state.last_eval_epoch:
                    self.end_of_epoch()
                self._draw_window()
            result = train_step(self.system, self.window, self.optimizer, self.scheduler, self.accelerator,
                                self.cache, self.groups, self.state.step, self.epoch, self.cfg)
            self.state.step += 1
            bar.update(1)
            if self.monitor is not None:
                self.monitor.observe(self.state.step, result)
                if self.state.step % self.cfg.log_every == 0 and not result.skipped:
                    now = time.perf_counter()
                    updates = (self.state.step - tick_step) / max(now - tick, 1e-9)
                    tick, tick_step = now, self.state.step
                    # Each window's batch trains prompt_refresh updates: new pairs arrive that much slower.
                    line = self.monitor.record(self.state.step, self.epoch, result, pairs_per_step * updates,
                                               {"lr_agent": self.scheduler.get_last_lr()[0]},
                                               unique_pairs_per_s=pairs_per_step * updates / self.cfg.prompt_refresh,
                                               updates_per_s=updates)
                    bar.write(line)
            if self.cfg.save_every and self.state.step % self.cfg.save_every == 0 and self.state.step < total:
                self.save()
        bar.close()
        self.end_of_epoch() if int(self.epoch) > self.state.last_eval_epoch else self.save()
        if self.monitor is not None:
            self.monitor.close()
        return self.run_dir


def train(cfg: TrainConfig, resume: str | None = None) -> Path:
    return Trainer(cfg, resume).run()
