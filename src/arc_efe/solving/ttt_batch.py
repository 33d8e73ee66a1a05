"""Test-time training of K tasks at once: the same fit as `ttt.fit_task`, each task ("lane") with its own
tuned weights, offsets, Adam state, rows, checks, clock and early stop, but one agent pass per update for
all of them.

Why: on a GPU one task's update (8 rows of a 0.8 M-parameter agent) is launch-bound, so K tasks in one
pass cost about what one does. How: each lane's copy of the adapter's parameters and its offsets [V, P]
are stacked on a leading lane dimension, and `torch.func.vmap` runs `functional_call(agent, ...)` over
that dimension; the agent's own parameters are never written (no `TaskAdapter` needed), and each lane's
kept values come back in its `TTTResult.adapter`. Per-lane Adam is torch's own Adam on the stacked
tensors: Adam is elementwise, and every live lane has made the same number of updates (all start
together; a lane that stops is dropped from the stack with its Adam state), so one Adam over the stack
is K Adams.

Canvas: `fit_task` runs an update's rows on the smallest canvas that holds them. The agent's outputs on
an S canvas equal the 30x30 outputs cropped to S only while every step's size guess fits in S
(`agent/core.py`); an untrained guess often does not, and is clipped to the canvas. So lanes whose output
size is unknown run in one pass per canvas side (bucketed by the side their rows need), and only lanes
with a known output size (a size rule: every guess is the true size, inside the smallest canvas) share
one pass, padded to the largest side among them, which changes their values by float rounding only.

Checks (every demo in every view, no gradient) run vmapped too, one pass per (canvas, known size) of the
lanes' check rows, each lane's rows padded to the group's count with copies of its first row (rows do
not interact).
Equality with `fit_task` (same rows, seeds, steps, kept step, weights) is tested in
tests/solving/test_ttt_batch.py.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, vmap

from arc_efe.agent.output import AgentOutput
from arc_efe.data.grid import NUM_COLORS
from arc_efe.data.task import Task
from arc_efe.solving.clock import TaskClock
from arc_efe.solving.row_tables import RowTables
from arc_efe.solving.ttt import (CHECK, FUSED_ADAM_DEVICES, UPDATE, RowPrompts, TTTConfig, TTTResult, UpdateRows,
                                 _Best, _measure, check_batch, draw_rows, fixed_colors, offset_width, row_losses)
from arc_efe.system import ArcSystem

logger = logging.getLogger(__name__)


@dataclass
class FitJob:
    """One task's test-time training, with `fit_task`'s arguments (see there)."""

    task: Task
    views: list[int]  # D8 ids, identity first
    prompts: torch.Tensor  # [V, P]
    clock: TaskClock
    until: float | None = None
    holdout: int | None = None
    seed: int = 0
    known_size: bool = False
    row_prompts: RowPrompts | None = None


def tuned_names(agent: nn.Module, adapter: tuple[str, ...]) -> list[str]:
    """The agent's parameter names under the submodules `adapter`, in `TaskAdapter.params` order."""
    parts = dict(agent.named_children())
    unknown = [n for n in adapter if n not in parts]
    if unknown:
        raise ValueError(f"ttt.adapter: no agent submodule {unknown}; known: {sorted(parts)}")
    return [f"{n}.{p}" for n in adapter for p, _ in parts[n].named_parameters()]


class _Stack:
    """Every live lane's tuned parameters and offsets, stacked on dim 0, with one Adam over them."""

    def __init__(self, agent: nn.Module, names: list[str], prompts: list[torch.Tensor], cfg: TTTConfig,
                 moved: int):
        own = dict(agent.named_parameters())
        self.moved = moved  # leading prompt numbers the offsets move (`offset_width`)
        lanes, views = len(prompts), max(len(p) for p in prompts)
        self.cfg, self.device = cfg, prompts[0].device
        # The parameters no lane tunes, and buffers: shared, unbatched.
        self.frozen = {n: p for n, p in own.items() if n not in names} | dict(agent.named_buffers())
        self.tuned = {n: own[n].detach().unsqueeze(0).repeat(lanes, *[1] * own[n].dim()).requires_grad_(True)
                      for n in names}  # each [K, ...]
        # per lane and view (views a lane lacks are never indexed); the prompts themselves are the lanes'
        self.offsets = prompts[0].new_zeros(lanes, views, prompts[0].shape[1]).requires_grad_(True)  # [K, V_max, P]
        self.optimizer = self._adam()

    def _adam(self) -> torch.optim.Adam:
        groups = [{"params": [self.offsets], "lr": self.cfg.prompt_lr}]
        if self.tuned:
            groups.append({"params": list(self.tuned.values()), "lr": self.cfg.adapter_lr})
        return torch.optim.Adam(groups, fused=self.device.type in FUSED_ADAM_DEVICES)

    def keep(self, lanes: list[int]) -> None:
        """Keep only the stack positions `lanes` (in that order), their Adam state with them."""
        index = torch.tensor(lanes, dtype=torch.long, device=self.device)
        old = [self.offsets, *self.tuned.values()]
        state = self.optimizer.state
        self.offsets = self.offsets.detach()[index].requires_grad_(True)
        self.tuned = {n: t.detach()[index].requires_grad_(True) for n, t in self.tuned.items()}
        self.optimizer = self._adam()
        for before, after in zip(old, [self.offsets, *self.tuned.values()]):
            if before in state:  # the step count is shared (0-dim); the moments are per lane
                self.optimizer.state[after] = {k: v.clone() if v.dim() == 0 else v[index].clone()
                                               for k, v in state[before].items()}


