"""The per-task solver: plain prediction, refinement, augmented voting, two attempts, within a budget.

Per task, in one time budget (seconds, everything included), each stage checking the clock:
1. plain prediction (`ArcSystem.plain_attempts`: prompt p and p + policy δ, no augmentation) — the
   baseline the refinement gain is measured against, and the fallback second attempt; it and the
   encoding of the un-augmented demos are timed, which prices the later stages;
2. the prompts of the other spatial views (D8 elements, identity first; each view's prompt encodes
   all demos seen in that view), while that stays within a quarter of the budget; and the demos'
   output-size rule (`size_rule.py`), if any, which from here on fixes every output's size;
3. refinement (`refine.py`: test-time training of the whole agent by default, plus one prompt offset
   per view, at `ttt.agent_steps` planning steps) until the deadline less the voting time (what the
   views need, at most half of what is left);
4. every test input in each view with that view's refined prompt, mapped back by the exact inverse and
   voted (`vote.py`); each view, the first too, is priced, so none passes the deadline.
A NaN in refinement (a non-finite loss or check) leaves the task its plain attempts, with the error in its
record. The held-out demo and the refinement's rows are drawn from a generator seeded by (seed, task id), so a
task's result does not depend on which tasks ran before it.

`Solver.solve_group` solves K tasks at once on a shared clock start and budget: each prepares (steps 1-2)
in turn, their test-time training runs batched (`ttt_batch.py`: one agent pass per update for all), then
each votes in turn. With updates, not time, bounding the fit, each task's record equals its `solve`.
"""

from __future__ import annotations

import logging
import time
import traceback
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from arc_efe.data.augment import IDENTITY, Augmentation
from arc_efe.data.batching import Batch, Sample, collate, make_sample, make_test_sample, query_sample
from arc_efe.data.grid import MAX_SIZE, grid_key
from arc_efe.data.task import Pair, Task
from arc_efe.system import ArcSystem, Prompts, crop
from arc_efe.search import SearchConfig, search_task
from arc_efe.solving.clock import TaskClock
from arc_efe.solving.likelihood import view_likelihoods
from arc_efe.solving.merge import MergeRule, Ranked, attempts_from, merge
from arc_efe.solving.policy_choice import best_draw
from arc_efe.solving.records import TaskRecord
from arc_efe.solving.rules_expert import LENGTH as RULES_LENGTH, PROGRAM as RULES_PROGRAM, rules_predictions
from arc_efe.solving.ttt import (RowPrompts, TTTConfig, TTTResult, TaskAdapter, fit_task, fixed_colors,
                                 random_colors)
from arc_efe.solving.test_tables import leave_one_out_prompts, reads_per_view
from arc_efe.solving.ttt_batch import FitJob, fit_tasks
from arc_efe.solving.size_rule import SizeRule, task_size_rule, view_sizes
from arc_efe.solving.vote import tally_augmented

logger = logging.getLogger(__name__)

Prediction = tuple[Augmentation, np.ndarray, float]  # view, grid in the view's frame, confidence
# stages on the task's clock
PLAIN, ENCODE, VOTE, SEARCH, SCORE, POLICY, RULES = "plain", "encode", "vote", "search", "score", "policy", "rules"
RULES_SECONDS = 0.05  # what the induced-rules program needs of the search's share to run (~10 ms a task)
EXPERTS = ("search", "neural")


