"""StepProbe: watches one real training step through hooks and records what the checks need.

Hooks only read, with one exception: the agent's prompt argument is replaced by an identity view of
itself (or, when it carries no graph, by a detached copy that requires grad) so that d loss / d prompt
can be measured on the agent's own input. Forward values and every parameter gradient are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class GradInfo:
    """A parameter's gradient as it was accumulated in backward (unscaled when a GradScaler runs)."""

    norm: float
    dtype: torch.dtype
    device: torch.device


@dataclass
class StepRecord:
    """What one training step showed the probe."""

    encoder_modes: list[tuple[bool, bool]] = field(default_factory=list)  # (grad on, inference mode) per call
    eval_modules: list[str] | None = None  # encoder submodules holding a trainable weight not in train mode
    encoder_outputs: list[torch.Tensor] = field(default_factory=list)  # detached, one per encoder call
    agent_grad_modes: list[bool] = field(default_factory=list)  # grad mode at each agent forward
    prompt_requires_grad: bool | None = None  # the prompt of the agent's last grad-enabled forward
    reachable: set[int] = field(default_factory=set)  # ids of leaves its autograd graph reaches
    prompt_grad_norm: float | None = None  # ||d loss / d prompt|| at that forward
    prompt_dtype: torch.dtype | None = None
    cell_logits: tuple[torch.dtype, torch.device] | None = None  # of the agent's last forward
    cached_prompt: torch.Tensor | None = None  # the `cached_prompt` the system was given
    grads: dict[str, GradInfo] = field(default_factory=dict)  # by parameter name


def reachable_leaves(tensor: torch.Tensor) -> set[int]:
    """ids of the leaf tensors (parameters) that `tensor`'s autograd graph leads back to."""
    found: set[int] = set()
    seen = set()
    stack = [tensor.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)  # AccumulateGrad nodes hold their leaf
        if variable is not None:
            found.add(id(variable))
        stack.extend(fn for fn, _ in node.next_functions)
    return found


def _prompt_arg(args: tuple, kwargs: dict) -> torch.Tensor:
    return args[2] if len(args) > 2 else kwargs["prompt"]


def _with_prompt(args: tuple, kwargs: dict, prompt: torch.Tensor) -> tuple[tuple, dict]:
    if len(args) > 2:
        return (*args[:2], prompt, *args[3:]), kwargs
    return args, {**kwargs, "prompt": prompt}


class StepProbe:
    """Hooks on `system` (an unwrapped ArcSystem); `begin()` starts a fresh StepRecord.

    `grad_scale` returns the loss scale of the coming backward (1.0 without a GradScaler), so recorded
    gradient norms are the true ones.
    """

    def __init__(self, system: nn.Module, grad_scale: Callable[[], float]):
        self.system = system
        self.grad_scale = grad_scale
        self.record = StepRecord()
        self._scale = 1.0
        self._handles: list = []
        encoder, agent = system.encoder, system.agent
        # The LLM and the projection run inside the encoder's forward: hooks there see the grad mode the
        # forward body really runs under, even when `forward` itself has been wrapped.
        for inner in (encoder.llm, encoder.projection):
            self._handles.append(inner.register_forward_pre_hook(self._encoder_inner))
        self._handles.append(encoder.register_forward_hook(self._encoder_out))
        # prepend: see the prompt exactly as ArcSystem passed it, before any other pre-hook.
        self._handles.append(agent.register_forward_pre_hook(self._agent_in, with_kwargs=True, prepend=True))
        self._handles.append(agent.register_forward_hook(self._agent_out))
        self._handles.append(system.register_forward_pre_hook(self._system_in, with_kwargs=True))
        for name, param in system.named_parameters():
            if param.requires_grad:
                self._handles.append(param.register_post_accumulate_grad_hook(self._grad_hook(name)))

    def begin(self) -> StepRecord:
        self.record = StepRecord()
        self._scale = self.grad_scale()
        return self.record

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __enter__(self) -> StepProbe:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _encoder_inner(self, module: nn.Module, args: tuple) -> None:
        rec = self.record
        rec.encoder_modes.append((torch.is_grad_enabled(), torch.is_inference_mode_enabled()))
        if rec.eval_modules is None:
            named = self.system.encoder.named_modules(prefix="encoder")
            # A submodule with no trainable weight beneath it (a frozen LLM) may be in either mode.
            rec.eval_modules = [name for name, m in named
                                if not m.training and any(p.requires_grad for p in m.parameters())]

    def _encoder_out(self, module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        self.record.encoder_outputs.append(output.detach().clone())

    def _agent_in(self, module: nn.Module, args: tuple, kwargs: dict):
        rec = self.record
        rec.agent_grad_modes.append(torch.is_grad_enabled())
        if not torch.is_grad_enabled():
            return None  # ArcSystem's graph-free pass for acc_before
        prompt = _prompt_arg(args, kwargs)
        rec.prompt_requires_grad = prompt.requires_grad
        rec.prompt_dtype = prompt.dtype
        rec.reachable = reachable_leaves(prompt) if prompt.requires_grad else set()
        probe = prompt.view_as(prompt) if prompt.requires_grad else prompt.detach().requires_grad_()
        rec.prompt_grad_norm = 0.0  # stays 0 when no gradient reaches the prompt

        def grad_hook(grad: torch.Tensor) -> None:
            rec.prompt_grad_norm = grad.detach().float().norm().item() / self._scale

        probe.register_hook(grad_hook)
        return _with_prompt(args, kwargs, probe)

    def _agent_out(self, module: nn.Module, args: tuple, output) -> None:
        self.record.cell_logits = (output.cell_logits.dtype, output.cell_logits.device)

    def _system_in(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        cached = kwargs.get("cached_prompt", args[1] if len(args) > 1 else None)
        self.record.cached_prompt = cached  # a fresh stack of the cache's entries; kept as given

    def _grad_hook(self, name: str) -> Callable[[torch.Tensor], None]:
        def hook(param: torch.Tensor) -> None:
            grad = param.grad
            norm = grad.detach().float().norm().item() / self._scale
            self.record.grads[name] = GradInfo(norm, grad.dtype, grad.device)

        return hook
