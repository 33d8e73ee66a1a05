"""Per-task refinement at solve time: gradient steps on a prompt offset (and a small agent adapter)
against the task's own demonstrations, within a deadline.

What is tuned: one offset ε [P] shared by every prompt of the task, so the refined prompt of a sample is
p' = p + δ + ε, where p is the encoder's prompt of the sample's context and δ the policy's deterministic
proposal (its mean) for it. Optionally a per-task adapter: the parameters of named agent submodules
(default the prompt FiLM and the read-out heads), tuned with ε and restored by `TaskAdapter` when the
task is done.

Against what: leave-one-out samples of the demos (each demo the query, the other demos the context, as in
training) under a few augmentations. Loss: plain cross-entropy of the final planning step's cell logits
on the valid target cells plus `size_weight` × the height and width cross-entropies (not the EFE loss:
its backward pass, step cost and calibration terms cost time and do not help fit one task).

Held-out selection: with >= 3 demos one demo (the caller's choice) is left out of the loss; every step's
forward also scores it, and the ε/adapter kept are those of the step with the best held-out accuracy
(ties keep the earlier step), so a fit that memorises the other demos is not preferred. With fewer demos
the step with the best accuracy on all demos is kept. Refinement stops early once every demo sample
(held-out one included) is reproduced exactly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from arc_efe.agent.output import AgentOutput
from arc_efe.data.augment import Augmentation
from arc_efe.data.batching import Batch, collate, make_sample
from arc_efe.data.task import Task
from arc_efe.objective.metrics import cell_accuracy, exact_match

logger = logging.getLogger(__name__)


@dataclass
class RefineConfig:
    """Refinement settings; the time limit comes from the solver's per-task budget."""

    max_steps: int = 100  # gradient updates at most
    prompt_lr: float = 3e-2  # Adam lr of the prompt offset ε (untuned)
    adapter_lr: float = 1e-2  # Adam lr of the adapter parameters (untuned)
    adapter: tuple[str, ...] = ("film", "heads")  # agent submodules tuned per task (empty: prompt only)
    augmentations: int = 4  # views of the demos per step (the solver's pool, identity first)
    min_steps: int = 3  # the solver uses only as many demo views as leave time for this many updates
    size_weight: float = 1.0
    holdout: bool = True  # leave one demo out of the loss to pick the step (tasks with >= 3 demos)

    def validate(self) -> None:
        if self.max_steps < 0:
            raise ValueError(f"refine.max_steps must be >= 0, got {self.max_steps}")
        if self.min_steps < 1:
            raise ValueError(f"refine.min_steps must be >= 1, got {self.min_steps}")
        if self.augmentations < 1:
            raise ValueError(f"refine.augmentations must be >= 1, got {self.augmentations}")
        for name in ("prompt_lr", "adapter_lr", "size_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"refine.{name} must be >= 0, got {getattr(self, name)}")


@dataclass
class DemoScore:
    """Accuracy over demo samples: fraction reproduced exactly and mean size-aware cell accuracy."""

    exact: float
    cell_accuracy: float


@dataclass
class RefineResult:
    offset: torch.Tensor  # [P] the kept ε
    steps: int  # gradient updates made
    best_step: int  # updates before the kept ε/adapter
    stopped: str  # "solved" | "budget" | "max_steps"
    before: DemoScore  # all demo samples, policy prompt, original adapter
    after: DemoScore  # all demo samples at the kept step
    holdout_before: DemoScore | None = None
    holdout_after: DemoScore | None = None
    history: list[float] = field(default_factory=list)  # demo loss per update


class TaskAdapter:
    """Context manager over the parameters of `names` (submodules of `agent`): inside, they train;
    on exit, their values and `requires_grad` are restored, whatever happened."""

    def __init__(self, agent: nn.Module, names: tuple[str, ...]):
        modules = dict(agent.named_children())
        unknown = [n for n in names if n not in modules]
        if unknown:
            raise ValueError(f"refine.adapter: no agent submodule {unknown}; known: {sorted(modules)}")
        self.params = [p for n in names for p in modules[n].parameters()]
        self._saved: list[torch.Tensor] = []
        self._flags: list[bool] = []

    def __enter__(self) -> TaskAdapter:
        self._saved = self.snapshot()
        self._flags = [p.requires_grad for p in self.params]
        for p in self.params:
            p.requires_grad_(True)
        return self

    def __exit__(self, *exc) -> None:
        self.load(self._saved)
        for p, flag in zip(self.params, self._flags):
            p.requires_grad_(flag)

    def snapshot(self) -> list[torch.Tensor]:
        return [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def load(self, values: list[torch.Tensor]) -> None:
        for p, v in zip(self.params, values):
            p.copy_(v)


def demo_batch(task: Task, augs: list[Augmentation]) -> tuple[Batch, torch.Tensor]:
    """Leave-one-out samples of every demo under every augmentation (augmentation-major) and each
    row's demo index [B]."""
    n = len(task.train)
    samples = [make_sample(task, i, aug) for aug in augs for i in range(n)]
    return collate(samples), torch.arange(n).repeat(len(augs))


@torch.no_grad()
def policy_prompts(system: nn.Module, contexts: list[list], stats: torch.Tensor) -> torch.Tensor:
    """p + δ [B, P] for contexts: the encoder's prompt plus the policy's deterministic proposal."""
    prompt = system.encoder(contexts)  # [B, P]
    return prompt + system.policy.sample(prompt, stats, deterministic=True).delta


def demo_loss(out: AgentOutput, batch: Batch, weight: torch.Tensor, size_weight: float) -> torch.Tensor:
    """Weighted mean over rows of (cell CE on valid target cells + size_weight × size CE), final step."""
    logits = out.cell_logits[:, -1].float()  # [B, 30, 30, 10]
    ce = F.cross_entropy(logits.permute(0, 3, 1, 2), batch.query_output, reduction="none")  # [B, 30, 30]
    mask = batch.query_output_mask.float()
    cell = (ce * mask).flatten(1).sum(1) / mask.flatten(1).sum(1).clamp(min=1)  # [B]
    labels = batch.output_size - 1  # [B, 2], class k = size k + 1
    size = (F.cross_entropy(out.height_logits[:, -1].float(), labels[:, 0], reduction="none")
            + F.cross_entropy(out.width_logits[:, -1].float(), labels[:, 1], reduction="none"))  # [B]
    return ((cell + size_weight * size) * weight).sum() / weight.sum().clamp(min=1e-9)


def _score(exact: torch.Tensor, acc: torch.Tensor, rows: torch.Tensor) -> DemoScore | None:
    if not bool(rows.any()):
        return None
    return DemoScore(float(exact[rows].float().mean()), float(acc[rows].mean()))


@torch.no_grad()
def _measure(out: AgentOutput, batch: Batch, held: torch.Tensor) -> tuple[DemoScore, DemoScore | None, tuple]:
    """Scores of all rows and of the held-out rows [B] bool, and the step's selection key."""
    grid, size = out.predict()
    exact = exact_match(grid, size, batch.query_output, batch.output_size)  # [B]
    acc = cell_accuracy(grid, size, batch.query_output, batch.output_size)  # [B]
    everything = _score(exact, acc, torch.ones_like(held))
    holdout = _score(exact, acc, held)
    fit = _score(exact, acc, ~held) or everything
    pick = holdout or everything
    return everything, holdout, (pick.exact, pick.cell_accuracy, fit.exact, fit.cell_accuracy)


class _Best:
    """The best step so far by (held-out exact, held-out cells, fit exact, fit cells); ties keep the first."""

    def __init__(self) -> None:
        self.key: tuple[float, ...] | None = None
        self.step = 0
        self.offset: torch.Tensor | None = None
        self.adapter: list[torch.Tensor] = []
        self.all: DemoScore | None = None
        self.holdout: DemoScore | None = None

    def offer(self, step: int, key: tuple[float, ...], offset: torch.Tensor, adapter: TaskAdapter,
              all_rows: DemoScore, holdout: DemoScore | None) -> None:
        if self.key is not None and key <= self.key:
            return
        self.key, self.step, self.all, self.holdout = key, step, all_rows, holdout
        self.offset = offset.detach().clone()
        self.adapter = adapter.snapshot()


def refine(
    system: nn.Module,
    batch: Batch,
    start: torch.Tensor,
    demo_index: torch.Tensor,
    adapter: TaskAdapter,
    cfg: RefineConfig,
    deadline: float,
    holdout: int | None = None,
) -> RefineResult:
    """Tune ε (and the adapter, inside its context) on `batch`, whose rows start from the prompts
    `start` [B, P] (`policy_prompts` of their contexts), until all demos are exact, `max_steps` updates,
    or `deadline` (a `time.perf_counter()` value) would be passed by one more update. On return the
    adapter holds the kept step's values. `holdout` is a demo index left out of the loss."""
    device = batch.query_input.device
    offset = torch.zeros(start.shape[1], device=device, requires_grad=True)
    groups = [{"params": [offset], "lr": cfg.prompt_lr}]
    if adapter.params:
        groups.append({"params": adapter.params, "lr": cfg.adapter_lr})
    optimizer = torch.optim.Adam(groups)
    held = (demo_index == (-1 if holdout is None else holdout)).to(device)  # [B] rows left out of the loss
    best, history = _Best(), []
    step_seconds: float | None = None
    stopped = "max_steps"
    for step in range(cfg.max_steps + 1):
        tick = time.perf_counter()
        out = system.agent(batch.query_input, batch.query_input_mask, start + offset)  # graph to ε, adapter
        scores, held_scores, key = _measure(out, batch, held)
        if step == 0:
            before = (scores, held_scores)
        best.offer(step, key, offset, adapter, scores, held_scores)
        if scores.exact == 1.0:
            stopped = "solved"
            break
        if step == cfg.max_steps:
            break
        # One more update is only worth it if its result can still be measured before the deadline.
        forward_seconds = time.perf_counter() - tick
        if time.perf_counter() + (step_seconds or 3 * forward_seconds) > deadline:
            stopped = "budget"
            break
        loss = demo_loss(out, batch, (~held).float(), cfg.size_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.append(float(loss.detach()))
        step_seconds = time.perf_counter() - tick
    adapter.load(best.adapter)
    logger.debug("refined %d steps (%s), kept step %d", len(history), stopped, best.step)
    return RefineResult(
        offset=best.offset, steps=len(history), best_step=best.step, stopped=stopped,
        before=before[0], after=best.all, holdout_before=before[1], holdout_after=best.holdout, history=history,
    )
