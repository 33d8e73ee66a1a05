import math
import re

import pytest
import torch
from torch import nn

from arc_efe.agent.output import AgentOutput
from arc_efe.objective.efe import (
    EFEConfig,
    efe_loss,
    halting_distribution,
    js_divergence,
    kl_to_preference,
    size_weight_at,
)

B, T, DIM = 2, 3, 4
WEIGHTS = ("risk", "ambiguity", "step", "consistency", "bidirectional", "anchor", "prompt")
TERMS = WEIGHTS + ("size",)


class TinyAgent(nn.Module):
    """Stand-in for the grid agent: every AgentOutput field is a differentiable function of x [B, DIM]."""

    def __init__(self) -> None:
        super().__init__()
        self.cell_bias = nn.Parameter(torch.randn(T, 30, 30, 10))
        self.back_bias = nn.Parameter(torch.randn(T, 30, 30, 10))
        self.conf_bias = nn.Parameter(torch.randn(T, 30, 30))
        self.cell = nn.Linear(DIM, T * 10)
        self.back = nn.Linear(DIM, T * 10)
        self.conf = nn.Linear(DIM, T)
        self.height = nn.Linear(DIM, T * 30)
        self.width = nn.Linear(DIM, T * 30)
        self.halt = nn.Linear(DIM, T)
        self.prompt = nn.Linear(DIM, 8)

    def forward(self, x: torch.Tensor) -> tuple[AgentOutput, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        b = x.shape[0]
        out = AgentOutput(
            cell_logits=self.cell_bias + self.cell(x).view(b, T, 1, 1, 10),
            height_logits=self.height(x).view(b, T, 30),
            width_logits=self.width(x).view(b, T, 30),
            halt_logits=self.halt(x),
            confidence_logits=self.conf_bias + self.conf(x).view(b, T, 1, 1),
        )
        backward = self.back_bias + self.back(x).view(b, T, 1, 1, 10)
        return out, backward, (self.prompt(x), self.prompt(x.roll(1, dims=-1)))


def make_target(sizes=((4, 5), (3, 3))) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    target = torch.full((len(sizes), 30, 30), -1, dtype=torch.long)  # -1 padding must be ignored
    mask = torch.zeros(len(sizes), 30, 30, dtype=torch.bool)
    for i, (h, w) in enumerate(sizes):
        target[i, :h, :w] = torch.randint(0, 10, (h, w))
        mask[i, :h, :w] = True
    return target, mask, torch.tensor(sizes, dtype=torch.long)


def only(term: str) -> tuple[EFEConfig, float]:
    """Config where `term` alone has weight 1 (size through size_weight)."""
    cfg = EFEConfig(**{name: 0.0 for name in WEIGHTS})
    if term in WEIGHTS:
        setattr(cfg, term, 1.0)
    return cfg, 1.0 if term == "size" else 0.0


def run(agent: TinyAgent, x: torch.Tensor, cfg: EFEConfig, size_weight: float = 0.6, target=None):
    out, backward, prompts = agent(x)
    target, mask, size = target if target is not None else make_target()
    return efe_loss(out, target, mask, size, cfg, size_weight, backward_logits=backward, prompt_pair=prompts)


def test_every_term_finite_and_depends_on_the_input():
    agent, target = TinyAgent(), make_target()
    _, terms_a = run(agent, torch.randn(B, DIM), EFEConfig(), target=target)
    _, terms_b = run(agent, torch.randn(B, DIM), EFEConfig(), target=target)
    for name in TERMS + ("expected_steps",):
        assert torch.isfinite(terms_a[name]), name
        assert abs(terms_a[name] - terms_b[name]) > 1e-6, name


@pytest.mark.parametrize("term", TERMS)
def test_each_term_has_a_gradient_to_the_agent(term):
    agent = TinyAgent()
    cfg, size_weight = only(term)
    loss, terms = run(agent, torch.randn(B, DIM), cfg, size_weight)
    assert torch.allclose(loss.detach(), terms[term]), "with one weight 1 the loss is that term"
    loss.backward()
    grad = sum(p.grad.abs().sum() for p in agent.parameters() if p.grad is not None)
    assert grad > 0


def test_total_is_the_weighted_sum_of_terms():
    cfg = EFEConfig(risk=0.7, ambiguity=0.2, step=1.3, consistency=0.9, bidirectional=0.4, anchor=0.3, prompt=0.6)
    loss, terms = run(TinyAgent(), torch.randn(B, DIM), cfg, size_weight=0.45)
    expected = sum(getattr(cfg, name) * terms[name] for name in WEIGHTS) + 0.45 * terms["size"]
    assert torch.allclose(loss.detach(), expected, rtol=1e-5)


def test_step_cost_trains_only_halting_and_prefers_early_halts_when_risk_is_flat():
    agent = TinyAgent()
    with torch.no_grad():  # same beliefs at every step: only λ_step · t differs between halts
        agent.cell_bias.copy_(agent.cell_bias[:1].clone().expand(T, -1, -1, -1))
        agent.cell.weight.zero_()
        agent.cell.bias.zero_()
    out, _, _ = agent(torch.randn(B, DIM))
    out.halt_logits.retain_grad()
    target, mask, size = make_target()
    loss, _ = efe_loss(out, target, mask, size, only("step")[0], 0.0)
    loss.backward()
    assert agent.cell_bias.grad is None or agent.cell_bias.grad.abs().sum() == 0, "risk_t must be detached"
    halt_grad = out.halt_logits.grad
    assert (halt_grad[:, :-1] < 0).all(), "raising an early halt logit must lower the expected step cost"
    assert (halt_grad[:, -1] == 0).all(), "the last step takes the remainder"


def test_halting_distribution_matches_hand_formula():
    h = torch.tensor([[0.3, -1.2, 2.0], [5.0, 0.0, -3.0]])
    s = torch.sigmoid(h)
    hand = torch.stack([s[:, 0], (1 - s[:, 0]) * s[:, 1], (1 - s[:, 0]) * (1 - s[:, 1])], dim=1)
    pi = halting_distribution(h)
    assert torch.allclose(pi, hand, atol=1e-6)
    assert torch.allclose(pi.sum(1), torch.ones(2))


def test_expected_steps_follows_halting():
    agent, x = TinyAgent(), torch.randn(B, DIM)
    for bias, steps in ((30.0, 1.0), (-30.0, float(T))):
        with torch.no_grad():
            agent.halt.weight.zero_()
            agent.halt.bias.fill_(bias)
        _, terms = run(agent, x, EFEConfig())
        assert terms["expected_steps"].item() == pytest.approx(steps, abs=1e-4)


def test_terms_match_explicit_formulas_with_unit_weights():
    out, _, _ = TinyAgent()(torch.randn(B, DIM))
    target, mask, size = make_target()
    _, terms = efe_loss(out, target, mask, size, EFEConfig(right_cell_weight=1.0), 0.6)
    ce = torch.nn.functional.cross_entropy
    size_hand = sum(ce(out.height_logits[:, t], size[:, 0] - 1) + ce(out.width_logits[:, t], size[:, 1] - 1)
                    for t in range(T))
    assert terms["size"].item() == pytest.approx(size_hand.item(), rel=1e-5)
    per_sample = [ce(out.cell_logits[b, -1][mask[b]], target[b][mask[b]]) for b in range(B)]
    assert terms["consistency"].item() == pytest.approx(torch.stack(per_sample).mean().item(), rel=1e-5)
    q = out.cell_logits.softmax(-1)
    pref = torch.nn.functional.one_hot(target.clamp(min=0), 10).float() * 0.9 + 0.01
    entropy = -(q * q.log()).sum(-1)  # [B, T, H, W]
    kl = (q * (q.log() - pref[:, None].log())).sum(-1)
    for name, cells in (("ambiguity", entropy), ("risk", kl)):
        hand = torch.stack([sum(cells[b, t][mask[b]].mean() for t in range(T)) for b in range(B)]).mean()
        assert terms[name].item() == pytest.approx(hand.item(), rel=1e-5), name


def test_js_divergence_is_a_true_jensen_shannon():
    p, q = torch.randn(5, 10).log_softmax(-1), (3 * torch.randn(5, 10)).log_softmax(-1)
    assert js_divergence(p, p).abs().max() < 1e-6
    assert torch.allclose(js_divergence(p, q), js_divergence(q, p), atol=1e-7)
    assert (js_divergence(p, q) > 0).all() and (js_divergence(p, q) <= math.log(2) + 1e-6).all()
    disjoint_p = torch.tensor([[0.0, -1e4]]), torch.tensor([[-1e4, 0.0]])
    assert js_divergence(*disjoint_p).item() == pytest.approx(math.log(2), abs=1e-5)
    m = 0.5 * (p.exp() + q.exp())
    hand = 0.5 * (p.exp() * (p - m.log())).sum(-1) + 0.5 * (q.exp() * (q - m.log())).sum(-1)
    assert torch.allclose(js_divergence(p, q), hand, atol=1e-6)


def test_bidirectional_is_zero_for_equal_beliefs_and_without_backward():
    out, _, _ = TinyAgent()(torch.randn(B, DIM))
    target, mask, size = make_target()
    _, same = efe_loss(out, target, mask, size, EFEConfig(), 0.6, backward_logits=out.cell_logits)
    _, none = efe_loss(out, target, mask, size, EFEConfig(), 0.6)
    assert same["bidirectional"].abs() < 1e-6
    assert none["bidirectional"] == 0 and none["prompt"] == 0


def test_kl_to_preference_matches_explicit_kl_and_vanishes_at_the_preference():
    eps = 0.1
    target = torch.randint(0, 10, (3, 4))
    pref = torch.nn.functional.one_hot(target, 10).float() * (1 - eps) + eps / 10
    log_q = torch.randn(3, 4, 10).log_softmax(-1)
    explicit = (log_q.exp() * (log_q - pref.log())).sum(-1)
    assert torch.allclose(kl_to_preference(log_q, target, eps), explicit, atol=1e-6)
    assert (explicit > 0).all()
    assert kl_to_preference(pref.log(), target, eps).abs().max() < 1e-6


def test_risk_is_zero_when_beliefs_equal_the_preference():
    target, mask, size = make_target()
    pref = torch.nn.functional.one_hot(target.clamp(min=0), 10).float() * 0.9 + 0.01
    out, _, _ = TinyAgent()(torch.randn(B, DIM))
    out.cell_logits = pref.log()[:, None].expand(-1, T, -1, -1, -1)
    _, terms = efe_loss(out, target, mask, size, EFEConfig(label_smoothing=0.1), 0.6)
    assert terms["risk"].abs() < 1e-5
    _, random_terms = run(TinyAgent(), torch.randn(B, DIM), EFEConfig(), target=(target, mask, size))
    assert random_terms["risk"] > 0


def test_hard_cell_weighting_and_mask_ratio():
    target, mask, size = make_target()
    out, _, _ = TinyAgent()(torch.randn(B, DIM))
    logits = out.cell_logits.detach().clone()
    logits[:, -1] += 20 * torch.nn.functional.one_hot(target.clamp(min=0), 10)  # final step right everywhere
    out.cell_logits = logits
    unweighted = EFEConfig(right_cell_weight=1.0)
    loss_right, right = efe_loss(out, target, mask, size, EFEConfig(), 0.6)
    loss_base, base = efe_loss(out, target, mask, size, unweighted, 0.6)
    assert right["mask_ratio"] == 0
    assert right["risk"] == pytest.approx(0.5 * base["risk"].item(), rel=1e-5), "weights normalise by count"
    assert 0.5 * loss_base <= loss_right < loss_base

    wrong = [(0, 0, 0), (0, 3, 4), (1, 2, 1)]  # 3 of the 20 + 9 valid cells
    for b, r, c in wrong:
        logits[b, -1, r, c, target[b, r, c]] -= 40
    _, some = efe_loss(out, target, mask, size, EFEConfig(), 0.6)
    assert some["mask_ratio"].item() == pytest.approx(3 / 29)
    assert some["cell_accuracy"] < 1


def test_all_right_prediction_scores_full_cell_accuracy():
    target, mask, size = make_target()
    out, _, _ = TinyAgent()(torch.randn(B, DIM))
    one_hot = torch.nn.functional.one_hot
    out.cell_logits = 20 * one_hot(target.clamp(min=0), 10)[:, None].expand(-1, T, -1, -1, -1).float()
    out.height_logits = 20 * one_hot(size[:, 0] - 1, 30)[:, None].expand(-1, T, -1).float()
    out.width_logits = 20 * one_hot(size[:, 1] - 1, 30)[:, None].expand(-1, T, -1).float()
    _, terms = efe_loss(out, target, mask, size, EFEConfig(), 0.6)
    assert terms["cell_accuracy"] == 1 and terms["mask_ratio"] == 0


def test_runs_in_fp32_under_bf16_autocast():
    fields = ("cell_logits", "height_logits", "width_logits", "halt_logits", "confidence_logits")
    out, backward, prompts = TinyAgent()(torch.randn(B, DIM))
    bf16 = AgentOutput(*(getattr(out, f).to(torch.bfloat16) for f in fields))
    target, mask, size = make_target()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, _ = efe_loss(bf16, target, mask, size, EFEConfig(), 0.6, backward.to(torch.bfloat16), prompts)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    fp32 = AgentOutput(*(getattr(bf16, f).detach().float() for f in fields))
    reference, _ = efe_loss(fp32, target, mask, size, EFEConfig(), 0.6, backward.to(torch.bfloat16).float(), prompts)
    assert loss.item() == pytest.approx(reference.item(), rel=1e-6), "the maths itself must run in fp32"


def test_float_target_fails_loudly_naming_both_shapes_and_dtypes():
    out, _, _ = TinyAgent()(torch.randn(B, DIM))
    target, mask, size = make_target()
    with pytest.raises(ValueError) as err:
        efe_loss(out, target.float(), mask, size, EFEConfig(), 0.6)
    msg = str(err.value)
    assert "(2, 30, 30)" in msg and "torch.float32" in msg and "(2, 3, 30, 30, 10)" in msg


def test_seven_colour_logits_fail_naming_both_shapes():
    out, _, _ = TinyAgent()(torch.randn(B, DIM))
    out.cell_logits = out.cell_logits[..., :7]
    target, mask, size = make_target()
    with pytest.raises(ValueError) as err:
        efe_loss(out, target, mask, size, EFEConfig(), 0.6)
    assert "(2, 3, 30, 30, 7)" in str(err.value) and "(2, 30, 30)" in str(err.value)


@pytest.mark.parametrize(
    "break_input, fragment",
    [
        (lambda t, m, s, o: (t[:, :29], m, s, None), "target must be [B, H, W]"),
        (lambda t, m, s, o: (t, m[:, :29], s, None), "target_mask"),
        (lambda t, m, s, o: (t, m.long(), s, None), "target_mask"),
        (lambda t, m, s, o: (t.masked_fill(m, 10), m, s, None), "0..9"),
        (lambda t, m, s, o: (t, m, s[:, :1], None), "target_size"),
        (lambda t, m, s, o: (t, m, s * 0, None), "1..30"),
        (lambda t, m, s, o: (t, m, s, o.cell_logits[:, :2]), "backward_logits"),
    ],
)
def test_bad_inputs_raise_clear_errors(break_input, fragment):
    out, _, _ = TinyAgent()(torch.randn(B, DIM))
    target, mask, size, backward = break_input(*make_target(), out)
    with pytest.raises(ValueError, match=re.escape(fragment)):
        efe_loss(out, target, mask, size, EFEConfig(), 0.6, backward_logits=backward)


def test_size_weight_schedule():
    cfg = EFEConfig()
    assert [size_weight_at(e, cfg) for e in (0.0, 0.99, 1.0, 5.0)] == [0.6, 0.6, 0.3, 0.3]
    custom = EFEConfig(size_warmup_epochs=2.0, size_weight_warmup=1.0, size_weight_after=0.1)
    assert size_weight_at(1.5, custom) == 1.0 and size_weight_at(2.0, custom) == 0.1


def test_config_rejects_out_of_range_values():
    with pytest.raises(ValueError, match="label_smoothing"):
        EFEConfig(label_smoothing=0.0)
    with pytest.raises(ValueError, match="risk"):
        EFEConfig(risk=-1.0)


def test_prompt_contrast_is_infonce_over_the_batch_and_the_cosine_stays_the_default():
    """Orthogonal tasks whose halves agree score near 0; one prompt for every task (the collapse the cosine
    term allows: it scores 0 there) scores log N; the default is still the plain cosine."""
    from arc_efe.objective.efe import prompt_term

    tasks = torch.eye(4, 8) * 5
    collapsed = torch.ones(4, 8)
    contrast = EFEConfig(prompt_contrast=True, prompt_temperature=0.1)
    assert prompt_term(tasks, tasks, contrast) < 1e-3
    assert prompt_term(collapsed, collapsed, contrast) == pytest.approx(math.log(4), rel=1e-5)
    assert prompt_term(collapsed, collapsed, EFEConfig()) == pytest.approx(0.0, abs=1e-6)
    a, b = torch.randn(5, 8), torch.randn(5, 8)
    cosine = (1 - torch.nn.functional.cosine_similarity(a, b, dim=-1)).mean()
    assert prompt_term(a, b, EFEConfig()) == pytest.approx(float(cosine), rel=1e-6)
    # Swapping which half is which leaves it unchanged (both directions are averaged).
    assert prompt_term(a, b, contrast) == pytest.approx(float(prompt_term(b, a, contrast)), rel=1e-5)


@pytest.mark.parametrize("change", [dict(prompt_temperature=0.0), dict(prompt_contrast=1)])
def test_prompt_contrast_settings_are_validated(change):
    with pytest.raises(ValueError, match="prompt_"):
        EFEConfig(**change)