class LaneWeights:
    """Stack position `k`'s tuned values, snapshotted like `TaskAdapter.snapshot` (for `ttt._Best`)."""

    def __init__(self, stack: _Stack, k: int):
        self.stack, self.k = stack, k

    def snapshot(self) -> list[torch.Tensor]:
        return [t[self.k].detach().clone() for t in self.stack.tuned.values()]


class _Lane:
    """One task's fit: `fit_task`'s per-task state, scored with the weights at its stack position."""

    def __init__(self, job: FitJob, cfg: TTTConfig, system: ArcSystem):
        self.job, self.cfg = job, cfg
        self.rng = np.random.default_rng(job.seed)
        checks, self.demo_index, self.view_index = check_batch(job.task, job.views)
        self.checks = checks.to(job.prompts.device)
        self.table = UpdateRows(job.task, job.views)
        held = -1 if job.holdout is None else job.holdout
        self.held = (self.demo_index == held).to(job.prompts.device)  # [R] rows left out of updates
        self.trainable = [i for i in range(len(job.task.train)) if i != job.holdout]
        self.fixed = fixed_colors(job.task) if cfg.color_permute else tuple(range(NUM_COLORS))
        self.row_prompts = job.row_prompts or RowPrompts.of_views(job.prompts)
        self.check_prompts = self.row_prompts.of_checks(self.view_index, self.demo_index).to(job.prompts.device)
        self.tables = RowTables.of(system, self.table, cfg.row_tables)
        if self.tables is not None:
            self.check_prompts = self.tables.apply(self.check_prompts, self.view_index, self.demo_index)
        self.best, self.history = _Best(), []
        self.before, self.checked_at = None, -1
        self.result: TTTResult | FloatingPointError | None = None

    def take_check(self, out: AgentOutput, step: int, stack: _Stack, k: int) -> bool:
        """`fit_task`'s check from this lane's check rows' output `out` with the weights at stack position
        `k`: raise on non-finite logits, offer the step as the best; True when every row is exact."""
        if not bool(torch.isfinite(out.cell_logits).all()):
            raise FloatingPointError(f"test-time training of {self.job.task.id}: non-finite cell logits at the "
                                     f"check after {step} updates")
        scores, held_scores, key = _measure(out, self.checks, self.held)
        self.before = self.before or (scores, held_scores)
        self.best.offer(step, key, stack.offsets[k, : len(self.job.views)], LaneWeights(stack, k), scores,
                        held_scores)
        self.checked_at = step
        return scores.exact == 1.0

    def draw(self) -> tuple[np.ndarray, list[int], list[tuple[int, ...]], np.ndarray]:
        """One update's rows, drawn as `fit_task` draws them."""
        return draw_rows(self.rng, self.cfg.rows_per_step, len(self.job.views), self.trainable, self.fixed,
                         self.row_prompts.colors)

    def prompts_of(self, views: np.ndarray, demos: list[int], colors: list[tuple[int, ...]],
                   which: np.ndarray) -> torch.Tensor:
        """The prompts [R, P] of drawn rows, as `fit_task` reads them."""
        base = self.row_prompts.of_draw(views, demos, which).to(self.job.prompts.device)
        return base if self.tables is None else self.tables.apply(base, views, demos, colors)

    def finish(self, stopped: str) -> None:
        """Stop this lane with the kept step's result (its last check already taken)."""
        best, before = self.best, self.before
        self.result = TTTResult(
            offset=best.offset, steps=len(self.history), best_step=best.step, stopped=stopped,
            before=before[0], after=best.all, holdout_before=before[1], holdout_after=best.holdout,
            history=self.history, adapter=best.adapter,
        )
        logger.debug("%s: test-time trained %d steps (%s), kept step %d", self.job.task.id, len(self.history),
                     stopped, best.step)


