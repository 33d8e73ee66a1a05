"""RuleOracle: the diagnostic prompt names the generator instance that made the demos, and a model built with it
trains and saves like any other."""

import pytest
import torch

from arc_efe.data.generators import generate_task
from arc_efe.encoder.config import EncoderConfig
from arc_efe.encoder.oracle import RuleOracle
from arc_efe.encoder.task_encoder import build_encoder

FAMILIES = ("gravity_cells", "d8_transform")


def test_each_task_gets_the_row_of_its_own_instance_and_others_the_none_row():
    oracle = build_encoder(EncoderConfig(prompt_dim=8, oracle_families=FAMILIES))
    assert isinstance(oracle, RuleOracle) and len(oracle.instances) == 4 + 8
    for name in FAMILIES:
        for seed in range(12):
            task = generate_task(name, seed)
            family, params = oracle.instances[oracle.instance(task.train)]
            assert (family.name, params) == (name, task.meta["params"]), (name, seed)
    assert oracle.instance(generate_task("colour_map", 0).train) == len(oracle.instances)


def test_prompts_are_one_learned_row_per_instance():
    oracle = RuleOracle(FAMILIES, 8)
    tasks = [generate_task("d8_transform", s) for s in range(6)]
    prompts = oracle([t.train for t in tasks])
    for i in range(6):
        for j in range(6):
            same = tasks[i].meta["params"] == tasks[j].meta["params"]
            assert torch.equal(prompts[i], prompts[j]) == same
    prompts.sum().backward()
    assert oracle.projection.weight.grad.abs().sum() > 0
    assert oracle.encoder_parameters() == [] and len(oracle.projection_parameters()) == 1


def test_a_family_without_alternatives_or_unknown_is_refused():
    with pytest.raises(ValueError, match="no_such_family"):
        RuleOracle(["no_such_family"], 8)


def test_a_system_with_the_oracle_saves_and_loads(tmp_path):
    from arc_efe.config import to_dict
    from arc_efe.system import ArcSystem, ModelConfig, build_system
    from arc_efe.training.config import TrainConfig

    cfg = TrainConfig()
    cfg.model.encoder.oracle_families = FAMILIES
    system = build_system(cfg.model)
    system.save(tmp_path, to_dict(cfg))
    loaded, _ = ArcSystem.load(tmp_path)
    assert isinstance(loaded.encoder, RuleOracle)
    torch.testing.assert_close(loaded.encoder.projection.weight, system.encoder.projection.weight)
    assert isinstance(cfg.model, ModelConfig)


def test_jitter_is_a_fixed_rule_independent_offset_per_task():
    """With jitter the prompt is the instance's row plus an offset fixed by the demos: the same task gets the same
    prompt on every call, two tasks of one instance get different prompts, and their difference is not learned."""
    plain, jittered = RuleOracle(FAMILIES, 8), RuleOracle(FAMILIES, 8, jitter=2.0)
    jittered.load_state_dict(plain.state_dict())
    tasks = [generate_task("d8_transform", s) for s in range(20)]
    rows = [plain.instance(t.train) for t in tasks]
    a, b = next((i, j) for i in range(20) for j in range(i + 1, 20) if rows[i] == rows[j])
    contexts = [tasks[a].train, tasks[b].train]
    torch.testing.assert_close(jittered(contexts), jittered(contexts))
    offsets = (jittered(contexts) - plain(contexts)).detach()
    assert offsets.norm(dim=1).min() > 1.0 and (offsets[0] - offsets[1]).abs().max() > 0.1
    with pytest.raises(ValueError, match="oracle_jitter"):
        build_encoder(EncoderConfig(prompt_dim=8, oracle_families=FAMILIES, oracle_jitter=-1.0))
