"""ArcSystem end to end: one backward of the total loss reaches every trained part, and it can overfit."""

import pytest
import torch

from arc_efe.config import from_dict, merge, to_dict
from arc_efe.data.augment import IDENTITY
from arc_efe.data.batching import collate, make_sample
from arc_efe.data.sources import load_tasks
from arc_efe.system import ModelConfig, build_system
from arc_efe.objective.efe import EFEConfig, efe_loss
from arc_efe.objective.metrics import cell_accuracy, refinement_reward
from arc_efe.objective.policy_gradient import PGConfig, policy_gradient_loss
from arc_efe.training.config import tiny_preset

from .training.conftest import small_task_ids


@pytest.fixture(scope="module")
def batch():
    tasks = {t.id: t for t in load_tasks("arc1/training").tasks}
    return collate([make_sample(tasks[i], 0, IDENTITY) for i in small_task_ids(3)])


def tiny_system(**encoder):
    data = merge(to_dict(ModelConfig()), tiny_preset()["model"])
    return build_system(from_dict(ModelConfig, merge(data, {"encoder": encoder})))


def total_loss(system, batch):
    out = system(batch, with_prompt_pair=True)
    efe, _ = efe_loss(out.after, batch.query_output, batch.query_output_mask, batch.output_size, EFEConfig(),
                      0.6, out.backward_logits, out.prompt_pair)
    target = (batch.query_output, batch.output_size)
    before, after = cell_accuracy(*out.before.predict(), *target), cell_accuracy(*out.after.predict(), *target)
    reward = refinement_reward(before, after)
    pg, _ = policy_gradient_loss(out.policy.log_prob, reward, out.policy.value, out.policy.entropy, PGConfig())
    return efe + pg


def grads_by_part(system):
    return {name: {n: p.grad for n, p in module.named_parameters() if p.requires_grad}
            for name, module in [("llm", system.encoder.llm), ("projection", system.encoder.projection),
                                 ("agent", system.agent), ("policy", system.policy)]}


@pytest.mark.parametrize("mode", ["full", "lora", "frozen"])
def test_one_backward_reaches_every_trained_part(batch, mode):
    system = tiny_system(train_mode=mode)
    total_loss(system, batch).backward()
    grads = grads_by_part(system)
    for part in ("projection", "agent", "policy"):
        missing = [n for n, g in grads[part].items() if g is None]
        assert not missing, f"{part}: no gradient for {missing}"
        assert any(g.abs().sum() > 0 for g in grads[part].values()), part
    llm = grads["llm"]
    if mode == "frozen":
        assert llm == {}
    else:
        if mode == "lora":
            assert llm and all("lora_" in n for n in llm)
        # LoRA B starts at zero, so only B (and every full-mode weight) gets a non-zero first gradient.
        nonzero = [n for n, g in llm.items() if g is not None and g.abs().sum() > 0]
        assert nonzero, "the encoder got no gradient from the total loss"
        if mode == "full":
            assert len(nonzero) == len(llm), set(llm) - set(nonzero)


def test_overfits_three_real_tasks(batch):
    torch.manual_seed(0)
    system = tiny_system()
    optimizer = torch.optim.Adam(system.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        out = system(batch, with_prompt_pair=True)
        loss, _ = efe_loss(out.after, batch.query_output, batch.query_output_mask, batch.output_size,
                           EFEConfig(), 0.6, out.backward_logits, out.prompt_pair)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], (losses[0], losses[-1])


def test_the_rule_table_rides_in_the_prompt_untouched_by_the_policy_and_is_trained(batch):
    torch.manual_seed(0)
    data = merge(to_dict(ModelConfig()), tiny_preset()["model"])
    system = build_system(from_dict(ModelConfig, merge(data, {"agent": {"rule_table": 4}})))
    width = system.agent.prompt_dim
    assert system.prompt_dim == width + system.agent.rule_table.dim
    p = system.prompts(batch.contexts, batch.stats, sample_offset=True)
    assert p.base.shape == (len(batch.contexts), system.prompt_dim)
    torch.testing.assert_close(p.refined[:, width:], p.base[:, width:])  # δ is zero over the table
    assert not torch.equal(p.refined[:, :width], p.base[:, :width])
    offsets = system.policy_offsets(p.base, batch.stats, torch.randn(system.prompt_dim))
    assert offsets.shape == p.base.shape and offsets[:, width:].abs().sum() == 0
    total_loss(system, batch).backward()
    table = system.agent.rule_table
    assert table.assign.weight.grad.abs().sum() > 0 and table.embed.weight.grad.abs().sum() > 0
    assert table.gate.grad.abs() > 0
