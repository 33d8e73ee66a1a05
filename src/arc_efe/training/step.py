"""One training step: prompt (encoder or cache) -> policy -> agent -> EFE + policy-gradient loss -> update.

`train_step` does no logging and no checkpointing; it returns the numbers the loop logs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable

import torch

from arc_efe.data.batching import Batch
from arc_efe.training.prompt_cache import PromptCache
from arc_efe.objective.efe import efe_loss, size_weight_at
from arc_efe.objective.metrics import cell_accuracy, refinement_reward
from arc_efe.objective.policy_gradient import policy_gradient_loss
from arc_efe.training.config import TrainConfig


@dataclass
class StepResult:
    loss: float  # total: EFE + policy gradient (the policy's loss only moves the policy's parameters)
    efe: float  # the EFE objective: what trains the encoder and the agent
    terms: dict[str, float]
    grad_norms: dict[str, float]  # per parameter group, before clipping; "encoder" is Qwen_grad
    reward: float
    acc_before: float
    acc_after: float
    refreshed: bool  # the encoder ran (and got gradients) this step
    skipped: bool = False  # non-finite loss: no update was made


def batch_keys(batch: Batch) -> list[Hashable]:
    """Prompt-cache keys: a prompt depends on the task, its augmentation and which demos are context."""
    return [(tid, aug, len(ctx)) for tid, aug, ctx in zip(batch.task_ids, batch.aug_ids, batch.contexts)]


def cached_prompts(cache: PromptCache, keys: list[Hashable], step: int) -> torch.Tensor | None:
    """The batch's cached prompts [B, P] if every key is fresh, else None (the encoder runs)."""
    found = [cache.lookup(key, step) for key in keys]
    if any(p is None for p in found):
        return None
    return torch.stack(found)


def group_grad_norms(groups: dict[str, list[torch.nn.Parameter]]) -> dict[str, torch.Tensor]:
    """L2 norm of the gradients of each named parameter group (0 where nothing has a gradient)."""
    norms = {}
    for name, params in groups.items():
        grads = [p.grad.detach().float().norm() for p in params if p.grad is not None]
        norms[name] = torch.stack(grads).norm() if grads else torch.zeros(())
    return norms


def clip_groups(groups: dict[str, list[torch.nn.Parameter]], max_norm: float) -> None:
    """Clip each group on its own: the policy-gradient loss sums log-densities over P prompt dims, so its
    gradient is orders of magnitude larger, and one joint clip would starve the agent and the encoder."""
    for params in groups.values():
        torch.nn.utils.clip_grad_norm_(params, max_norm)


def train_step(system, batch: Batch, optimizer, scheduler, accelerator, cache: PromptCache,
               groups: dict[str, list[torch.nn.Parameter]], step: int, epoch: float,
               cfg: TrainConfig) -> StepResult:
    """Forward, objective, backward, clip, step. `system` may be DDP-wrapped; `groups` name its params."""
    keys = batch_keys(batch)
    cached = cached_prompts(cache, keys, step)
    with accelerator.autocast():
        out = system(batch, cached_prompt=cached, with_prompt_pair=cfg.prompt_consistency)
        efe, terms = efe_loss(out.after, batch.query_output, batch.query_output_mask, batch.output_size,
                              cfg.efe, size_weight_at(epoch, cfg.efe), out.backward_logits, out.prompt_pair)
        target = (batch.query_output, batch.output_size)
        acc_before = cell_accuracy(*out.before.predict(), *target)
        acc_after = cell_accuracy(*out.after.predict(), *target)
        reward = refinement_reward(acc_before, acc_after)
        pg, pg_terms = policy_gradient_loss(out.policy.log_prob, reward, out.policy.value, out.policy.entropy, cfg.pg)
        loss = efe + pg

    finite = torch.isfinite(loss.detach()).float()
    if accelerator.num_processes > 1:  # every rank must agree to skip, or DDP would hang in backward
        finite = accelerator.reduce(finite, reduction="min")
    if finite.item() < 1.0:
        # Nothing is cached either: a NaN prompt would otherwise spoil every step of its window.
        optimizer.zero_grad(set_to_none=True)
        return StepResult(math.nan, math.nan, {}, {}, 0.0, 0.0, 0.0, cached is None, skipped=True)
    if cached is None:
        for key, prompt in zip(keys, out.prompt):
            cache.store(key, prompt, step)

    accelerator.backward(loss)
    accelerator.unscale_gradients()  # fp16: drop the GradScaler factor before measuring and clipping
    norms = group_grad_norms(groups)
    clip_groups(groups, cfg.optim.grad_clip)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)

    values = torch.stack([loss.detach().float(), efe.detach().float(), reward.mean().float(),
                          acc_before.mean().float(), acc_after.mean().float()]).tolist()  # one host sync
    return StepResult(
        loss=values[0], efe=values[1],
        terms={**{k: float(v) for k, v in terms.items()}, **{f"pg_{k}": float(v) for k, v in pg_terms.items()}},
        grad_norms={k: float(v) for k, v in norms.items()},
        reward=values[2], acc_before=values[3], acc_after=values[4], refreshed=cached is None,
    )
