"""The doctor passes on working systems (full, LoRA, frozen encoder) and names the check each break fails."""

import importlib
import json

import pytest
import torch
from accelerate.state import AcceleratorState

from arc_efe.cli.main import main
from arc_efe.diagnose.runner import run_diagnosis
from arc_efe.training.setup import build_optimizer, build_scheduler

from ..training.conftest import tiny_config


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
    agent.forward = lambda inputs, mask, prompt, **kw: forward(inputs, mask, prompt * 0.0, **kw)


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
    # 9 too: a bf16 norm weight of 1.0 cannot hold a step of lr 3e-4, so its update is rounded away
    (llm_weights_in_bf16, {6, 9}, {1, 2, 3, 4, 5, 7, 8, 10}, "encoder.llm.embed_tokens.weight is torch.bfloat16",
     "bf16"),
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
    from arc_efe.encoder.task_encoder import TaskEncoder

    if broken:
        monkeypatch.setattr(TaskEncoder, "forward", torch.no_grad()(TaskEncoder.forward))
    # --prompt-refresh 1 is raised to 2 so the second step still exercises the cache (check 7).
    code = main(cli_args(small_tasks_dir, tmp_path) + ["--prompt-refresh", "1"])
    rows = json.loads(capsys.readouterr().out)
    assert [r["check"] for r in rows] == list(range(1, 11))
    assert all({"name", "status", "value", "message"} <= set(r) and r["status"] in ("PASS", "FAIL") for r in rows)
    assert code == (1 if broken else 0)
    # no_grad around the encoder: grad mode off (1), no graph to its weights (2), no encoder gradient on the
    # refresh step (7), Qwen_grad 0 (8), the encoder group does not move (9); the rest still hold.
    expected = "FFPPPPFFFP" if broken else "PPPPPPPPPP"
    assert "".join(r["status"][0] for r in rows) == expected, [(r["check"], r["message"]) for r in rows]
    assert (tmp_path / "metrics.jsonl").exists()


def test_an_oracle_run_is_refused_by_name_before_anything_is_built(small_tasks_dir, tmp_path, capsys):
    """The doctor follows LLM gradients; a RuleOracle run used to end in an AttributeError deep in a probe."""
    code = main(cli_args(small_tasks_dir, tmp_path) + ["--set", 'model.encoder.oracle_families=["d8_transform"]'])
    err = capsys.readouterr().err
    assert code == 2 and "oracle_families" in err and "RuleOracle" in err and "Traceback" not in err
    assert not (tmp_path / "metrics.jsonl").exists()


@pytest.fixture(scope="module")
def working(small_tasks_dir, tmp_path_factory):
    """The doctor on the unbroken tiny system: what each sabotage below is compared against."""
    AcceleratorState._reset_state(reset_partial_state=True)
    diagnosis = run_diagnosis(tiny_config(small_tasks_dir, tmp_path_factory.mktemp("working")))
    AcceleratorState._reset_state(reset_partial_state=True)
    return diagnosis


def monitor_logs_projection_grad(trainer):
    """Monitor.observe takes the projection's gradient norm for Qwen_grad instead of the LLM's."""
    monitor = trainer.monitor
    observe = monitor.observe

    def wrong_group(step, result):
        observe(step, result)
        if result.refreshed:
            monitor.last_encoder_grad = result.grad_norms["projection"]

    monitor.observe = wrong_group


def monitor_logs_zero_on_cached_steps(trainer):
    """Monitor.observe takes every step's encoder norm, so cached steps log Qwen_grad 0."""
    monitor = trainer.monitor
    observe = monitor.observe

    def every_step(step, result):
        observe(step, result)
        monitor.last_encoder_grad = result.grad_norms.get("encoder", 0.0)

    monitor.observe = every_step


def step_keeps_loss_scale(train_step):
    """train_step measures the encoder norm before the GradScaler's factor is divided out."""
    def scaled(*args, **kwargs):
        result = train_step(*args, **kwargs)
        result.grad_norms["encoder"] *= 1024.0
        return result
    return scaled


def policy_left_out_of_optimizer(trainer):
    groups = {name: params for name, params in trainer.groups.items() if name != "policy"}
    trainer.optimizer = build_optimizer(groups, trainer.cfg.optim)
    trainer.scheduler = build_scheduler(trainer.optimizer, trainer.cfg.optim.warmup_steps)


