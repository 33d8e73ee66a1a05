import logging

import numpy as np
import pytest
import torch

from arc_efe.data import Pair
from arc_efe.encoder.config import EncoderConfig
from arc_efe.encoder.task_encoder import build_encoder

TINY = dict(hidden_size=32, num_layers=2, num_heads=2, num_kv_heads=1, intermediate_size=64, prompt_dim=16)


def random_pair(rng: np.random.Generator, h: int = 4, w: int = 5) -> Pair:
    return Pair(rng.integers(0, 10, (h, w)), rng.integers(0, 10, (w, h)))


@pytest.fixture
def contexts() -> list[list[Pair]]:
    rng = np.random.default_rng(0)
    return [[random_pair(rng, 2 + k, 3 + t) for k in range(3)] for t in range(2)] + [[random_pair(rng, 1, 1)]]


def test_output_shape_and_finite(contexts):
    prompt = build_encoder(EncoderConfig(**TINY))(contexts)
    assert prompt.shape == (3, 16) and prompt.dtype == torch.float32
    assert torch.isfinite(prompt).all()
    assert not torch.allclose(prompt[0], prompt[1])  # different tasks, different prompts


def test_pair_order_does_not_matter(contexts):
    encoder = build_encoder(EncoderConfig(**TINY))
    shuffled = [ctx[::-1] for ctx in contexts[::-1]][::-1]
    torch.testing.assert_close(encoder(shuffled), encoder(contexts), atol=1e-5, rtol=0)


def test_padding_and_bucketing_do_not_leak(contexts):
    """A task's prompt is the same alone, batched with longer sequences, or in one-sequence calls."""
    encoder = build_encoder(EncoderConfig(**TINY))
    alone = encoder(contexts[2:])
    rng = np.random.default_rng(1)
    batched = encoder([[random_pair(rng, 9, 9)], contexts[2]])
    torch.testing.assert_close(batched[1:], alone, atol=1e-5, rtol=0)
    one_per_call = build_encoder(EncoderConfig(**TINY, batch_tokens=2048, max_tokens=2048))
    one_per_call.load_state_dict(encoder.state_dict())
    one_per_call.batch_tokens = 1  # every sequence in its own LLM call
    torch.testing.assert_close(one_per_call(contexts), encoder(contexts), atol=1e-5, rtol=0)


def test_tokens_follow_parameter_device_and_dtype_under_autocast(contexts):
    encoder = build_encoder(EncoderConfig(**TINY))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        prompt = encoder(contexts)
    assert prompt.device == encoder.projection.weight.device
    prompt.float().sum().backward()
    assert all(p.grad is not None for p in encoder.encoder_parameters())


def grads_after_backward(encoder, contexts) -> dict[str, torch.Tensor | None]:
    encoder(contexts).sum().backward()
    return {name: p.grad for name, p in encoder.llm.named_parameters()}


def test_full_mode_every_llm_param_and_projection_get_gradients(contexts):
    encoder = build_encoder(EncoderConfig(**TINY, train_mode="full"))
    grads = grads_after_backward(encoder, contexts)
    missing = [n for n, g in grads.items() if g is None or not g.abs().sum() > 0]
    assert not missing, f"no gradient for {missing}"
    assert len(encoder.encoder_parameters()) == len(grads)
    assert all(p.grad.abs().sum() > 0 for p in encoder.projection_parameters())


def test_lora_mode_only_adapters_get_gradients(contexts):
    encoder = build_encoder(EncoderConfig(**TINY, train_mode="lora", lora_r=4))
    grads = grads_after_backward(encoder, contexts)
    with_grad = {n for n, g in grads.items() if g is not None}
    lora = {n for n in grads if "lora_" in n}
    # LoRA B starts at zero, so A's first gradient is zero; B's must not be.
    assert lora and with_grad == lora
    assert all(grads[n].abs().sum() > 0 for n in lora if "lora_B" in n)
    assert {id(p) for p in encoder.encoder_parameters()} == {
        id(p) for n, p in encoder.llm.named_parameters() if "lora_" in n
    }
    assert all(p.grad.abs().sum() > 0 for p in encoder.projection_parameters())


def test_frozen_mode_only_projection_gets_gradients(contexts):
    encoder = build_encoder(EncoderConfig(**TINY, train_mode="frozen"))
    grad_mode_in_llm = []
    encoder.llm.register_forward_pre_hook(lambda *_: grad_mode_in_llm.append(torch.is_grad_enabled()))
    grads = grads_after_backward(encoder, contexts)
    assert grad_mode_in_llm and all(grad_mode_in_llm)  # frozen by requires_grad, not by no_grad
    assert all(g is None for g in grads.values()) and encoder.encoder_parameters() == []
    assert all(p.grad.abs().sum() > 0 for p in encoder.projection_parameters())


