"""The doctor on a pretrained encoder: a Qwen2 checkpoint written as transformers writes one (from_pretrained
returns it in eval mode) must pass all ten checks in every train mode, so training must switch it back."""

import json

import pytest
import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

from arc_efe.cli.main import main
from arc_efe.diagnose.runner import run_diagnosis
from arc_efe.training.loop import Trainer

from ..encoder.test_pretrained import train_tokenizer
from ..training.conftest import tiny_config


@pytest.fixture(scope="module")
def llm_dir(tmp_path_factory):
    """`save_pretrained` of a tiny Qwen2ForCausalLM with a byte-level BPE tokenizer beside it."""
    path = tmp_path_factory.mktemp("tiny_qwen2_llm")
    tokenizer = train_tokenizer()
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048)
    Qwen2ForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def pretrained_config(tasks_dir, out, llm_dir, mode):
    return tiny_config(tasks_dir, out, model={"encoder": {"llm": str(llm_dir), "train_mode": mode, "lora_r": 2}})


@pytest.mark.parametrize("mode", ["full", "lora", "frozen"])
def test_doctor_passes_on_a_saved_pretrained_checkpoint(small_tasks_dir, tmp_path, llm_dir, mode):
    diagnosis = run_diagnosis(pretrained_config(small_tasks_dir, tmp_path, llm_dir, mode))
    failures = {c.check: c.message for c in diagnosis.checks if not c.passed}
    assert failures == {}, failures
    assert len(diagnosis.checks) == 10


@pytest.mark.parametrize("mode", ["full", "lora", "frozen"])
def test_trainable_parts_train_and_a_frozen_llm_stays_in_eval(small_tasks_dir, tmp_path, llm_dir, mode):
    trainer = Trainer(pretrained_config(small_tasks_dir, tmp_path, llm_dir, mode))
    system = trainer.accelerator.unwrap_model(trainer.system)
    for moment in ("built", "after held-out evaluation"):
        if moment != "built":
            trainer.end_of_epoch()  # evaluation switches to eval mode; training must switch back
        llm_modes = {m.training for m in system.encoder.llm.modules()}
        trained = [system.encoder.projection, system.agent, system.policy]
        assert all(m.training for part in trained for m in part.modules()), moment
        assert llm_modes == ({False} if mode == "frozen" else {True}), moment


def test_cli_doctor_passes_with_lora(small_tasks_dir, tmp_path, llm_dir, capsys):
    code = main(["diagnose", "--preset", "tiny", "--tasks", str(small_tasks_dir), "--set", "data.val_fraction=0.2",
                 "--precision", "fp32", "--device", "cpu", "--out", str(tmp_path), "--llm", str(llm_dir),
                 "--llm-train", "lora", "--set", "model.encoder.lora_r=2", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in rows] == ["PASS"] * 10, [r["message"] for r in rows if r["status"] != "PASS"]
    assert code == 0
