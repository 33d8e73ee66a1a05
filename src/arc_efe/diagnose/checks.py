"""The ten checks of the gradient-flow doctor: each turns what the probe saw into PASS/FAIL, a value and
a message that says what is wrong and what to do. Pure functions of recorded facts; nothing runs here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from arc_efe.diagnose.probes import GradInfo, StepRecord
from arc_efe.training.step import StepResult

NAMES = {
    1: "grad mode on in the encoder",
    2: "prompt connected to encoder weights",
    3: "prompt reaches the loss",
    4: "encoder in train mode",
    5: "encoder params in the optimiser",
    6: "devices and dtypes agree",
    7: "cached prompts as documented",
    8: "monitor reports Qwen_grad",
    9: "backward runs, every group steps",
    10: "metrics line and metrics.jsonl",
}
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
QWEN_GRAD_RANGE = (1e-9, 1e3)
METRIC_KEYS = ("Loss", "Qwen_grad", "Mask_ratio", "Reward")


@dataclass
class CheckResult:
    check: int
    name: str
    status: str  # "PASS" | "FAIL"
    value: float | None
    message: str
    extra: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "PASS"

    def to_json(self) -> dict:
        value = self.value if self.value is None or math.isfinite(self.value) else None  # JSON has no NaN/Inf
        return {"check": self.check, "name": self.name, "status": self.status, "value": value,
                "message": self.message, **self.extra}


def result(check: int, passed: bool, value: float | None, message: str, **extra) -> CheckResult:
    return CheckResult(check, NAMES[check], "PASS" if passed else "FAIL", value, message, extra)


def listing(names: Iterable[str], limit: int = 4) -> str:
    names = list(names)
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def grad_norm(record: StepRecord, names: Iterable[str]) -> float:
    """L2 norm over the named parameters' recorded gradients (0 for those that got none)."""
    return math.sqrt(sum(record.grads[n].norm ** 2 for n in names if n in record.grads))


def check_grad_mode(rec: StepRecord) -> CheckResult:
    """1: the encoder's forward body runs with autograd recording (no no_grad / inference_mode)."""
    modes = rec.encoder_modes
    if not modes:
        return result(1, False, None, "the encoder did not run on the refresh step, so its grad mode could not "
                      "be measured: prompts came from somewhere else (a stale cache?). Run with a fresh cache.")
    off = sum(1 for grad_on, inference in modes if not grad_on or inference)
    value = (len(modes) - off) / len(modes)
    if any(inference for _, inference in modes):
        return result(1, False, value, "torch.inference_mode was on inside the encoder's forward: its output "
                      "can never get gradients. Use inference_mode only in solving, never in the training step.")
    if off:
        return result(1, False, value, f"gradient recording was off in {off} of {len(modes)} LLM/projection "
                      "calls inside the encoder's forward: a torch.no_grad() wraps the encoder call (or the "
                      "encoder wraps itself), so the encoder never learns. Remove it from the training path; "
                      "keep no_grad for inference only (ArcSystem.encode).")
    if not (rec.agent_grad_modes and rec.agent_grad_modes[-1]):
        return result(1, False, value, "the agent's training forward (the one the loss uses) ran without grad "
                      "mode: no no_grad may wrap the step. Only the acc_before pass may be graph-free.")
    return result(1, True, value, f"grad on, inference mode off in all {len(modes)} LLM/projection calls inside "
                  "the encoder and in the agent's training forward")


def check_prompt_connected(rec: StepRecord, targets: Mapping[str, nn.Parameter], frozen: bool) -> CheckResult:
    """2: the agent's prompt has an autograd path to every trainable encoder parameter."""
    what = "projection (LLM frozen)" if frozen else "LLM + projection"
    if rec.prompt_requires_grad is None:
        return result(2, False, None, "the agent never ran with grad mode on, so the prompt it used has no graph; "
                      "see check 1.")
    missing = [name for name, p in targets.items() if id(p) not in rec.reachable]
    value = (len(targets) - len(missing)) / max(1, len(targets))
    if not rec.prompt_requires_grad:
        return result(2, False, value, "the prompt the agent received carries no autograd graph (it was "
                      "detached, taken via .data/.item()/numpy, or computed under no_grad): the EFE loss cannot "
                      "reach the encoder. Pass the encoder's output to the agent as is on refresh steps "
                      "(system.py ArcSystem.forward); only the policy's input and δ are meant to be detached.")
    if missing:
        return result(2, False, value, f"the agent's prompt is connected to only {len(targets) - len(missing)} of "
                      f"{len(targets)} trainable {what} parameters; not to {listing(missing)}. Something between "
                      "them and the prompt cuts the graph (detach, .data, a copy) or they are unused in forward.",
                      unreachable=missing)
    return result(2, True, value, f"autograd path from the agent's prompt to all {len(targets)} trainable {what} "
                  "parameters")