@dataclass
class SolveConfig:
    """Per-task solving settings; `refine` holds the refinement's own."""

    time_budget: float = 30.0  # seconds per task, everything included
    attempts: int = 2
    augmentations: int = 8  # spatial views (D8 elements, identity first) that test-time train and vote, 1..8
    size_rule: bool = True  # fix the output size by the demos' size rule when they have one (size_rule.py)
    ttt: TTTConfig = field(default_factory=TTTConfig)
    seed: int = 0
    precision: Literal["fp32", "bf16"] = "fp32"
    vote_reserve: float = 1.1  # safety factor on the estimated voting time kept out of test-time training
    # Experts run in this order on the task's clock; the search gets at most `search_share` of the budget
    # (it stops at the first depth that verifies a program), the neural expert the rest; alone, the whole.
    # 0.15 (3 s of 20): on all 400 arc1/training tasks at 10 s the search found the first program of 181 of
    # its 184 solves within 3 s (BENCHMARKS.md, session 10), so a larger share mostly idles the neural expert.
    experts: list[str] = field(default_factory=lambda: ["search", "neural"])
    search_share: float = 0.15
    search: SearchConfig = field(default_factory=SearchConfig)
    # The search expert also offers the demos' induced cell rules as a program, when every demo follows from the
    # rules of the others (`rules_expert.py`).
    rules: bool = True
    merge: MergeRule = "search_first"  # how the experts' candidates become two attempts (merge.py)
    # The refiner policy's offset δ that every view's prompt starts from: its mode, none, or the best of
    # `policy_draws` seeded draws scored on the leave-one-out demos (policy_choice.py).
    policy: Literal["mode", "off", "best_of_k"] = "mode"
    policy_draws: int = 8
    # A table-reading agent's test inputs: read with the table of all demos, or once per same-size demo left
    # out, averaged (`test_tables.py`: every fitted row read a table of the other demos). No effect without one.
    test_tables: Literal["all", "leave_one_out"] = "all"

    def validate(self) -> None:
        if self.time_budget <= 0:
            raise ValueError(f"time_budget must be > 0 seconds, got {self.time_budget}")
        if self.attempts not in (1, 2):
            raise ValueError(f"attempts must be 1 or 2 (ARC scores two), got {self.attempts}")
        if not 1 <= self.augmentations <= 8:
            raise ValueError(f"augmentations must be 1..8 (spatial views), got {self.augmentations}")
        if self.vote_reserve < 0:
            raise ValueError(f"vote_reserve must be >= 0, got {self.vote_reserve}")
        unknown = [e for e in self.experts if e not in EXPERTS]
        if not self.experts or unknown or len(set(self.experts)) != len(self.experts):
            raise ValueError(f"experts must be distinct names from {list(EXPERTS)}, got {self.experts}")
        if self.policy not in ("mode", "off", "best_of_k"):
            raise ValueError(f"policy must be 'mode', 'off' or 'best_of_k', got {self.policy!r}")
        if self.test_tables not in ("all", "leave_one_out"):
            raise ValueError(f"test_tables must be 'all' or 'leave_one_out', got {self.test_tables!r}")
        if self.policy_draws < 1:
            raise ValueError(f"policy_draws must be >= 1, got {self.policy_draws}")
        if not 0.0 < self.search_share <= 1.0:
            raise ValueError(f"search_share must be in (0, 1], got {self.search_share}")
        self.search.validate()
        self.ttt.validate()


def task_rng(seed: int, task_id: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(task_id.encode())])


def fallback_record(task: Task, attempts: int, seconds: float, error: str) -> TaskRecord:
    """A task that failed still gets valid attempts (its test inputs) so the submission stays complete."""
    rows = [[p.input.copy() for _ in range(attempts)] for p in task.test]
    return TaskRecord(task.id, rows, [list(r) for r in rows], [], seconds, error=error)


@dataclass
class Prepared:
    """A task's state between its preparation and test-time training (`Solver._prepare`)."""

    task: Task
    clock: TaskClock
    search: list[list[Ranked]]  # the search expert's candidates per test input
    plain: list[list[np.ndarray]]  # the plain attempts per test input
    views: list[int]  # D8 ids, identity first
    prompts: torch.Tensor  # [V, P]
    rule: SizeRule | None
    holdout: int | None
    seed: int  # of test-time training's rows
    ttt_until: float  # a clock.now() value: test-time training ends by then
    agent_seconds: float  # one agent pass over the test inputs
    info: dict[str, Any]  # the record's `ttt` entry
    row_prompts: RowPrompts | None = None  # test-time training's own prompts (ttt.prompt_colours, ttt.loo_prompts)