def test_long_pair_is_split_and_every_cell_still_counts(caplog):
    rng = np.random.default_rng(0)
    big = Pair(rng.integers(0, 10, (30, 30)), rng.integers(0, 10, (30, 30)))
    changed_out = big.output.copy()
    changed_out[-1, -1] = (changed_out[-1, -1] + 1) % 10
    changed_in = big.input.copy()
    changed_in[0, 0] = (changed_in[0, 0] + 1) % 10
    encoder = build_encoder(EncoderConfig(**TINY, max_tokens=512, batch_tokens=4096))
    with caplog.at_level(logging.WARNING, logger="arc_efe.encoder.task_encoder"):
        prompts = encoder([[big], [Pair(big.input, changed_out)], [Pair(changed_in, big.output)]])
    assert encoder.pairs_split == 3 and encoder.pairs_seen == 3
    assert "split 3 of 3 pairs" in caplog.text
    assert all(len(s) <= 512 for s in encoder._sequences([big])[0])
    assert not torch.allclose(prompts[0], prompts[1], atol=1e-6)  # last output cell is seen
    assert not torch.allclose(prompts[0], prompts[2], atol=1e-6)  # first input cell is seen


def test_unsplittable_row_and_empty_context_raise():
    encoder = build_encoder(EncoderConfig(**TINY, max_tokens=16))
    with pytest.raises(ValueError, match="max_tokens=16"):
        encoder([[Pair(np.zeros((2, 30), dtype=np.int64), np.zeros((1, 1), dtype=np.int64))]])
    with pytest.raises(ValueError, match="at least one pair"):
        encoder([[]])


@pytest.mark.parametrize(
    "change, field",
    [
        (dict(train_mode="partial"), "train_mode"),
        (dict(hidden_size=30, num_heads=4), "hidden_size"),
        (dict(max_tokens=0), "max_tokens"),
        (dict(batch_tokens=100, max_tokens=200), "batch_tokens"),
        (dict(grid_coordinates=True, llm="some/model"), "grid_coordinates"),
    ],
)
def test_config_validation_names_the_field(change, field):
    with pytest.raises(ValueError, match=field):
        build_encoder(EncoderConfig(**{**TINY, **change}))


def test_grid_coordinates_add_to_the_token_embeddings_and_train(contexts):
    """With the coordinate table zeroed the encoder is the plain one (same LLM weights, the inputs_embeds path
    equals the input_ids path); with it, prompts change and the table gets gradients in the always-trained
    group. Without the option there is no table, so old checkpoints load unchanged."""
    plain = build_encoder(EncoderConfig(**TINY))
    assert plain.coordinates is None and "coordinates.weight" not in plain.state_dict()
    coords = build_encoder(EncoderConfig(**TINY, grid_coordinates=True))
    assert coords.load_state_dict(plain.state_dict(), strict=False).missing_keys == ["coordinates.weight"]
    with torch.no_grad():
        table = coords.coordinates.weight.clone()
        coords.coordinates.weight.zero_()
    torch.testing.assert_close(coords(contexts), plain(contexts), atol=1e-5, rtol=0)
    with torch.no_grad():
        coords.coordinates.weight.copy_(table)
    assert not torch.allclose(coords(contexts), plain(contexts), atol=1e-3)
    coords(contexts).sum().backward()
    assert coords.coordinates.weight.grad.abs().sum() > 0
    assert any(p is coords.coordinates.weight for p in coords.projection_parameters())  # trained in every mode


def test_llm_standardise_gives_unit_spread_over_tasks_and_a_batch_free_prompt_when_solving():
    """llm_standardise: in training each prompt dimension has mean 0 over the batch's tasks (variance about 1);
    in eval mode a task's prompt uses the running statistics, so it is the same alone as in a batch."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    tasks = [[random_pair(rng), random_pair(rng)] for _ in range(10)]
    encoder = build_encoder(EncoderConfig(**TINY, llm_standardise=True))
    plain = build_encoder(EncoderConfig(**TINY))
    assert set(encoder.state_dict()) - set(plain.state_dict()) == {
        "standardise.running_mean", "standardise.running_var", "standardise.num_batches_tracked"}
    prompts = encoder(tasks)
    torch.testing.assert_close(prompts.mean(dim=0), torch.zeros(16), atol=1e-5, rtol=0)
    variance = prompts.var(dim=0, unbiased=False)
    assert (variance <= 1).all() and (variance > 0.5).all()
    encoder.eval()
    torch.testing.assert_close(encoder(tasks[:1]), encoder(tasks)[:1], atol=1e-5, rtol=0)