def check_prompt_reaches_loss(rec: StepRecord) -> CheckResult:
    """3: d loss / d prompt at the agent's input is non-zero and finite."""
    value = rec.prompt_grad_norm
    if value is None:
        return result(3, False, None, "the agent never ran with grad mode on, so d loss / d prompt cannot be "
                      "measured; see check 1.")
    if not math.isfinite(value) or value <= 0.0:
        return result(3, False, value, f"||d loss / d prompt|| = {value:.3g} at the agent's input: the loss does "
                      "not depend on the prompt, so the encoder and the policy's p' cannot matter. Check that "
                      "the agent conditions on the prompt (FiLM) and that nothing zeroes or replaces it.")
    return result(3, True, value, f"||d loss / d prompt|| = {value:.3e} at the agent's input")


def check_train_mode(rec: StepRecord) -> CheckResult:
    """4: every encoder submodule that holds a trainable weight is in train mode while the step runs.

    Frozen means the LLM is a fixed feature extractor: its submodules hold no trainable weight, so they
    may be (and TaskEncoder.train keeps them) in eval mode; the projection must still train. Under LoRA
    the layers holding adapters must be in train mode (LoRA dropout); frozen leaves such as the
    embedding may be in either mode.
    """
    if rec.eval_modules is None:
        return result(4, False, None, "the encoder did not run on the refresh step; see check 1.")
    bad = rec.eval_modules
    if bad:
        return result(4, False, float(len(bad)), f"{len(bad)} encoder submodules holding trainable weights are "
                      f"in eval mode during training: {listing(bad)}. Dropout and other train-time behaviour are "
                      "off (from_pretrained returns eval mode). Call system.train() before training and after "
                      "every evaluation.", eval_modules=bad)
    return result(4, True, 0.0, "every encoder submodule holding a trainable weight is in train mode (a frozen "
                  "LLM may stay in eval mode)")


def _base_lr(group: dict) -> float:
    return group.get("initial_lr", group["lr"])  # LambdaLR keeps the un-warmed lr as initial_lr


def check_optimizer(encoder: nn.Module, param_groups: list[dict], encoder_lr: float, train_mode: str) -> CheckResult:
    """5: every trainable encoder parameter is in the optimiser at the encoder lr (--qwen-lr); no frozen one is."""
    owner = {id(p): group for group in param_groups for p in group["params"]}
    named = list(encoder.named_parameters(prefix="encoder"))
    trainable = [(n, p) for n, p in named if p.requires_grad]
    llm_trainable = [n for n, _ in trainable if n.startswith("encoder.llm.")]
    if train_mode != "frozen" and not llm_trainable:
        return result(5, False, 0.0, f"encoder train_mode is {train_mode!r} but no LLM parameter requires grad: "
                      "the LLM was frozen somewhere else. Use --llm-train frozen if that is meant.")
    missing = [n for n, p in trainable if id(p) not in owner]
    wrong_lr = [f"{n} (lr {_base_lr(owner[id(p)]):g})" for n, p in trainable
                if id(p) in owner and not math.isclose(_base_lr(owner[id(p)]), encoder_lr, rel_tol=1e-6)]
    frozen_in = [n for n, p in named if not p.requires_grad and id(p) in owner]
    value = (len(trainable) - len(missing) - len(wrong_lr)) / max(1, len(trainable))
    if missing:
        return result(5, False, value, f"{len(missing)} of {len(trainable)} trainable encoder parameters are not "
                      f"in the optimiser: {listing(missing)}. They get gradients but never change. Add them to "
                      "the 'encoder' parameter group (ArcSystem.parameter_groups, training/setup.py build_optimizer).",
                      missing=missing)
    if wrong_lr:
        return result(5, False, value, f"encoder parameters with an lr other than --qwen-lr {encoder_lr:g}: "
                      f"{listing(wrong_lr)}. Put them in the encoder group.")
    if frozen_in:
        return result(5, False, value, f"{len(frozen_in)} frozen encoder parameters are in the optimiser: "
                      f"{listing(frozen_in)}. Filter parameter groups by requires_grad (weight decay would "
                      "still move them).")
    if train_mode == "frozen":
        return result(5, True, value, f"LLM frozen: none of its parameters in the optimiser, as expected; the "
                      f"projection's {len(trainable)} parameters are, at lr {encoder_lr:g}")
    return result(5, True, value, f"all {len(trainable)} trainable encoder parameters ({len(llm_trainable)} LLM, "
                  f"{len(trainable) - len(llm_trainable)} projection) in the optimiser at lr {encoder_lr:g}; no "
                  "frozen one")