class Solver:
    """Solves tasks one at a time with `system` (put in eval mode with its weights frozen; adapter
    weights are tuned per task and restored after)."""

    def __init__(self, system: ArcSystem, cfg: SolveConfig):
        cfg.validate()
        self.system = system.eval().requires_grad_(False)
        self.cfg = cfg
        self.device = next(system.parameters()).device

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.precision == "bf16")

    def solve(self, task: Task) -> TaskRecord:
        """Solve `task`; any exception becomes a record with the error and fallback attempts."""
        clock = TaskClock(self.cfg.time_budget)
        try:
            with self._autocast():
                record = self._solve(task, clock)
        except Exception as err:  # noqa: BLE001 - one bad task must not stop a 400-task run
            record = self._failed(task, clock, err)
        record.grade(task)
        return record

    def solve_group(self, tasks: list[Task]) -> list[TaskRecord]:
        """Solve `tasks` together, their test-time training in one batched fit (`ttt_batch.py`); one task is
        `solve`. The tasks share one clock start and `time_budget` of wall time: each prepares in turn (its
        search gets `search_share / K` of the budget), they train together, each stopping on its own, until
        their deadline less every task's vote reserve, then each votes in turn. Any exception becomes the
        failing task's record with fallback attempts (the whole group's, if the joint fit raises one).
        Under precision bf16 the batched fit's linear layers stay fp32 (autocast does not reach F.linear
        inside torch.func.vmap, torch 2.13), so `run` refuses that combination."""
        if len(tasks) == 1:
            return [self.solve(tasks[0])]
        clocks = [TaskClock(self.cfg.time_budget) for _ in tasks]
        records: dict[int, TaskRecord] = {}
        preps: dict[int, Prepared] = {}
        with self._autocast():
            for k, (task, clock) in enumerate(zip(tasks, clocks)):
                try:
                    started = self._start(task, clock, self.cfg.search_share / len(tasks))
                except Exception as err:  # noqa: BLE001 - one bad task must not stop the others
                    started = self._failed(task, clock, err)
                (records if isinstance(started, TaskRecord) else preps)[k] = started
            try:
                results = self._fit_group(list(preps.values()))
            except Exception as err:  # noqa: BLE001 - e.g. out of memory: every task of the fit fails
                records |= {k: self._failed(p.task, p.clock, err) for k, p in preps.items()}
                preps = {}
            for (k, prep), result in zip(preps.items(), results):
                try:
                    records[k] = self._conclude_fitted(prep, result)
                except Exception as err:  # noqa: BLE001
                    records[k] = self._failed(prep.task, prep.clock, err)
        for k, task in enumerate(tasks):
            records[k].grade(task)
        return [records[k] for k in range(len(tasks))]

    def _fit_group(self, preps: list[Prepared]) -> list[TTTResult | FloatingPointError | None]:
        """Test-time training of every prepared task at once (None each when it is off). Each stops by its
        deadline less the vote reserve of every task in the group, since they vote one after another."""
        if self.cfg.ttt.max_steps == 0 or not preps:
            return [None] * len(preps)
        reserve = sum(p.clock.deadline - p.ttt_until for p in preps)
        jobs = [FitJob(p.task, p.views, p.prompts, p.clock, p.clock.deadline - reserve, p.holdout, p.seed,
                       known_size=p.rule is not None, row_prompts=p.row_prompts) for p in preps]
        return fit_tasks(self.system, jobs, self.cfg.ttt)

    def _conclude_fitted(self, prep: Prepared, result: TTTResult | FloatingPointError | None) -> TaskRecord:
        """`_conclude` with a batched fit's kept adapter values in the model (plain attempts after a NaN)."""
        if isinstance(result, FloatingPointError):
            return self._plain_record(prep, result)
        with TaskAdapter(self.system.agent_parts(), self.cfg.ttt.adapter) as adapter:
            if result is not None:
                adapter.load(result.adapter)
            return self._conclude(prep, result)

    def _failed(self, task: Task, clock: TaskClock, err: Exception) -> TaskRecord:
        logger.warning("task %s failed: %s\n%s", task.id, err, traceback.format_exc())
        return fallback_record(task, self.cfg.attempts, clock.elapsed(), f"{type(err).__name__}: {err}")

    def _solve(self, task: Task, clock: TaskClock) -> TaskRecord:
        started = self._start(task, clock, self.cfg.search_share)
        return started if isinstance(started, TaskRecord) else self._neural(started)

    def _start(self, task: Task, clock: TaskClock, search_share: float) -> TaskRecord | Prepared:
        """The search expert (within `search_share` of the budget), then the neural expert's preparation;
        without the neural expert, the task's record (and the search had the whole budget: the share is
        what it leaves the neural expert)."""
        if "neural" not in self.cfg.experts:
            search_share = 1.0
        search = self._search(task, clock, search_share) if "search" in self.cfg.experts else [[] for _ in task.test]
        if "neural" not in self.cfg.experts:
            fallback = [[Ranked(p.input.copy(), "plain")] for p in task.test]  # nothing else to offer
            return self._record(task, [[r.grid for r in row] for row in fallback], search,
                                [[] for _ in task.test], fallback, [row[0].grid for row in fallback], {}, clock)
        return self._prepare(task, clock, search)

    def _search(self, task: Task, clock: TaskClock, share: float) -> list[list[Ranked]]:
        """Verified programs' predictions per test input, within `share` of the budget: the induced rules' (when
        `rules` and the share has RULES_SECONDS left), then the DSL search's in what is left of it."""
        until = clock.start + share * self.cfg.time_budget
        ruled = None
        if self.cfg.rules and clock.fits(RULES_SECONDS, until):
            with clock.stage(RULES):
                ruled = rules_predictions(task)
        with clock.stage(SEARCH):
            result = search_task(task, time.monotonic() + clock.left(until), self.cfg.search)
        candidates = [[Ranked(c.grid, "search", program=c.program, length=c.length) for c in row]
                      for row in result.candidates]
        for row, grid in zip(candidates, ruled or []):
            row.append(Ranked(grid, "search", program=RULES_PROGRAM, length=RULES_LENGTH))
        return candidates

    def _neural(self, prep: Prepared) -> TaskRecord:
        """Test-time training of the prepared task and the vote; the agent scores every expert's
        candidates while it still holds the task's tuning (search present)."""
        task, clock = prep.task, prep.clock
        with TaskAdapter(self.system.agent_parts(), self.cfg.ttt.adapter) as adapter:
            result = None
            if self.cfg.ttt.max_steps > 0:
                try:
                    result = fit_task(self.system, task, prep.views, prep.prompts, adapter, self.cfg.ttt, clock,
                                      prep.ttt_until, prep.holdout, seed=prep.seed, known_size=prep.rule is not None,
                                      row_prompts=prep.row_prompts)
                except FloatingPointError as err:  # a NaN in test-time training: the plain attempts stand
                    return self._plain_record(prep, err)
            return self._conclude(prep, result)

    def _prepare(self, task: Task, clock: TaskClock, search: list[list[Ranked]]) -> Prepared:
        """Everything before test-time training: holdout, size rule, policy draw, the identity prompt, the
        plain attempts, the other views' prompts, and the time test-time training may use."""
        cfg = self.cfg
        rng = task_rng(cfg.seed, task.id)
        n_demos = len(task.train)
        holdout = int(rng.integers(n_demos)) if cfg.ttt.holdout and n_demos >= 3 else None
        rule = task_size_rule(task) if cfg.size_rule else None

        noise = None
        if cfg.policy == "best_of_k":  # its own seed stream: the rng draws below stay as they were
            with clock.stage(POLICY):
                seed = int(task_rng(cfg.seed, f"{task.id}:policy").integers(2**31))
                noise = best_draw(self.system, task, cfg.policy_draws, seed, cfg.ttt.agent_steps)
        with clock.stage(ENCODE):
            identity = self._view_prompts(task, IDENTITY, noise)
        with clock.stage(PLAIN):  # the agent twice over the test inputs, with p and p + δ
            plain = self.system.plain_attempts([task], prompts={task.id: identity})[task.id]
        prompts = [identity.refined]  # [1, P] per view
        agent_seconds = clock.price(PLAIN) / 2
        # The other spatial views' prompts, while encoding stays within a quarter of the budget.
        for d8 in range(1, cfg.augmentations):
            if not clock.fits(clock.price(ENCODE), until=clock.start + cfg.time_budget / 4):
                break
            with clock.stage(ENCODE):
                prompts.append(self._view_prompts(task, Augmentation(d8), noise).refined)
        views = list(range(len(prompts)))  # D8 ids, identity first
        row_prompts = self._row_prompts(task, views, torch.cat(prompts), noise, clock)
        # Voting gets the time its views need, at most half of what is left; test-time training the rest.
        vote_seconds = cfg.vote_reserve * len(views) * agent_seconds
        ttt_until = clock.deadline - min(vote_seconds, clock.left() / 2)
        # Test-time training's own record replaces "steps" and "stopped" whenever it runs (max_steps > 0).
        info: dict[str, Any] = {"holdout": holdout, "steps": 0, "stopped": "off", "views": len(views),
                                "size_rule": None if rule is None else str(rule)}
        seed = int(rng.integers(2**31)) if cfg.ttt.max_steps > 0 else 0
        return Prepared(task, clock, search, plain, views, torch.cat(prompts), rule, holdout, seed, ttt_until,
                        agent_seconds, info, row_prompts)

    def _row_prompts(self, task: Task, views: list[int], prompts: torch.Tensor, noise: torch.Tensor | None,
                     clock: TaskClock) -> RowPrompts | None:
        """Test-time training's row prompts (`RowPrompts`): the views' `prompts` [V, P] and, with
        `ttt.prompt_colours` K, the demos under K seeded colour permutations in every view; with
        `ttt.loo_prompts`, each of those once per left-out demo. Encoded while encoding stays within a quarter
        of the budget (a colour map is kept only whole); None when both are off, or nothing beyond the
        views' prompts fits."""
        cfg, ttt = self.cfg, self.cfg.ttt
        colours = ttt.prompt_colours if ttt.color_permute else 0
        fixed = fixed_colors(task)
        if len(fixed) >= 9:  # at most one free colour: no permutation moves anything
            colours = 0
        if ttt.max_steps == 0 or (colours == 0 and not ttt.loo_prompts):
            return None
        rng = task_rng(cfg.seed, f"{task.id}:palettes")  # its own stream: the task's other draws stay as they were
        palettes = [IDENTITY.colors] + [random_colors(rng, fixed) for _ in range(colours)]
        demos = len(task.train) if ttt.loo_prompts else 1
        tables = []
        for palette in palettes:
            if palette == IDENTITY.colors and not ttt.loo_prompts:
                tables.append(prompts[:, None])  # [V, 1, P]: the views' own
                continue
            if not clock.fits(len(views) * demos * clock.price(ENCODE), until=clock.start + cfg.time_budget / 4):
                break
            per_view = []
            for d8 in views:
                aug = Augmentation(d8, palette)
                samples = [make_sample(task, n, aug) for n in range(demos)] if ttt.loo_prompts else \
                    [make_test_sample(task, 0, aug)]
                encoded = []
                for sample in samples:
                    with clock.stage(ENCODE):
                        encoded.append(self._sample_prompts(sample, noise).refined)
                per_view.append(torch.cat(encoded))  # [M, P]
            tables.append(torch.stack(per_view))  # [V, M, P]
        if not tables or (len(tables) == 1 and not ttt.loo_prompts):
            return None
        return RowPrompts(palettes[: len(tables)] if len(tables) > 1 else None, torch.stack(tables))

    def _conclude(self, prep: Prepared, result: TTTResult | None) -> TaskRecord:
        """The vote and the scores with the task's tuning in the model (`result`: test-time training's, None
        when it is off), and the task's record."""
        cfg, task, clock, search = self.cfg, prep.task, prep.clock, prep.search
        offsets = torch.zeros_like(prep.prompts)
        if result is not None:
            offsets = result.offset
            prep.info.update(_ttt_info(result))
        # Every view is priced, the first too: test-time training reserved its time, and a view that
        # would pass the deadline is skipped (then the plain attempts stand).
        # Views are read with the planning steps the agent was trained at (untrained: its own).
        steps = cfg.ttt.agent_steps if cfg.ttt.max_steps > 0 else None
        predictions = self._vote(task, prep.views, prep.prompts + offsets, clock, prep.agent_seconds, prep.rule,
                                 steps)
        neural = [[Ranked(c.grid, "neural", votes=c.votes) for c in tally_augmented(preds)]
                  for preds in predictions]
        if any(search):
            self._score(task, prep.views[: len(predictions[0])], prep.prompts + offsets, search, neural, clock,
                        steps)
        fallback = [[Ranked(g, "plain") for g in row] for row in prep.plain]
        # The first view is the identity: its prediction is the trained one without voting (when no view
        # ran, nothing was trained either, and plain attempt 2 is that same prediction).
        refined = [preds[0][1] if preds else row[-1] for row, preds in zip(prep.plain, predictions)]
        return self._record(task, prep.plain, search, neural, fallback, refined, prep.info, clock,
                            len(predictions[0]))

    def _score(self, task: Task, views: list[int], prompts: torch.Tensor, search: list[list[Ranked]],
               neural: list[list[Ranked]], clock: TaskClock, steps: int | None) -> None:
        """The product-of-experts score of every candidate, view by view while the clock allows (a view
        costs about what a vote view did)."""
        totals: list[dict[tuple, list[float]]] = [{} for _ in task.test]
        for v, d8 in enumerate(views):
            if not clock.fits(max(clock.price(SCORE), clock.price(VOTE))):
                break
            with clock.stage(SCORE):
                for t, pair in enumerate(task.test):
                    grids = {grid_key(r.grid): r.grid for r in search[t] + neural[t]}
                    scores = view_likelihoods(self.system, task.id, pair.input, list(grids.values()), d8,
                                              prompts[v], steps)
                    for key, score in zip(grids, scores):
                        totals[t].setdefault(key, []).append(score)
        for t in range(len(task.test)):
            for r in search[t] + neural[t]:
                seen = totals[t].get(grid_key(r.grid))
                r.likelihood = float(np.mean(seen)) if seen else None

    @torch.no_grad()
    def _view_prompts(self, task: Task, aug: Augmentation, noise: torch.Tensor | None = None) -> Prompts:
        """p and p + δ [1, P] of all demos under `aug`: the context of every test input of that view. δ is
        the policy's mode, none (`policy` "off"), or the draw `noise` [P] ("best_of_k")."""
        return self._sample_prompts(make_test_sample(task, 0, aug), noise)

    @torch.no_grad()
    def _sample_prompts(self, sample: Sample, noise: torch.Tensor | None = None) -> Prompts:
        """`_view_prompts` of one sample's context."""
        stats = torch.from_numpy(sample.stats[None].astype(np.float32)).to(self.device)
        p = self.system.prompts([sample.context], stats, sample_offset=False)
        if self.cfg.policy == "off":
            return Prompts(p.base, p.policy, p.base)
        if noise is not None:
            return Prompts(p.base, p.policy, p.base + self.system.policy_offsets(p.base, stats, noise))
        return p

    @torch.no_grad()
    def _vote(self, task: Task, views: list[int], prompts: torch.Tensor, clock: TaskClock,
              first_seconds: float, rule: SizeRule | None, steps: int | None) -> list[list[Prediction]]:
        """Per test input, one prediction per spatial view (D8 id) that fits before the task's deadline,
        view v read with prompts[v] [P] and `steps` planning steps. The first view is estimated to cost
        `first_seconds`, each later one the slowest view so far. With a size `rule`, each output has the
        rule's size (the agent's fixed guess)."""
        per_test: list[list[Prediction]] = [[] for _ in task.test]
        if self.cfg.test_tables == "leave_one_out":  # the first view's estimate, at that many reads per view
            first_seconds *= reads_per_view(self.system, task)
        for v, d8 in enumerate(views):
            if not clock.fits(max(first_seconds, clock.price(VOTE))):
                break
            with clock.stage(VOTE):
                self._vote_view(task, v, d8, prompts, rule, steps, per_test)
        return per_test

    def _vote_view(self, task: Task, v: int, d8: int, prompts: torch.Tensor, rule: SizeRule | None,
                   steps: int | None, per_test: list[list[Prediction]]) -> None:
        """Append view `d8`'s prediction of every test input to `per_test`."""
        aug = Augmentation(d8)
        inputs = [aug.apply(pair.input) for pair in task.test]
        known = None if rule is None else torch.tensor(view_sizes(rule, [p.input for p in task.test], d8))
        # Without a rule the output size is unknown: the full canvas lets the agent draw any size.
        canvas = MAX_SIZE if known is None else max(int(known.max()), *(max(g.shape) for g in inputs))
        # The query carries no output: test outputs (known when evaluating) must not reach the agent.
        queries = [query_sample(task.id, Pair(g), aug) for g in inputs]
        batch = collate(queries, canvas=canvas).to(self.device)
        known = None if known is None else known.to(self.device)
        tables = None
        if self.cfg.test_tables == "leave_one_out":
            tables = leave_one_out_prompts(self.system, task, aug, prompts[v])
        if tables is None:
            out = self.system.predict(batch.query_input, batch.query_input_mask,
                                      prompts[v].expand(len(task.test), -1), steps=steps, out_size=known)
            grid, size = out.predict()  # with a rule, its size
            confidence = torch.sigmoid(out.confidence_logits[:, -1].float())  # [T, S, S]
        else:
            grid, size, confidence = self._read_averaged(batch, tables, steps, known)
        for t in range(len(task.test)):
            h, w = int(size[t, 0]), int(size[t, 1])
            per_test[t].append((aug, crop(grid[t], size[t]), float(confidence[t, :h, :w].mean())))

    def _read_averaged(self, batch: Batch, tables: torch.Tensor, steps: int | None,
                       known: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The test inputs of `batch` [T] read once per prompt of `tables` [K, P]: argmax of the mean colour
        (and, without a `known` size, size) probabilities, mean confidence; grid [T, S, S], size [T, 2]."""
        k, t = len(tables), len(batch.query_input)
        prompts = tables.repeat_interleave(t, dim=0)  # [K * T, P], table-major
        out = self.system.predict(batch.query_input.repeat(k, 1, 1), batch.query_input_mask.repeat(k, 1, 1),
                                  prompts, steps=steps, out_size=None if known is None else known.repeat(k, 1))

        def mean(x: torch.Tensor) -> torch.Tensor:
            return x.float().unflatten(0, (k, t)).mean(dim=0)

        grid = mean(torch.softmax(out.cell_logits[:, -1].float(), dim=-1)).argmax(dim=-1)
        if known is None:
            size = torch.stack([mean(torch.softmax(out.height_logits[:, -1].float(), -1)).argmax(-1) + 1,
                                mean(torch.softmax(out.width_logits[:, -1].float(), -1)).argmax(-1) + 1], dim=1)
        else:
            size = known
        return grid, size, mean(torch.sigmoid(out.confidence_logits[:, -1].float()))

    def _plain_record(self, prep: Prepared, err: Exception) -> TaskRecord:
        """The plain attempts (after any verified program) as the answer, with the error that stopped
        test-time training recorded."""
        logger.warning("task %s: %s; keeping its plain attempts", prep.task.id, err)
        task, plain, search, info, clock = prep.task, prep.plain, prep.search, prep.info, prep.clock
        fallback = [[Ranked(g, "plain") for g in row] for row in plain]
        record = self._record(task, plain, search, [[] for _ in task.test], fallback, [row[-1] for row in plain],
                              {**info, "stopped": "error"}, clock)
        record.error = f"{type(err).__name__}: {err}"
        return record

    def _record(self, task: Task, plain: list[list[np.ndarray]], search: list[list[Ranked]],
                neural: list[list[Ranked]], fallback: list[list[Ranked]], refined: list[np.ndarray],
                info: dict[str, Any], clock: TaskClock, views: int = 0) -> TaskRecord:
        """The record of a solved task: per test input, the attempts the merged ranking gives."""
        chosen = [attempts_from(merge(s, n, f, self.cfg.merge), self.cfg.attempts)
                  for s, n, f in zip(search, neural, fallback)]
        return TaskRecord(task.id, [[r.grid for r in row] for row in chosen], plain, refined, clock.elapsed(),
                          ttt=info, votes=[[r.votes for r in row] for row in chosen], views=views,
                          stages=clock.record(),
                          experts=[[r.expert for r in row] for row in chosen],
                          programs=[[r.program for r in row] for row in chosen])


def _ttt_info(result: TTTResult) -> dict[str, Any]:
    info = {"steps": result.steps, "best_step": result.best_step, "stopped": result.stopped,
            "demo_before": asdict(result.before), "demo_after": asdict(result.after)}
    if result.holdout_before is not None:
        info["holdout_before"] = asdict(result.holdout_before)
        info["holdout_after"] = asdict(result.holdout_after)
    return info

