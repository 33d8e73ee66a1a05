"""The doctor passes on working systems (full, LoRA, frozen encoder) and names the check each break fails."""

import json

import pytest
import torch

from arc_efe.cli.main import main
from arc_efe.diagnose.runner import run_diagnosis
from arc_efe.training.setup import build_optimizer, build_scheduler

from ..training.conftest import _fresh_accelerator_state, small_tasks_dir, tiny_config  # noqa: F401


def statuses(diagnosis) -> dict[int, str]:
    return {c.check: c.status for c in diagnosis.checks}


def failed(diagnosis) -> set[int]:
    return {c.check for c in diagnosis.checks if not c.passed}


@pytest.mark.parametrize("mode", ["full", "lora", "frozen"])
def test_passes_on_a_working_system(small_tasks_dir, tmp_path, mode):
    cfg = tiny_config(small_tasks_dir, tmp_path, model={"encoder": {"train_mode": mode}})
    diagnosis = run_diagnosis(cfg)
    assert failed(diagnosis) == set(), [c.message for c in diagnosis.checks if not c.passed]
    assert [c.check for c in diagnosis.checks] == list(range(1, 11))
    by = {c.check: c for c in diagnosis.checks}
    assert by[3].value > 0
    if mode == "frozen":
        assert by[8].value == 0.0 and "frozen" in by[8].message
        assert "none of its parameters" in by[5].message
    else:
        assert 1e-9 <= by[8].value <= 1e3
        assert by[7].extra["refresh_grad_norm"] > 0


def no_grad_encoder(trainer):
    encoder = trainer.system.encoder
    encoder.forward = torch.no_grad()(encoder.forward)


def detached_prompt(trainer):
    encoder = trainer.system.encoder
    forward = encoder.forward
    encoder.forward = lambda contexts: forward(contexts).detach()


def encoder_left_out_of_optimizer(trainer):
    groups = {name: params for name, params in trainer.groups.items() if name != "encoder"}
    trainer.optimizer = build_optimizer(groups, trainer.cfg.optim)
    trainer.scheduler = build_scheduler(trainer.optimizer, trainer.cfg.optim.warmup_steps)


def encoder_in_eval_mode(trainer):
    trainer.system.encoder.eval()


def prompt_scaled_to_zero(trainer):
    agent = trainer.system.agent
    forward = agent.forward
    agent.forward = lambda inputs, mask, prompt, steps=None: forward(inputs, mask, prompt * 0.0, steps)


def llm_weights_in_bf16(trainer):
    trainer.system.encoder.llm.to(torch.bfloat16)  # as if a checkpoint were loaded in its stored dtype


def cache_returns_other_values(trainer):
    lookup = trainer.cache.lookup

    def perturbed(key, step):
        prompt = lookup(key, step)
        return None if prompt is None else prompt + 1e-3

    trainer.cache.lookup = perturbed


@pytest.mark.parametrize("fault, must_fail, must_pass, words, precision", [
    (no_grad_encoder, {1, 2}, {3, 4, 5, 6, 10}, "no_grad", "fp32"),
    (detached_prompt, {2}, {1, 3, 4, 5, 6, 10}, "detached", "fp32"),
    (encoder_left_out_of_optimizer, {5}, {1, 2, 3, 4, 6, 7, 8, 10}, "not in the optimiser", "fp32"),
    (encoder_in_eval_mode, {4}, {1, 2, 3, 5, 6, 7, 8, 9, 10}, "eval mode", "fp32"),
    (prompt_scaled_to_zero, {3}, {1, 2, 4, 5, 6, 10}, "does not depend on the prompt", "fp32"),
    (llm_weights_in_bf16, {6}, {1, 2, 3, 4, 5, 7, 8, 9, 10}, "encoder.llm.embed_tokens.weight is torch.bfloat16", "bf16"),
    (cache_returns_other_values, {7}, {1, 2, 3, 4, 5, 6, 8, 9, 10}, "differs from the stored", "fp32"),
], ids=["no_grad", "detach", "optimizer", "eval", "zero_prompt", "bf16_weights", "cache_value"])
def test_each_break_fails_its_check(small_tasks_dir, tmp_path, fault, must_fail, must_pass, words, precision):
    cfg = tiny_config(small_tasks_dir, tmp_path, precision=precision)
    diagnosis = run_diagnosis(cfg, fault=fault)
    status = statuses(diagnosis)
    assert must_fail <= failed(diagnosis), status
    assert all(status[c] == "PASS" for c in must_pass), status
    first = diagnosis.checks[min(must_fail) - 1]
    assert words in first.message, first.message


def cli_args(tasks_dir, out) -> list[str]:
    return ["diagnose", "--preset", "tiny", "--tasks", str(tasks_dir), "--set", "data.val_fraction=0.2",
            "--precision", "fp32", "--device", "cpu", "--out", str(out), "--json"]


@pytest.mark.parametrize("broken", [False, True], ids=["working", "no_grad"])
def test_cli_json_and_exit_code(small_tasks_dir, tmp_path, capsys, monkeypatch, broken):
    from arc_efe.encoder.qwen import TaskEncoder

    if broken:
        monkeypatch.setattr(TaskEncoder, "forward", torch.no_grad()(TaskEncoder.forward))
    # --prompt-refresh 1 is raised to 2 so the second step still exercises the cache (check 7).
    code = main(cli_args(small_tasks_dir, tmp_path) + ["--prompt-refresh", "1"])
    rows = json.loads(capsys.readouterr().out)
    assert [r["check"] for r in rows] == list(range(1, 11))
    assert all({"name", "status", "value", "message"} <= set(r) and r["status"] in ("PASS", "FAIL") for r in rows)
    assert code == (1 if broken else 0)
    assert rows[0]["status"] == ("FAIL" if broken else "PASS")
    assert rows[6]["status"] == ("FAIL" if broken else "PASS")  # encoder gets no gradient when broken
    assert (tmp_path / "metrics.jsonl").exists()