def _same_device(a: torch.device, b: torch.device) -> bool:
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


def check_devices_dtypes(named: Mapping[str, nn.Parameter], records: list[StepRecord], device: torch.device,
                         precision: str, has_scaler: bool) -> CheckResult:
    """6: params, activations and grads sit on the accelerator's device in the dtypes the precision implies."""
    expected = AUTOCAST_DTYPES[precision]
    problems = [f"{n} on {p.device}" for n, p in named.items() if not _same_device(p.device, device)]
    problems += [f"{n} is {p.dtype}" for n, p in named.items() if p.requires_grad and p.dtype != torch.float32]
    for rec in records:
        problems += [f"grad of {n} is {g.dtype} on {g.device}" for n, g in rec.grads.items()
                     if g.dtype != named[n].dtype or not _same_device(g.device, named[n].device)]
        if rec.cell_logits is not None:
            dtype, where = rec.cell_logits
            if dtype != expected or not _same_device(where, device):
                problems.append(f"agent cell logits are {dtype} on {where}")
    outputs = records[0].encoder_outputs if records else []
    # An encoder may upcast its prompt to float32; a narrower dtype than the precision asks for is wrong.
    if outputs and (outputs[0].dtype not in (expected, torch.float32) or not _same_device(outputs[0].device, device)):
        problems.append(f"encoder prompt is {outputs[0].dtype} on {outputs[0].device}")
    if precision == "fp16" and not has_scaler:
        problems.append("fp16 without a GradScaler")
    if problems:
        return result(6, False, float(len(problems)), f"under --precision {precision} on {device} expected float32 "
                      f"weights and grads and {expected} activations; found: {listing(problems)}. Let accelerate "
                      "place the model and run the step inside accelerator.autocast(); keep trainable weights in "
                      "float32 (load checkpoints with dtype=torch.float32; autocast picks the compute dtype).",
                      problems=problems)
    scaler = ", GradScaler on" if has_scaler else ""
    prompt = f", prompt {_short(outputs[0].dtype)}" if outputs else ""
    return result(6, True, 0.0, f"all parameters and gradients float32 on {device}; cell logits "
                  f"{_short(expected)}{prompt} under {precision}{scaler}")


