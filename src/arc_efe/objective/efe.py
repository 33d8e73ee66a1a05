"""EFE objective: the agent's Expected-Free-Energy training loss, one term per line of the table below.

Notation: sample b, planning step t = 1..T, valid target cell n ∈ M_b (the target mask), N_b = |M_b|,
colour k ∈ 0..9 (K = 10), target colour y_n, beliefs Q_t = softmax(cell_logits[:, t]), backward
beliefs Q←_t, halt logits h_t, confidence logits z_t, target size (H, W), sg[·] = stop-gradient.

Preference (label-smoothed target, ε = label_smoothing ∈ (0, 1]):
    C_n(k) = (1 − ε)·[k = y_n] + ε / K

Hard-cell weights are constants read off the final step's argmax ŷ_n = argmax_k Q_T,n(k):
    w_n = wrong_cell_weight (1.0) if ŷ_n ≠ y_n, else right_cell_weight (0.5)
and weighted cell means are normalised by the valid-cell COUNT, not by Σ w:
    ⟨x⟩_w = (1 / N_b) Σ_{n ∈ M_b} w_n x_n
Hard-cell note: with weights in [0.5, 1] each weighted term lies between 50 % and 100 % of its
unweighted value, so the loss never vanishes when every cell is right, while wrong cells count
double. Normalising by Σ w instead would cancel the weighting whenever all cells agree.

Terms, per sample, then averaged over the batch:
    risk_t         = ⟨KL(Q_t ‖ C)⟩_w,   KL(Q ‖ C) = Σ_k Q(k) (log Q(k) − log C(k))
    risk           = Σ_t risk_t
    ambiguity      = Σ_t ⟨H(Q_t)⟩_w,     H(Q) = −Σ_k Q(k) log Q(k)
    halting        π_t = σ(h_t) Π_{s<t} (1 − σ(h_s))  for t < T,   π_T = Π_{s<T} (1 − σ(h_s))
                   (so Σ_t π_t = 1: the last step takes the remainder)
    expected_steps = Σ_t π_t · t
    step           = Σ_t π_t · (sg[risk_t] + λ_step · t)
                   (expected per-step risk plus λ_step × expected steps; only halting learns from it,
                   so it learns to stop at the step whose beliefs are already good)
    consistency    = ⟨−log Q_T(y)⟩_w                      (final step, hard target)
    bidirectional  = Σ_t ⟨JS(Q_t ‖ Q←_t)⟩_w,  JS(P ‖ Q) = ½ KL(P ‖ M) + ½ KL(Q ‖ M),  M = ½ (P + Q)
                   (0 ≤ JS ≤ log 2; the term is 0 when no backward beliefs are given)
    anchor         = Σ_t (1 / N_b) Σ_{n ∈ M_b} BCE(z_t,n, sg[[argmax_k Q_t,n(k) = y_n]])
                   (unweighted: hard-cell weights would bias the confidence towards "wrong")
    size           = Σ_t CE(height_logits_t, H − 1) + CE(width_logits_t, W − 1)
                   (every step, so each planning step learns to read out the size)
    prompt         = 1 − cos(p_a, p_b), mean over the pair's rows (prompts of two disjoint demo
                   subsets of one task; 0 when no pair is given); with prompt_contrast, instead
                   ½ [CE(s, I) + CE(sᵀ, I)],  s_ij = cos(p_a,i, p_b,j) / prompt_temperature
                   (InfoNCE over the batch: each half must pick its own task's other half among
                   the other tasks' halves; the cosine alone is met by one prompt for every task)

Total:
    L = risk·w_risk + ambiguity·w_ambiguity + step·w_step + consistency·w_consistency
      + bidirectional·w_bidirectional + anchor·w_anchor + prompt·w_prompt + size_weight·size
where size_weight follows the warm-up curriculum `size_weight_at`: size_weight_warmup (0.6) while
epoch < size_warmup_epochs (1), then size_weight_after (0.3).

Logged with the terms: mask_ratio = Σ_b #wrong cells / Σ_b N_b (final-step argmax on the canvas,
over the batch), expected_steps (batch mean), cell_accuracy (batch mean of the size-aware
`metrics.cell_accuracy` of the final prediction: a wrong size scores 0).

All maths runs in fp32 with autocast off: the agent may run under bf16 autocast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

from arc_efe.agent.output import AgentOutput
from arc_efe.objective.metrics import cell_accuracy

# ARC colour count; the objective may not import arc_efe.data (ARCHITECTURE.md import rules).
NUM_COLORS = 10

_TERM_WEIGHTS = ("risk", "ambiguity", "step", "consistency", "bidirectional", "anchor", "prompt")


@dataclass
class EFEConfig:
    """Term weights, preference smoothing, hard-cell weights and the size warm-up schedule."""

    risk: float = 1.0
    ambiguity: float = 0.0
    step: float = 1.0
    lambda_step: float = 0.01
    consistency: float = 1.0
    bidirectional: float = 0.1
    anchor: float = 0.1
    prompt: float = 0.1
    prompt_contrast: bool = False
    prompt_temperature: float = 0.1
    label_smoothing: float = 0.1
    wrong_cell_weight: float = 1.0
    right_cell_weight: float = 0.5
    size_warmup_epochs: float = 1.0
    size_weight_warmup: float = 0.6
    size_weight_after: float = 0.3

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first field out of range."""
        if not isinstance(self.prompt_contrast, bool):
            raise ValueError(f"EFEConfig.prompt_contrast must be a bool, got {self.prompt_contrast!r}")
        if self.prompt_temperature <= 0:
            raise ValueError(f"EFEConfig.prompt_temperature must be > 0, got {self.prompt_temperature}")
        for f in fields(self):
            if f.name != "prompt_contrast" and getattr(self, f.name) < 0:
                raise ValueError(f"EFEConfig.{f.name} must be >= 0, got {getattr(self, f.name)}")
        # ε = 0 makes log C = −inf off the target colour, so KL(Q ‖ C) would be infinite.
        if not 0 < self.label_smoothing <= 1:
            raise ValueError(f"EFEConfig.label_smoothing must be in (0, 1], got {self.label_smoothing}")