def _stop_reason(lane: _Lane, step: int) -> str | None:
    """`fit_task`'s decision after the step's check: why this lane stops now, or None to update."""
    cfg, clock = lane.cfg, lane.job.clock
    if step == cfg.max_steps:
        return "max_steps"
    if not clock.fits(clock.price(UPDATE, 3 * clock.price(CHECK)) + clock.price(CHECK), lane.job.until):
        return "budget"
    return None


def _checks(agent: nn.Module, stack: _Stack, live: list[_Lane], positions: list[int], step: int,
            cfg: TTTConfig, final: bool = False) -> None:
    """The checks of the live lanes at `positions` after `step` updates, one vmapped pass per (canvas,
    known size) with row counts padded by copies of row 0 (rows are independent); a lane whose check
    is exact finishes "solved" (unless it is the `final` check of a lane already stopping), one with
    non-finite logits gets its error. The pass's time counts on every checked lane's clock."""
    groups: dict[tuple[int, bool], list[int]] = {}
    for k in positions:
        lane = live[k]
        groups.setdefault((lane.checks.query_input.shape[-1], lane.job.known_size), []).append(k)
    with ExitStack() as timing, torch.no_grad():
        for k in positions:
            timing.enter_context(live[k].job.clock.stage(CHECK))
        for (_, known), group in groups.items():
            _check_group(agent, stack, [live[k] for k in group], group, known, step, cfg, final)


