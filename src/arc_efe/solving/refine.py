"""Per-task refinement at solve time: gradient steps on a prompt offset and an agent adapter against
the task's own demonstrations under augmentations, within a deadline (test-time training).

What is tuned: one offset ε [P] shared by every prompt of the task, so the refined prompt of a sample is
p' = p + δ + ε, where p is the encoder's prompt of the sample's context and δ the policy's deterministic
proposal (its mean) for it; and a per-task adapter: the parameters of named agent submodules (default the
whole agent), tuned with ε and restored by `TaskAdapter` when the task is done.

Against what: a pool of leave-one-out samples (each demo the query, the other demos the context, as in
training) under several views (D8 × colour permutations, identity first). Each update draws
`rows_per_step` rows of the pool at random, so the fit sees many views cheaply and cannot simply memorise
the un-augmented demos. Loss: cross-entropy of the final planning step's cell logits on the valid target
cells plus `size_weight` × the height and width cross-entropies (not the EFE loss: its backward pass,
step cost and calibration terms cost time and do not help fit one task).

Checks and selection: every `check_every` updates every pool row is predicted without a graph (about the
cost of one update). With >= 3 demos one demo (the caller's choice) is held out of every update, and the
ε/adapter kept are those of the check with the best held-out accuracy over its views (ties keep the
earlier check), so a fit that memorises the other demos is not preferred. With fewer demos the check with
the best accuracy on all rows is kept. Refinement stops early once every row (held-out demo included) is
exact in every view: the un-augmented demos alone are often reproduced by a fit that has not learnt the
rule (seen: a recolouring task fitted on its two demos that kept the demos' colours on the test).
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

    max_steps: int = 1000  # gradient updates at most
    prompt_lr: float = 3e-2  # Adam lr of the prompt offset ε
    adapter_lr: float = 3e-3  # Adam lr of the adapter parameters
    adapter: tuple[str, ...] = ("embed", "film", "blocks", "heads")  # agent submodules tuned per task
    augmentations: int = 8  # views of the demos in the pool (the solver's views, identity first)
    rows_per_step: int = 8  # pool rows per update, drawn at random (0: every row)
    check_every: int = 5  # updates between checks of every pool row (selection, early stop)
    min_steps: int = 3  # the solver encodes only as many demo views as leave time for this many updates
    size_weight: float = 1.0
    holdout: bool = True  # leave one demo out of the updates to pick the check (tasks with >= 3 demos)

    def validate(self) -> None:
        for name in ("max_steps", "rows_per_step"):
            if getattr(self, name) < 0:
                raise ValueError(f"refine.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("min_steps", "augmentations", "check_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"refine.{name} must be >= 1, got {getattr(self, name)}")
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
    seed: int = 0,
) -> RefineResult:
    """Tune ε (and the adapter, inside its context) on `batch` (`demo_batch` rows), whose rows start from the prompts `start` [B, P] (`policy_prompts` of their contexts), until every demo
    is exact, `max_steps` updates, or `deadline` (a `time.perf_counter()` value) would be passed by one
    more update and its check. On return the adapter holds the kept check's values. `holdout` is a demo
    index left out of the updates; `seed` draws the rows of each update."""
    device = batch.query_input.device
    offset = torch.zeros(start.shape[1], device=device, requires_grad=True)
    groups = [{"params": [offset], "lr": cfg.prompt_lr}]
    if adapter.params:
        groups.append({"params": adapter.params, "lr": cfg.adapter_lr})
    optimizer = torch.optim.Adam(groups)
    generator = torch.Generator().manual_seed(seed)
    held = (demo_index == (-1 if holdout is None else holdout)).to(device)  # [B] rows left out of updates
    trainable = torch.nonzero(~held).flatten().cpu()  # the rows updates draw from
    best, history = _Best(), []
    update_seconds, check_seconds = 0.0, 0.0
    stopped, before, checked_at = "max_steps", None, -1

    def check(step: int) -> bool:
        """Score every pool row at `step`, offer the result as the best; True when all rows are exact."""
        nonlocal before, check_seconds, checked_at
        tick = time.perf_counter()
        with torch.no_grad():
            out = system.agent(batch.query_input, batch.query_input_mask, start + offset)
        scores, held_scores, key = _measure(out, batch, held)
        before = before or (scores, held_scores)
        best.offer(step, key, offset, adapter, scores, held_scores)
        check_seconds = max(check_seconds, time.perf_counter() - tick)
        checked_at = step
        return scores.exact == 1.0

    for step in range(cfg.max_steps + 1):
        if step % cfg.check_every == 0 and check(step):
            stopped = "solved"
            break
        if step == cfg.max_steps:
            break
        # One more update is only worth it if it and its check still fit before the deadline.
        estimate = update_seconds or 3 * check_seconds
        if time.perf_counter() + estimate + check_seconds > deadline:
            stopped = "budget"
            break
        tick = time.perf_counter()
        rows = trainable
        if 0 < cfg.rows_per_step < len(trainable):
            rows = trainable[torch.randperm(len(trainable), generator=generator)[: cfg.rows_per_step]]
        part = batch.select(rows)
        out = system.agent(part.query_input, part.query_input_mask, start[rows.to(device)] + offset)
        loss = demo_loss(out, part, torch.ones(len(rows), device=device), cfg.size_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.append(float(loss.detach()))
        update_seconds = max(update_seconds, time.perf_counter() - tick)
    if checked_at != len(history) and stopped != "solved":
        check(len(history))  # the last updates' result (its time was kept free)
    adapter.load(best.adapter)
    logger.debug("refined %d steps (%s), kept step %d", len(history), stopped, best.step)
    return RefineResult(
        offset=best.offset, steps=len(history), best_step=best.step, stopped=stopped,
        before=before[0], after=best.all, holdout_before=before[1], holdout_after=best.holdout, history=history,
    )