def size_weight_at(epoch: float, cfg: EFEConfig) -> float:
    """Size-loss weight of the warm-up curriculum at a (fractional) epoch."""
    return cfg.size_weight_warmup if epoch < cfg.size_warmup_epochs else cfg.size_weight_after


def _desc(name: str, t: torch.Tensor) -> str:
    return f"{name} shape {tuple(t.shape)} dtype {t.dtype}"


def _check_inputs(
    out: AgentOutput,
    target: torch.Tensor,
    target_mask: torch.Tensor,
    target_size: torch.Tensor,
    backward_logits: torch.Tensor | None,
    prompt_pair: tuple[torch.Tensor, torch.Tensor] | None,
) -> None:
    """Fail loudly, naming both sides, on any shape/dtype mismatch (the prototype's '7 vs 10' crash)."""
    logits = out.cell_logits
    both = f"{_desc('target', target)} vs {_desc('cell_logits', logits)}"
    if logits.dim() != 5 or logits.shape[-1] != NUM_COLORS:
        raise ValueError(f"cell_logits must be [B, T, S, S, {NUM_COLORS}] (colour last); got {both}")
    if target.dtype != torch.long:
        raise ValueError(f"target must be a long tensor of colour indices, not {target.dtype}; got {both}")
    b, t, h, w = logits.shape[:4]
    if tuple(target.shape) != (b, h, w):
        raise ValueError(f"target must be [B, H, W] = {(b, h, w)} to match cell_logits; got {both}")
    if target_mask.shape != target.shape or target_mask.dtype != torch.bool:
        raise ValueError(f"target_mask must be bool {tuple(target.shape)}; got {_desc('target_mask', target_mask)} "
                         f"vs {_desc('target', target)}")
    sizes = out.height_logits.shape[-1]
    expected = {"height_logits": (b, t, sizes), "width_logits": (b, t, sizes),
                "halt_logits": (b, t), "confidence_logits": (b, t, h, w)}
    for name, shape in expected.items():
        got = getattr(out, name)
        if tuple(got.shape) != shape:
            raise ValueError(f"{name} must be {shape} to match cell_logits; got {_desc(name, got)} vs "
                             f"{_desc('cell_logits', logits)}")
    if tuple(target_size.shape) != (b, 2) or target_size.dtype != torch.long:
        raise ValueError(f"target_size must be long [B, 2] = {(b, 2)}; got {_desc('target_size', target_size)} "
                         f"vs {_desc('target', target)}")
    valid = target[target_mask]
    if valid.numel() and (valid.min() < 0 or valid.max() >= NUM_COLORS):
        raise ValueError(f"target colours on valid cells must be in 0..{NUM_COLORS - 1}; got values "
                         f"{valid.min().item()}..{valid.max().item()} in {_desc('target', target)}")
    if target_size.numel() and (target_size.min() < 1 or target_size.max() > sizes):
        raise ValueError(f"target_size values must be in 1..{sizes}; got {target_size.tolist()}")
    if backward_logits is not None and backward_logits.shape != logits.shape:
        raise ValueError(f"backward_logits must match cell_logits; got {_desc('backward_logits', backward_logits)} "
                         f"vs {_desc('cell_logits', logits)}")
    if prompt_pair is not None:
        a, p = prompt_pair
        if a.dim() != 2 or a.shape != p.shape:
            raise ValueError(f"prompt_pair must be two [N, P] tensors of one shape; got {_desc('first', a)} "
                             f"vs {_desc('second', p)}")