def _short(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def check_prompt_cache(refresh: StepRecord, cached: StepRecord, results: tuple[StepResult, StepResult],
                       stored: torch.Tensor | None, side: list[str], label: str) -> CheckResult:
    """7: refresh step trains the encoder; the cached step reuses the stored prompt bitwise, with no grad.

    `stored` [B, P] is the cache's entries for the batch after the refresh step; `side` names the
    parameters whose gradients stand for the encoder (`label`: the LLM, or the projection when frozen).
    """
    g_refresh, g_cached = grad_norm(refresh, side), grad_norm(cached, side)
    problems = []
    if not results[0].refreshed:
        problems.append("the first step did not run the encoder (the cache was not empty)")
    if results[1].refreshed or cached.encoder_modes:
        problems.append("the second step ran the encoder instead of using the cache (same batch, within "
                        "prompt_refresh): cached_prompts()/batch_keys() in training/step.py miss")
    if g_refresh <= 0.0:
        problems.append(f"the refresh step gave the {label} no gradient (see checks 2, 3)")
    if g_cached != 0.0:
        problems.append(f"the cached step gave the {label} gradient {g_cached:.3e}: cached prompts must be "
                        "stored detached (PromptCache.store)")
    prompt = cached.cached_prompt
    if stored is None or not refresh.encoder_outputs:
        problems.append("the refresh step stored no prompt for the batch's keys in the cache")
    elif prompt is None:
        problems.append("the system got no cached_prompt on the cached step")
    elif prompt.requires_grad:
        problems.append("the cached prompt still carries an autograd graph")
    elif not torch.equal(prompt, stored):
        problems.append("the cached prompt differs from the stored cache entries")
    elif not torch.equal(stored, refresh.encoder_outputs[0]):
        problems.append("the stored cache entries differ from the encoder's output on the refresh step")
    extra = {"refresh_grad_norm": g_refresh}
    if problems:
        return result(7, False, g_cached, "; ".join(problems) + ".", problems=problems, **extra)
    return result(7, True, g_cached, f"refresh step: {label} grad norm {g_refresh:.3e}; cached step: 0, and the "
                  f"agent got the stored prompts bitwise ({tuple(prompt.shape)})", **extra)


def _logged_qwen_grad(results: Sequence[StepResult], logged: Sequence[dict],
                      reported: float) -> tuple[list, str | None]:
    """What each step logged as Qwen_grad, and the first way it breaks Monitor's promise (None if it keeps it).

    The promise (training/monitor.py): every record carries the encoder norm of the last refresh step
    (`reported` for the first), so a cached step repeats it rather than logging its own norm, always 0.
    """
    values = [record.get("Qwen_grad") for record in logged]
    if not values or values[0] is None:
        return values, "metrics.jsonl has no Qwen_grad for the refresh step: Monitor.record must write it."
    if values[0] != reported:
        return values, (f"the monitor logged Qwen_grad {values[0]:.3e} but the refresh step measured "
                        f"{reported:.3e}: Monitor.observe must take grad_norms['encoder'] of refresh steps.")
    expected = reported
    for step, (r, value) in enumerate(zip(results[1:], values[1:]), start=2):
        if r.refreshed and not r.skipped:
            expected = r.grad_norms.get("encoder", 0.0)
        if value is None:
            return values, f"metrics.jsonl has no Qwen_grad for step {step}: Monitor.record must write it."
        if value != expected:
            what = "refresh step" if r.refreshed else "cached step"
            return values, (f"the monitor logged Qwen_grad {value:.3e} on {what} {step}, but every step must report "
                            f"the last refresh step's encoder norm, {expected:.3e}: Monitor.observe must update "
                            "last_encoder_grad on refresh steps only (a cached step gives the encoder no gradient).")
    return values, None


def check_grad_monitor(results: Sequence[StepResult], logged: Sequence[dict], measured: float,
                       trainable_llm: bool) -> CheckResult:
    """8: every step's record logs the encoder gradient norm of the refresh step, and it is plausible.

    `results` and `logged` are the steps' results and metrics.jsonl records in order, refresh step first.
    """
    refresh = results[0]
    if refresh.skipped:
        return result(8, False, None, "the refresh step's loss was NaN/Inf, so it measured no Qwen_grad; see "
                      "check 9.")
    reported = refresh.grad_norms.get("encoder")
    if reported is None:
        return result(8, False, None, "StepResult.grad_norms has no 'encoder' entry: train_step does not measure "
                      "the encoder group, so Qwen_grad cannot be logged.")
    values, broken = _logged_qwen_grad(results, logged, reported)
    value = values[0] if values else None
    if broken:
        return result(8, False, value, broken, logged=values)
    if not trainable_llm:
        ok = value == 0.0
        return result(8, ok, value, "LLM frozen: Qwen_grad is 0 as expected and logged (the projection's norm is "
                      "logged as grad/projection)" if ok else f"LLM frozen but Qwen_grad is {value:.3e}: the "
                      "encoder group holds parameters that should be frozen.")
    if not math.isclose(value, measured, rel_tol=1e-3, abs_tol=1e-12):
        return result(8, False, value, f"Qwen_grad {value:.3e} differs from the encoder gradient norm the doctor "
                      f"measured in backward, {measured:.3e}: the monitor reports a wrong number (under fp16, "
                      "the GradScaler's loss scale must be divided out before measuring).", measured=measured)
    low, high = QWEN_GRAD_RANGE
    if value == 0.0:
        return result(8, False, value, "Qwen_grad is 0: the monitor works, but the encoder got no gradient on the "
                      "refresh step; see checks 1-3 for where the path breaks.")
    if not low <= value <= high:
        hint = "vanishing: the loss barely reaches the encoder" if value < low else "exploding: lower --qwen-lr"
        return result(8, False, value, f"Qwen_grad {value:.3e} is outside [{low:g}, {high:g}] ({hint}).")
    return result(8, True, value, f"Qwen_grad {value:.3e} logged for the refresh step and repeated on the cached "
                  "step, equal to the encoder gradient norm measured in backward")


def check_step_updates(results: tuple[StepResult, StepResult], changes: Mapping[str, float],
                       groups: Mapping[str, list[str]], grads: Mapping[str, GradInfo], no_grad: list[str],
                       zero_grad: list[str]) -> CheckResult:
    """9: both steps back-propagate a finite loss, and the first step changes every parameter it gave a gradient.

    `changes` is each trainable parameter's largest absolute change over the refresh step, by name;
    `groups` names the members of each parameter group; `grads` the refresh step's gradients.
    """
    loss = results[0].loss
    group_changes = {group: max(changes[n] for n in names if n in changes)
                     for group, names in groups.items() if any(n in changes for n in names)}
    stuck = [n for n, delta in changes.items() if delta == 0.0 and n in grads and grads[n].norm > 0.0]
    extra = {"loss": loss, "params_without_grad": no_grad, "params_with_zero_grad": zero_grad,
             "group_changes": group_changes, "unchanged_params": stuck}
    if any(r.skipped for r in results):
        return result(9, False, None, "the loss was NaN/Inf, so train_step skipped the update; run with "
                      "--precision fp32 to tell an overflow from a bug in the objective.", **extra)
    unchanged = [name for name, delta in group_changes.items() if delta == 0.0]
    value = min(group_changes.values()) if group_changes else None
    if unchanged:
        return result(9, False, value, f"loss {loss:.4f} is finite but parameter groups {listing(unchanged)} did "
                      "not change in the optimiser step: they got no gradient, are not in the optimiser, or have "
                      "lr 0." + (f" Parameters without gradient: {listing(no_grad)}." if no_grad else ""), **extra)
    if stuck:
        narrow = sorted({_short(grads[n].dtype) for n in stuck if grads[n].dtype != torch.float32})
        # A bf16 weight of 1.0 cannot take a step below 2^-8: the update is computed, then rounded away.
        rounding = f" Some are {'/'.join(narrow)}, too coarse to hold a small update: see check 6." if narrow else ""
        return result(9, False, value, f"loss {loss:.4f} is finite but {len(stuck)} parameters got a non-zero "
                      f"gradient on the refresh step and did not change in the optimiser step: {listing(stuck)}. "
                      "They are missing from the optimiser (ArcSystem.parameter_groups, training/setup.py "
                      f"build_optimizer) or sit in a parameter group with lr 0.{rounding}", **extra)
    moved = ", ".join(f"{name} {delta:.1e}" for name, delta in group_changes.items())
    return result(9, True, value, f"loss {loss:.4f} finite on both steps; every parameter with a gradient changed "
                  f"(max |Δ| per group: {moved})", **extra)


def check_metrics(lines: list[str], records: list[dict]) -> CheckResult:
    """10: the console line and metrics.jsonl of both steps name Loss, Qwen_grad, Mask_ratio and Reward."""
    if not lines or len(records) < 2:
        return result(10, False, 0.0, f"the monitor wrote {len(lines)} lines and {len(records)} metrics.jsonl "
                      "records for 2 steps: it runs on the main process only; run the doctor in one process.")

    def number(value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

    absent = [k for k in METRIC_KEYS if not all(k in line for line in lines)
              or not all(number(r.get(k)) for r in records)]
    value = float(len(METRIC_KEYS) - len(absent))
    if absent:
        return result(10, False, value, f"{listing(absent)} missing or not a finite number in the metrics line "
                      "or metrics.jsonl (training/monitor.py format_line / Monitor.record).", line=lines[-1])
    return result(10, True, value, f"{', '.join(METRIC_KEYS)} in the line and in metrics.jsonl for both steps",
                  line=lines[-1])