def agent_lr_zero(trainer):
    for group in trainer.optimizer.param_groups:
        if group["name"] == "agent":
            group["lr"] = group["initial_lr"] = 0.0
    trainer.scheduler.base_lrs = [group["initial_lr"] for group in trainer.optimizer.param_groups]


def agent_heads_left_out_of_optimizer(trainer):
    heads = {id(p) for p in trainer.system.agent.heads.parameters()}
    groups = dict(trainer.groups, agent=[p for p in trainer.groups["agent"] if id(p) not in heads])
    trainer.optimizer = build_optimizer(groups, trainer.cfg.optim)
    trainer.scheduler = build_scheduler(trainer.optimizer, trainer.cfg.optim.warmup_steps)


def objective_drops_mask_ratio(train_step):
    """The objective stops returning its 'mask_ratio' term (renamed, say), so Mask_ratio is logged as null."""
    def renamed(*args, **kwargs):
        result = train_step(*args, **kwargs)
        result.terms["masked_fraction"] = result.terms.pop("mask_ratio")
        return result
    return renamed


def line_without_reward(format_line):
    """The console line loses its Reward field."""
    def shorter(*args):
        return " | ".join(part for part in format_line(*args).split(" | ") if not part.startswith("Reward"))
    return shorter


def assert_only_check_fails(working, diagnosis, check, words):
    """`check` passed on the working system and fails under the fault; every other check still passes."""
    assert statuses(working)[check] == "PASS"
    assert failed(diagnosis) == {check}, statuses(diagnosis)
    message = diagnosis.checks[check - 1].message
    assert words in message, message


@pytest.mark.parametrize("fault, check, words", [
    (monitor_logs_projection_grad, 8, "Monitor.observe must take grad_norms['encoder']"),
    (policy_left_out_of_optimizer, 9, "parameter groups policy did not change"),
    (agent_lr_zero, 9, "parameter groups agent did not change"),
], ids=["monitor_wrong_group", "policy_not_stepped", "agent_lr_zero"])
def test_checks_8_and_9_fail_under_their_faults(working, small_tasks_dir, tmp_path, fault, check, words):
    diagnosis = run_diagnosis(tiny_config(small_tasks_dir, tmp_path), fault=fault)
    assert_only_check_fails(working, diagnosis, check, words)


@pytest.mark.parametrize("target, wrapper, check, words", [
    ("arc_efe.diagnose.runner.train_step", step_keeps_loss_scale, 8, "differs from the encoder gradient norm"),
    ("arc_efe.diagnose.runner.train_step", objective_drops_mask_ratio, 10, "Mask_ratio missing"),
    ("arc_efe.training.monitor.format_line", line_without_reward, 10, "Reward missing"),
], ids=["qwen_grad_loss_scaled", "mask_ratio_missing", "reward_not_in_line"])
def test_checks_8_and_10_fail_when_reporting_breaks(working, small_tasks_dir, tmp_path, monkeypatch, target,
                                                     wrapper, check, words):
    module, name = target.rsplit(".", 1)
    monkeypatch.setattr(target, wrapper(getattr(importlib.import_module(module), name)))
    diagnosis = run_diagnosis(tiny_config(small_tasks_dir, tmp_path))
    assert_only_check_fails(working, diagnosis, check, words)


@pytest.mark.parametrize("fault, check, words", [
    # check 8 once read only the refresh step's record, so a wrong number on cached steps went unseen
    (monitor_logs_zero_on_cached_steps, 8, "on cached step 2, but every step must report the last refresh"),
    # check 9 once compared each group's largest change only, so a subset that did not step went unseen
    (agent_heads_left_out_of_optimizer, 9, "did not change in the optimiser step: agent.heads."),
], ids=["qwen_grad_zero_on_cached_step", "agent_heads_not_stepped"])
def test_checks_8_and_9_fail_on_faults_they_once_missed(working, small_tasks_dir, tmp_path, fault, check, words):
    diagnosis = run_diagnosis(tiny_config(small_tasks_dir, tmp_path), fault=fault)
    assert_only_check_fails(working, diagnosis, check, words)
    unchanged = diagnosis.checks[8].extra["unchanged_params"]
    assert all(name.startswith("agent.heads.") for name in unchanged) and bool(unchanged) == (check == 9), unchanged