def _check_group(agent: nn.Module, stack: _Stack, lanes: list[_Lane], positions: list[int], known: bool,
                 step: int, cfg: TTTConfig, final: bool) -> None:
    """One vmapped check pass of `lanes` (at stack `positions`), whose check rows share a canvas."""
    rows = max(len(lane.view_index) for lane in lanes)
    pick = [torch.cat([torch.arange(len(lane.view_index)), torch.zeros(rows - len(lane.view_index), dtype=torch.long)])
            for lane in lanes]

    def stacked(values: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack([v[i.to(v.device)] for v, i in zip(values, pick)])  # [k, rows, ...]

    prompts = [lane.check_prompts + stack.offsets[k][lane.view_index.to(stack.device)]
               for k, lane in zip(positions, lanes)]
    index = torch.tensor(positions, dtype=torch.long, device=stack.device)
    tuned = {n: t[index] for n, t in stack.tuned.items()}

    def one(tuned, inputs, mask, prompt, size):
        out = functional_call(agent, (tuned, stack.frozen), (inputs, mask, prompt),
                              {"steps": cfg.agent_steps, "out_size": size if known else None})
        return out.cell_logits, out.height_logits, out.width_logits, out.halt_logits, out.confidence_logits

    fields = vmap(one)(tuned, stacked([lane.checks.query_input for lane in lanes]),
                       stacked([lane.checks.query_input_mask for lane in lanes]), stacked(prompts),
                       stacked([lane.checks.output_size for lane in lanes]))
    for g, (k, lane) in enumerate(zip(positions, lanes)):
        n = len(lane.view_index)
        out = AgentOutput(*(f[g, :n] for f in fields), given_size=lane.checks.output_size if known else None)
        try:
            if lane.take_check(out, step, stack, k) and not final:
                lane.finish("solved")
        except FloatingPointError as err:
            lane.result = err


def _losses(agent: nn.Module, stack: _Stack, lanes: list[_Lane], positions: list[int],
            draws: list[tuple], canvas: int, known: bool, cfg: TTTConfig) -> torch.Tensor:
    """The demo loss [k] of each of `lanes` (at stack `positions`) on its drawn rows, in one vmapped pass
    on a `canvas` x `canvas` grid. All of them have (`known`) or lack a size rule."""
    parts = [lane.table.batch(rows, demos, colors, canvas=canvas) for lane, (rows, demos, colors, _) in
             zip(lanes, draws)]
    device = stack.device

    def stacked(name: str) -> torch.Tensor:
        return torch.stack([getattr(p, name) for p in parts]).to(device)  # [k, R, ...]

    index = torch.tensor(positions, device=device)
    whole = positions == list(range(len(stack.offsets)))
    tuned = stack.tuned if whole else {n: t[index] for n, t in stack.tuned.items()}
    offsets = stack.offsets if whole else stack.offsets[index]
    bases = torch.stack([lane.prompts_of(r, d, c, w) for lane, (r, d, c, w) in zip(lanes, draws)]
                        ).to(device)  # [k, R, P]
    rows = torch.stack([torch.from_numpy(r) for r, _, _, _ in draws]).to(device)  # [k, R]
    size_weight = 0.0 if known else cfg.size_weight

    def one(tuned, offsets, bases, rows, inputs, input_mask, target, target_mask, target_size):
        prompt = bases + offsets[rows]  # [R, P]
        out = functional_call(agent, (tuned, stack.frozen), (inputs, input_mask, prompt),
                              {"steps": cfg.agent_steps, "out_size": target_size if known else None})
        return row_losses(out, target, target_mask, target_size, size_weight, cfg.all_steps,
                          cfg.wrong_cell_weight).mean()

    return vmap(one)(tuned, offsets, bases, rows, stacked("query_input"), stacked("query_input_mask"),
                     stacked("query_output"), stacked("query_output_mask"), stacked("output_size"))


def _update(agent: nn.Module, stack: _Stack, live: list[_Lane], step: int, cfg: TTTConfig) -> list[_Lane]:
    """One Adam update of every live lane (stack position = index in `live`); returns the lanes whose loss
    was not finite, which took no update (their error is set; the caller drops them)."""
    draws = [lane.draw() for lane in live]
    buckets: dict[int, list[int]] = {}  # canvas side (0: the known-size lanes, padded) -> stack positions
    for k, (lane, (rows, demos, _, _)) in enumerate(zip(live, draws)):
        buckets.setdefault(0 if lane.job.known_size else lane.table.canvas(rows, demos), []).append(k)
    failed: list[_Lane] = []
    while True:
        losses = torch.zeros(len(live), device=stack.device)
        for side, bucket in buckets.items():
            positions = [k for k in bucket if live[k] not in failed]
            if not positions:
                continue
            canvas = side or max(live[k].table.canvas(*draws[k][:2]) for k in positions)
            lanes = [live[k] for k in positions]
            part = _losses(agent, stack, lanes, positions, [draws[k] for k in positions], canvas, side == 0, cfg)
            losses = losses.index_put((torch.tensor(positions, device=stack.device),), part)
        values = losses.detach().tolist()
        bad = [lane for lane, v in zip(live, values) if lane not in failed and not np.isfinite(v)]
        if not bad:
            break
        for lane in bad:  # one NaN update would spoil that lane's weights: it stops, the others redo the pass
            lane.result = FloatingPointError(f"test-time training of {lane.job.task.id}: the demo loss is "
                                             f"{values[live.index(lane)]} at update {step + 1}")
        failed += bad
    stack.optimizer.zero_grad(set_to_none=True)
    losses.sum().backward()  # lanes are independent: each slice of the stack gets its own lane's gradient
    stack.offsets.grad[..., stack.moved :] = 0
    stack.optimizer.step()  # a failed lane's slice moves too, but the caller drops it and keeps its error
    for lane, v in zip(live, values):
        if lane not in failed:
            lane.history.append(v)
    return failed


def fit_tasks(system: ArcSystem, jobs: list[FitJob], cfg: TTTConfig) -> list[TTTResult | FloatingPointError]:
    """`fit_task` for every job at once: per job its `TTTResult` (the kept adapter values in `.adapter`, in
    `TaskAdapter(system.agent_parts(), cfg.adapter).params` order), or the FloatingPointError that stopped
    it. The system's own weights are not changed. Each job stops on its own (solved, max_steps, or its
    clock: one more joint update and its check would not end by its `until`); a joint update's or check's
    time counts on the clock of every job in it."""
    if not jobs:
        return []
    agent = system.agent
    stack = _Stack(agent, tuned_names(agent, cfg.adapter), [job.prompts for job in jobs], cfg,
                   offset_width(system, cfg))
    live = [_Lane(job, cfg, system) for job in jobs]
    lanes = list(live)
    for step in range(cfg.max_steps + 1):
        if step % cfg.check_every == 0:
            _checks(agent, stack, live, list(range(len(live))), step, cfg)
        stopping = {k: reason for k, lane in enumerate(live) if lane.result is None
                    and (reason := _stop_reason(lane, step)) is not None}
        # The last updates' check of each lane that stops now (its time was kept free), unless just taken.
        _checks(agent, stack, live, [k for k in stopping if live[k].checked_at != step], step, cfg, final=True)
        for k, reason in stopping.items():
            if live[k].result is None:
                live[k].finish(reason)
        live = _keep(stack, live, [lane for lane in live if lane.result is None])
        if not live:
            break
        with ExitStack() as timing:  # the joint update's time counts on every live lane's clock
            for lane in live:
                timing.enter_context(lane.job.clock.stage(UPDATE))
            failed = _update(agent, stack, live, step, cfg)
        live = _keep(stack, live, [lane for lane in live if lane not in failed])
    return [lane.result for lane in lanes]


def _keep(stack: _Stack, live: list[_Lane], going: list[_Lane]) -> list[_Lane]:
    """Drop the lanes not `going` from the stack; the lanes that stay, in stack order."""
    if len(going) != len(live):
        stack.keep([live.index(lane) for lane in going])
    return going