def kl_to_preference(log_q: torch.Tensor, target: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    """Per-cell KL(Q ‖ C) [..., H, W] for beliefs log_q [..., H, W, K] and targets broadcastable to it.

    Σ_k Q log C only needs Q(y): C is log(1 − ε + ε/K) on y and log(ε/K) elsewhere.
    """
    q = log_q.exp()
    neg_entropy = (q * log_q).sum(-1)
    index = target.unsqueeze(-1).expand(*log_q.shape[:-1], 1)
    q_y = q.gather(-1, index).squeeze(-1)
    k = log_q.shape[-1]
    cross = q_y * math.log(1 - label_smoothing + label_smoothing / k) + (1 - q_y) * math.log(label_smoothing / k)
    return neg_entropy - cross


def js_divergence(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """Jensen–Shannon divergence over the last dim of two log-distributions: symmetric, in [0, log 2]."""
    log_m = torch.logaddexp(log_p, log_q) - math.log(2.0)
    kl_pm = (log_p.exp() * (log_p - log_m)).sum(-1)
    kl_qm = (log_q.exp() * (log_q - log_m)).sum(-1)
    return 0.5 * (kl_pm + kl_qm)


def prompt_term(a: torch.Tensor, b: torch.Tensor, cfg: EFEConfig) -> torch.Tensor:
    """Agreement of two prompts [N, P] of each task's disjoint demo halves (see the module docstring)."""
    if not cfg.prompt_contrast:
        return (1 - F.cosine_similarity(a, b, dim=-1)).mean()
    scores = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T / cfg.prompt_temperature  # [N, N]
    own = torch.arange(len(a), device=a.device)
    return (F.cross_entropy(scores, own) + F.cross_entropy(scores.T, own)) / 2


def halting_distribution(halt_logits: torch.Tensor) -> torch.Tensor:
    """π [B, T] from halt logits [B, T]; computed in log space, the last step takes the remainder."""
    log_continue = F.logsigmoid(-halt_logits)  # log(1 − σ(h_s))
    survive = torch.cumsum(log_continue, dim=1) - log_continue  # Σ_{s<t}: exclusive cumsum [B, T]
    log_pi = torch.cat([survive[:, :-1] + F.logsigmoid(halt_logits[:, :-1]), survive[:, -1:]], dim=1)
    return log_pi.exp()


def _cell_terms(out: AgentOutput, target: torch.Tensor, target_mask: torch.Tensor, cfg: EFEConfig,
                backward_logits: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """Per-sample cell terms: risk_t [B, T]; ambiguity, consistency, bidirectional, anchor [B]; and
    "wrong", the batch's count of valid cells the final step gets wrong (for mask_ratio)."""
    log_q = F.log_softmax(out.cell_logits.float(), dim=-1)  # [B, T, H, W, K]
    steps = log_q.shape[1]
    mask = target_mask.float()  # [B, H, W]
    count = mask.flatten(1).sum(1).clamp(min=1)[:, None]  # [B, 1]; an empty mask contributes 0
    target_t = target[:, None].expand(-1, steps, -1, -1)  # [B, T, H, W]
    correct = log_q.argmax(-1) == target_t  # [B, T, H, W], no grad
    wrong_final = ~correct[:, -1] & target_mask
    weight = torch.where(wrong_final, cfg.wrong_cell_weight, cfg.right_cell_weight) * mask  # constants

    def weighted_mean(x: torch.Tensor) -> torch.Tensor:  # [B, T', H, W] -> [B, T']
        return (x * weight[:, None]).flatten(2).sum(-1) / count

    entropy = -(log_q.exp() * log_q).sum(-1)  # [B, T, H, W]
    consistency = -log_q[:, -1].gather(-1, target[..., None]).squeeze(-1)  # [B, H, W]
    bidirectional = torch.zeros_like(count[:, 0])
    if backward_logits is not None:
        js = js_divergence(log_q, F.log_softmax(backward_logits.float(), dim=-1))  # [B, T, H, W]
        bidirectional = weighted_mean(js).sum(1)
    bce = F.binary_cross_entropy_with_logits(out.confidence_logits.float(), correct.float(), reduction="none")
    return {
        "risk_t": weighted_mean(kl_to_preference(log_q, target_t, cfg.label_smoothing)),
        "ambiguity": weighted_mean(entropy).sum(1),
        "consistency": weighted_mean(consistency[:, None])[:, 0],
        "bidirectional": bidirectional,
        "anchor": ((bce * mask[:, None]).flatten(2).sum(-1) / count).sum(1),
        "wrong": wrong_final.sum(),
    }


def _size_loss(out: AgentOutput, target_size: torch.Tensor) -> torch.Tensor:
    """Σ_t CE(height_t, H − 1) + CE(width_t, W − 1) per sample [B]."""
    b, t, sizes = out.height_logits.shape
    labels = (target_size - 1)[:, None, :].expand(b, t, 2)  # [B, T, 2] class k = size k + 1
    ce = [F.cross_entropy(logits.float().reshape(b * t, sizes), labels[..., i].reshape(b * t), reduction="none")
          for i, logits in enumerate((out.height_logits, out.width_logits))]
    return (ce[0] + ce[1]).view(b, t).sum(1)


def efe_loss(
    out: AgentOutput,
    target: torch.Tensor,
    target_mask: torch.Tensor,
    target_size: torch.Tensor,
    cfg: EFEConfig,
    size_weight: float,
    backward_logits: torch.Tensor | None = None,
    prompt_pair: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Total EFE loss (scalar, with graph) and every term as a detached scalar for logging.

    target [B, S, S] long, target_mask [B, S, S] bool (S ≤ 30, the batch's canvas), target_size [B, 2] long
    (height, width); backward_logits [B, T, S, S, 10] enables the bidirectional term, prompt_pair ([N, P], [N, P])
    the prompt-consistency term. Raises ValueError naming both sides on any shape/dtype mismatch.
    """
    _check_inputs(out, target, target_mask, target_size, backward_logits, prompt_pair)
    with torch.autocast(device_type=out.cell_logits.device.type, enabled=False):
        # Padding may hold any value; gathers need a legal colour there (those cells weigh 0).
        safe_target = target.masked_fill(~target_mask, 0)
        cell = _cell_terms(out, safe_target, target_mask, cfg, backward_logits)
        pi = halting_distribution(out.halt_logits.float())  # [B, T]
        step_index = torch.arange(1, pi.shape[1] + 1, device=pi.device, dtype=pi.dtype)  # [T]
        per_sample = {
            "risk": cell["risk_t"].sum(1),
            "ambiguity": cell["ambiguity"],
            "step": (pi * (cell["risk_t"].detach() + cfg.lambda_step * step_index)).sum(1),
            "consistency": cell["consistency"],
            "bidirectional": cell["bidirectional"],
            "anchor": cell["anchor"],
            "size": _size_loss(out, target_size),
        }
        terms = {name: value.mean() for name, value in per_sample.items()}
        if prompt_pair is None:
            terms["prompt"] = torch.zeros((), device=pi.device)
        else:
            terms["prompt"] = prompt_term(prompt_pair[0].float(), prompt_pair[1].float(), cfg)
        loss = sum(getattr(cfg, name) * terms[name] for name in _TERM_WEIGHTS) + size_weight * terms["size"]
    logged = {name: value.detach() for name, value in terms.items()}
    logged["loss"] = loss.detach()
    logged["expected_steps"] = (pi * step_index).sum(1).mean().detach()
    logged["mask_ratio"] = cell["wrong"].float() / target_mask.sum().clamp(min=1)
    logged["cell_accuracy"] = cell_accuracy(*out.predict(), target, target_size).mean()
    return loss, logged
