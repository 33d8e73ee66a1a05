"""Warm start (`init_from`) and partial training (`train_only`): a run starts from another model's weights
where names match, and only the named parts move."""

import pytest
import torch
from safetensors.torch import load_file

from arc_efe.checkpoint_files import CheckpointError
from arc_efe.training.checkpoint import resolve_checkpoint
from arc_efe.training.loop import Trainer, train
from arc_efe.training.warm_start import train_only

from .conftest import tiny_config


def weights(run) -> dict[str, torch.Tensor]:
    return load_file(str(resolve_checkpoint(run) / "model.safetensors"))


@pytest.fixture(scope="module")
def plain_run(small_tasks_dir, tmp_path_factory):
    """A tiny model without a rule table, trained 2 steps."""
    return train(tiny_config(small_tasks_dir, tmp_path_factory.mktemp("plain") / "run", max_steps=2))


def test_a_table_trained_alone_on_a_warm_model_leaves_the_rest_as_it_was(small_tasks_dir, tmp_path, plain_run):
    source = weights(plain_run)
    run = train(tiny_config(small_tasks_dir, tmp_path / "warm", max_steps=3, init_from=str(plain_run),
                            train_only=["agent.rule_table"], model={"agent": {"rule_table": 3}}))
    after = weights(run)
    table = [k for k in after if k.startswith("agent.rule_table.")]
    assert table and all(k not in source for k in table)
    for key, value in source.items():
        torch.testing.assert_close(after[key], value, msg=key)  # frozen and loaded: unchanged
    fresh = Trainer(tiny_config(small_tasks_dir, tmp_path / "fresh", max_steps=1,
                                model={"agent": {"rule_table": 3}})).system.state_dict()
    assert any(not torch.equal(after[k], fresh[k].cpu()) for k in table)  # the table itself moved


def test_warm_start_without_freezing_starts_from_the_source(small_tasks_dir, tmp_path, plain_run):
    trainer = Trainer(tiny_config(small_tasks_dir, tmp_path / "w", max_steps=1, init_from=str(plain_run)))
    state = trainer.system.state_dict()
    for key, value in weights(plain_run).items():
        torch.testing.assert_close(state[key].cpu(), value, msg=key)


def test_a_checkpoint_of_another_shape_is_named(small_tasks_dir, tmp_path, plain_run):
    with pytest.raises(CheckpointError, match="shape mismatch.*agent"):
        Trainer(tiny_config(small_tasks_dir, tmp_path / "w", max_steps=1, init_from=str(plain_run),
                            model={"agent": {"channels": 24}}))


def test_train_only_names_a_prefix_that_matches_nothing():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"no parameter under \['1'\]"):
        train_only(model, ("0", "1"))
    assert train_only(model, ("0",)) == ["0.weight", "0.bias"]
    assert train_only(model, ()) == ["0.weight", "0.bias"]
