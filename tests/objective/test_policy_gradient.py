import pytest
import torch

from arc_efe.objective.policy_gradient import PGConfig, policy_gradient_loss


def inputs():
    log_prob = torch.tensor([-1.0, -2.0, -0.5], requires_grad=True)
    reward = torch.tensor([1.0, -0.5, 2.0])
    value = torch.tensor([0.5, 0.0, 1.0], requires_grad=True)
    entropy = torch.tensor([0.3, 0.1, 0.2], requires_grad=True)
    return log_prob, reward, value, entropy


def test_loss_matches_hand_computation():
    log_prob, reward, value, entropy = inputs()
    cfg = PGConfig(entropy_coef=0.1, value_coef=0.5)
    loss, terms = policy_gradient_loss(log_prob, reward, value, entropy, cfg)
    advantage = [0.5, -0.5, 1.0]
    policy = -sum(a * lp for a, lp in zip(advantage, [-1.0, -2.0, -0.5])) / 3
    value_loss = (0.25 + 0.25 + 1.0) / 3
    assert terms["policy_loss"].item() == pytest.approx(policy)
    assert terms["value_loss"].item() == pytest.approx(value_loss)
    assert loss.item() == pytest.approx(policy + 0.5 * value_loss - 0.1 * 0.2)
    assert not terms["loss"].requires_grad


def test_gradients_baseline_is_detached_in_the_advantage():
    log_prob, reward, value, entropy = inputs()
    cfg = PGConfig(entropy_coef=0.1, value_coef=0.5)
    loss, _ = policy_gradient_loss(log_prob, reward, value, entropy, cfg)
    loss.backward()
    advantage = reward - value.detach()
    assert torch.allclose(log_prob.grad, -advantage / 3)
    # Only the MSE reaches the value: d/dV 0.5 · mean((V − r)²) = (V − r) / 3.
    assert torch.allclose(value.grad, (value.detach() - reward) / 3)
    assert torch.allclose(entropy.grad, torch.full((3,), -0.1 / 3))


def test_normalized_advantage_has_zero_mean():
    log_prob, reward, value, entropy = inputs()
    _, plain = policy_gradient_loss(log_prob, reward, value, entropy, PGConfig())
    _, normed = policy_gradient_loss(log_prob, reward, value, entropy, PGConfig(normalize_advantage=True))
    assert plain["advantage"].item() == pytest.approx(1 / 3)
    assert normed["advantage"].abs() < 1e-6


def test_mismatched_shapes_raise():
    log_prob, reward, value, entropy = inputs()
    with pytest.raises(ValueError, match="reward"):
        policy_gradient_loss(log_prob, reward[:2], value, entropy, PGConfig())
    with pytest.raises(ValueError, match="one shape"):
        policy_gradient_loss(log_prob[:, None], reward[:, None], value[:, None], entropy[:, None], PGConfig())


def test_negative_coefficient_rejected():
    with pytest.raises(ValueError, match="value_coef"):
        PGConfig(value_coef=-1.0)
