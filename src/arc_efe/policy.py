"""Refiner policy: a Gaussian policy over prompt offsets δ given the prompt p and demo statistics s.

The refined prompt is p' = p + δ. The action is squashed into a box of half-width a = action_scale:
    u ~ N(μ(p, s), σ²),   δ = a · tanh(u)        (tanh_squash=True)
    δ = a · u                                     (tanh_squash=False)
log_prob is the exact density of the returned δ (change of variables, Jacobian dδ/du = a(1 − tanh² u)):
    log π(δ) = Σ_i [log N(u_i; μ_i, σ_i) − log a − log(1 − tanh² u_i)]
entropy is the pre-squash Gaussian entropy plus the log-Jacobian at the sample, a one-sample
unbiased estimate of H(δ) = H(u) + E[Σ_i log(a(1 − tanh² u_i))]; its gradient acts through log σ.
log σ is state-independent and softly clamped to [min_log_std, max_log_std] by a sigmoid, so it
never sticks at a hard bound. The mean head starts at zero: an untrained refiner leaves p unchanged
on average. A value head gives the baseline for the policy-gradient loss.

The caller passes detached prompts and trains the policy only through the policy-gradient loss;
δ is returned detached (it is an action, not a reparameterised sample). Plain torch: no transformers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class PolicyConfig:
    """Network width, the log-std range and start, and the action box (tanh squash or none)."""

    hidden: int = 256
    init_log_std: float = -2.0
    min_log_std: float = -5.0
    max_log_std: float = 0.0
    action_scale: float = 0.5
    tanh_squash: bool = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the field out of range."""
        if self.hidden < 1:
            raise ValueError(f"PolicyConfig.hidden must be >= 1, got {self.hidden}")
        if not self.min_log_std < self.init_log_std < self.max_log_std:
            raise ValueError(f"PolicyConfig needs min_log_std < init_log_std < max_log_std, got "
                             f"{self.min_log_std}, {self.init_log_std}, {self.max_log_std}")
        if self.action_scale <= 0:
            raise ValueError(f"PolicyConfig.action_scale must be > 0, got {self.action_scale}")


@dataclass
class PolicySample:
    """delta [B, P] (detached action); log_prob, entropy and value [B] (with graph)."""

    delta: torch.Tensor
    log_prob: torch.Tensor
    entropy: torch.Tensor
    value: torch.Tensor


class RefinerPolicy(nn.Module):
    """π(δ | p, s): Gaussian over prompt offsets, with a value baseline."""

    def __init__(self, prompt_dim: int, stats_dim: int, cfg: PolicyConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or PolicyConfig()
        hidden = self.cfg.hidden
        # Separate norms: prompt and statistics have unrelated scales.
        self.prompt_norm = nn.LayerNorm(prompt_dim)
        self.stats_norm = nn.LayerNorm(stats_dim)
        self.trunk = nn.Sequential(
            nn.Linear(prompt_dim + stats_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU()
        )
        self.mean_head = nn.Linear(hidden, prompt_dim)
        nn.init.zeros_(self.mean_head.weight)
        nn.init.zeros_(self.mean_head.bias)
        self.value_head = nn.Linear(hidden, 1)
        lo, hi = self.cfg.min_log_std, self.cfg.max_log_std
        start = math.log((self.cfg.init_log_std - lo) / (hi - self.cfg.init_log_std))  # inverse of the sigmoid clamp
        self.raw_log_std = nn.Parameter(torch.full((prompt_dim,), start))

    def forward(self, prompt: torch.Tensor, stats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mean [B, P], log_std [B, P], value [B]) of the pre-squash Gaussian, in fp32.

        fp32 even under bf16 autocast: log π sums P per-dimension terms, and bf16 would make it noisy.
        """
        x = torch.cat([self.prompt_norm(prompt.float()), self.stats_norm(stats.float())], dim=-1)  # [B, P + S]
        h = self.trunk(x)
        lo, hi = self.cfg.min_log_std, self.cfg.max_log_std
        log_std = lo + (hi - lo) * torch.sigmoid(self.raw_log_std)  # [P]
        mean = self.mean_head(h).float()
        return mean, log_std.expand_as(mean), self.value_head(h).squeeze(-1).float()

    def _log_jacobian(self, u: torch.Tensor) -> torch.Tensor:
        """Σ_i log |dδ_i/du_i| [B]; log(1 − tanh² u) = 2(log 2 − u − softplus(−2u)) stays finite."""
        per_dim = torch.full_like(u, math.log(self.cfg.action_scale))
        if self.cfg.tanh_squash:
            per_dim = per_dim + 2 * (math.log(2.0) - u - F.softplus(-2 * u))
        return per_dim.sum(-1)

    def _log_prob_u(self, mean: torch.Tensor, log_std: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """log π(δ(u)) [B] at a fixed pre-squash action u."""
        z = (u - mean) * torch.exp(-log_std)
        gaussian = (-0.5 * z.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        return gaussian - self._log_jacobian(u)

    def _squash(self, u: torch.Tensor) -> torch.Tensor:
        return self.cfg.action_scale * (torch.tanh(u) if self.cfg.tanh_squash else u)

    def offset(self, prompt: torch.Tensor, stats: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """δ [B, P] for a given standard-normal `noise` [B, P] or [P] (zeros: the mode, as `deterministic`
        sampling gives): the same draw can then be applied to several prompts (a task's views)."""
        mean, log_std, _ = self(prompt, stats)
        return self._squash(mean + log_std.exp() * noise.to(mean))

    def sample(self, prompt: torch.Tensor, stats: torch.Tensor, deterministic: bool = False,
               generator: torch.Generator | None = None) -> PolicySample:
        """Draw δ (the mode's image when deterministic) with its log-prob, entropy and value."""
        mean, log_std, value = self(prompt, stats)
        noise = torch.zeros_like(mean) if deterministic else torch.randn(
            mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        # Detached: REINFORCE differentiates log π at a fixed action, not through the sample.
        u = (mean + log_std.exp() * noise).detach()
        gaussian_entropy = (0.5 + 0.5 * math.log(2 * math.pi) + log_std).sum(-1)
        return PolicySample(
            delta=self._squash(u),
            log_prob=self._log_prob_u(mean, log_std, u),
            entropy=gaussian_entropy + self._log_jacobian(u),
            value=value,
        )
