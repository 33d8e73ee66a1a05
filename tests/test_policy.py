import math

import pytest
import torch
from torch.distributions import AffineTransform, Independent, Normal, TanhTransform, TransformedDistribution

from arc_efe.policy import PolicyConfig, RefinerPolicy
from arc_efe.objective.policy_gradient import PGConfig, policy_gradient_loss

P, S, B = 6, 3, 5


def policy(**cfg) -> RefinerPolicy:
    net = RefinerPolicy(P, S, PolicyConfig(hidden=16, **cfg))
    with torch.no_grad():  # move the mean off zero so the tanh Jacobian matters
        net.mean_head.bias.copy_(torch.linspace(-1.5, 1.5, P))
    return net


def reference(net: RefinerPolicy, prompt: torch.Tensor, stats: torch.Tensor):
    """δ's distribution built independently from torch.distributions."""
    mean, log_std, _ = net(prompt, stats)
    scale = net.cfg.action_scale
    transforms = [TanhTransform()] if net.cfg.tanh_squash else []
    dist = TransformedDistribution(Normal(mean, log_std.exp()), transforms + [AffineTransform(0.0, scale)])
    return Independent(dist, 1)


@pytest.mark.parametrize("tanh_squash", [True, False])
def test_log_prob_is_the_true_density_of_delta(tanh_squash):
    net = policy(tanh_squash=tanh_squash, init_log_std=-0.5)
    prompt, stats = torch.randn(B, P), torch.randn(B, S)
    sample = net.sample(prompt, stats)
    expected = reference(net, prompt, stats).log_prob(sample.delta)
    assert torch.allclose(sample.log_prob, expected, atol=1e-3)


def test_tanh_jacobian_is_included():
    net = policy(init_log_std=-0.5)
    prompt, stats = torch.randn(B, P), torch.randn(B, S)
    sample = net.sample(prompt, stats)
    mean, log_std, _ = net(prompt, stats)
    u = torch.atanh(sample.delta / net.cfg.action_scale)
    gaussian_only = Normal(mean, log_std.exp()).log_prob(u).sum(-1)
    assert (sample.log_prob - gaussian_only).abs().min() > 0.5


def test_sample_shapes_bounds_and_gradients():
    net = policy()
    sample = net.sample(torch.randn(B, P), torch.randn(B, S))
    assert sample.delta.shape == (B, P) and not sample.delta.requires_grad
    assert (sample.delta.abs() < net.cfg.action_scale).all()
    for t in (sample.log_prob, sample.entropy, sample.value):
        assert t.shape == (B,) and torch.isfinite(t).all() and t.requires_grad
    (sample.log_prob.sum() + sample.value.sum()).backward()
    assert net.mean_head.weight.grad.abs().sum() > 0 and net.raw_log_std.grad.abs().sum() > 0
    assert net.value_head.weight.grad.abs().sum() > 0


def test_log_prob_stays_fp32_under_bf16_autocast():
    net = policy()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        sample = net.sample(torch.randn(B, P), torch.randn(B, S))
        assert all(t.dtype == torch.float32 for t in net(torch.randn(B, P), torch.randn(B, S)))
    assert sample.log_prob.dtype == torch.float32 and sample.value.dtype == torch.float32
    assert torch.isfinite(sample.log_prob).all()


def test_initial_policy_is_centred_with_the_configured_std():
    net = RefinerPolicy(P, S, PolicyConfig(hidden=16, init_log_std=-2.0))
    mean, log_std, _ = net(torch.randn(B, P), torch.randn(B, S))
    assert mean.abs().max() == 0
    assert torch.allclose(log_std, torch.full((B, P), -2.0), atol=1e-5)


def test_deterministic_sample_is_the_squashed_mean():
    net = policy()
    prompt, stats = torch.randn(B, P), torch.randn(B, S)
    mean, _, _ = net(prompt, stats)
    delta = net.sample(prompt, stats, deterministic=True).delta
    assert torch.allclose(delta, net.cfg.action_scale * torch.tanh(mean))


def test_entropy_without_squash_is_exact():
    net = policy(tanh_squash=False)
    prompt, stats = torch.randn(B, P), torch.randn(B, S)
    sample = net.sample(prompt, stats)
    mean, log_std, _ = net(prompt, stats)
    exact = Normal(mean, log_std.exp()).entropy().sum(-1) + P * math.log(net.cfg.action_scale)
    assert torch.allclose(sample.entropy, exact, atol=1e-5)


def test_policy_gradient_moves_the_mean_to_the_bandit_optimum():
    net = RefinerPolicy(4, 2, PolicyConfig(hidden=32))
    target = torch.tensor([0.3, -0.2, 0.1, 0.25])
    prompt, stats = torch.randn(1, 4).expand(64, 4), torch.randn(1, 2).expand(64, 2)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    start = (net.sample(prompt[:1], stats[:1], deterministic=True).delta[0] - target).norm()
    for _ in range(300):
        sample = net.sample(prompt, stats)
        reward = -(sample.delta - target).pow(2).sum(-1)
        loss, _ = policy_gradient_loss(sample.log_prob, reward, sample.value, sample.entropy, PGConfig())
        opt.zero_grad()
        loss.backward()
        opt.step()
    end = (net.sample(prompt[:1], stats[:1], deterministic=True).delta[0] - target).norm()
    assert end < 0.25 * start


def test_config_rejects_bad_bounds():
    with pytest.raises(ValueError, match="min_log_std"):
        PolicyConfig(init_log_std=1.0, max_log_std=0.0)
    with pytest.raises(ValueError, match="action_scale"):
        PolicyConfig(action_scale=0.0)
