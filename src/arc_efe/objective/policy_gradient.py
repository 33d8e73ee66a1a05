"""Policy-gradient loss of the refiner: REINFORCE with a learned baseline and an entropy bonus.

For one batch of actions with log-probabilities log π(δ_b), rewards r_b, baseline values V_b and
entropies H_b:
    A_b  = r_b − sg[V_b]                  (optionally normalised to zero mean, unit std over the batch)
    L    = −mean_b(A_b · log π(δ_b)) + value_coef · mean_b((V_b − r_b)²) − entropy_coef · mean_b(H_b)
The baseline lowers the variance without biasing the gradient because it is detached in A.
Pure: it takes tensors and never calls the agent or the policy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class PGConfig:
    entropy_coef: float = 0.01
    value_coef: float = 0.5
    normalize_advantage: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the coefficient out of range."""
        for name in ("entropy_coef", "value_coef"):
            if getattr(self, name) < 0:
                raise ValueError(f"PGConfig.{name} must be >= 0, got {getattr(self, name)}")


def policy_gradient_loss(
    log_prob: torch.Tensor,
    reward: torch.Tensor,
    value: torch.Tensor,
    entropy: torch.Tensor,
    cfg: PGConfig,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Loss (scalar, with graph) and detached terms; every input is [B]."""
    shapes = {name: tuple(t.shape) for name, t in
              (("log_prob", log_prob), ("reward", reward), ("value", value), ("entropy", entropy))}
    if len(set(shapes.values())) != 1 or log_prob.dim() != 1:
        raise ValueError(f"policy_gradient_loss needs four [B] tensors of one shape; got {shapes}")
    # The reward is a measurement, not a function of the policy: never backpropagate into it.
    reward = reward.detach().float()
    advantage = reward - value.detach().float()
    if cfg.normalize_advantage and advantage.numel() > 1:
        advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
    policy_loss = -(advantage * log_prob.float()).mean()
    value_loss = F.mse_loss(value.float(), reward)
    entropy_mean = entropy.float().mean()
    loss = policy_loss + cfg.value_coef * value_loss - cfg.entropy_coef * entropy_mean
    terms = {
        "loss": loss, "policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy_mean,
        "advantage": advantage.mean(), "reward": reward.mean(),
    }
    return loss, {name: t.detach() for name, t in terms.items()}
