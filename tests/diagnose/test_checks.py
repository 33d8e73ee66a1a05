"""Checks 8 and 9 as pure functions of recorded facts: the cases two real steps cannot easily stage."""

import math

import torch

from arc_efe.diagnose.checks import check_grad_monitor, check_step_updates
from arc_efe.diagnose.probes import GradInfo
from arc_efe.training.step import StepResult


def step(encoder_norm: float | None, refreshed: bool, skipped: bool = False) -> StepResult:
    norms = {} if encoder_norm is None else {"encoder": encoder_norm}
    loss = math.nan if skipped else 1.0
    return StepResult(loss, loss, {}, norms, 0.0, 0.0, 0.0, refreshed, skipped)


def logged(*values) -> list[dict]:
    return [{"Qwen_grad": v} for v in values]


def test_check_8_follows_the_last_refresh_step_across_refreshes_and_skips():
    results = [step(0.5, True), step(0.0, False), step(0.25, True), step(None, False, skipped=True)]
    check = check_grad_monitor(results, logged(0.5, 0.5, 0.25, 0.25), measured=0.5, trainable_llm=True)
    assert check.passed, check.message
    assert check.value == 0.5


def test_check_8_fails_on_a_later_refresh_step_that_keeps_the_old_norm():
    results = [step(0.5, True), step(0.0, False), step(0.25, True)]
    check = check_grad_monitor(results, logged(0.5, 0.5, 0.5), measured=0.5, trainable_llm=True)
    assert not check.passed
    assert "on refresh step 3" in check.message and "2.500e-01" in check.message


def test_check_8_fails_when_a_cached_record_lacks_qwen_grad():
    results = [step(0.5, True), step(0.0, False)]
    check = check_grad_monitor(results, [{"Qwen_grad": 0.5}, {}], measured=0.5, trainable_llm=True)
    assert not check.passed and "no Qwen_grad for step 2" in check.message


def test_check_8_names_a_skipped_refresh_step_instead_of_a_missing_entry():
    check = check_grad_monitor([step(None, True, skipped=True), step(0.0, False)], logged(0.0, 0.0), 0.0, True)
    assert not check.passed and "NaN/Inf" in check.message


def grad(norm: float, dtype: torch.dtype = torch.float32) -> GradInfo:
    return GradInfo(norm, dtype, torch.device("cpu"))


def test_check_9_passes_an_unchanged_parameter_whose_gradient_was_zero():
    # LoRA's A matrices: exactly zero gradient on the first step, so not moving is expected.
    changes = {"a.weight": 1e-4, "a.lora_A": 0.0}
    grads = {"a.weight": grad(1.0), "a.lora_A": grad(0.0)}
    check = check_step_updates((step(1.0, True), step(0.0, False)), changes, {"agent": list(changes)}, grads,
                               [], ["a.lora_A"])
    assert check.passed, check.message
    assert check.extra["unchanged_params"] == []


def test_check_9_names_the_unstepped_parameters_and_their_coarse_dtype():
    changes = {"a.weight": 1e-4, "a.norm": 0.0, "b.norm": 0.0}
    grads = {"a.weight": grad(1.0), "a.norm": grad(0.1, torch.bfloat16), "b.norm": grad(0.2)}
    # Every group moved (a.weight carries it), so only a per-parameter record can see the other two.
    check = check_step_updates((step(1.0, True), step(0.0, False)), changes, {"agent": list(changes)}, grads, [], [])
    assert not check.passed
    assert check.extra["group_changes"] == {"agent": 1e-4}
    assert check.extra["unchanged_params"] == ["a.norm", "b.norm"]
    assert "2 parameters" in check.message and "a.norm, b.norm" in check.message
    assert "bfloat16" in check.message
