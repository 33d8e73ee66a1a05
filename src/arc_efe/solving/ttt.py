"""Test-time training (TTT) at solve time: the agent (and per-view prompt offsets) trained on the task's
own demonstrations, on the task's clock.

Views: the solver picks V spatial views (D8 elements, identity first) and encodes, for each, the prompt
p_v + δ_v of all demos seen in that view. A spatial view can change what the rule says (a left shift
becomes an up shift), so each view keeps its own prompt and its own tuned offset ε_v [P]; the agent
reads p_v + δ_v + ε_v. The adapter is the parameters of named agent submodules (default the whole
agent), tuned with the offsets and restored by `TaskAdapter` when the task is done.

Updates: each draws `rows_per_step` fresh rows, each a random (demo, view, colour permutation) with the
demo as query, so a fit cannot memorise a fixed set of grids. Colour permutations move only the
colours that are not `fixed_colors` (0, and any colour present in every demo, which likely has a fixed
role such as "7 becomes 5"). The view's prompt was encoded from the demos in their own colours, so a row in
other colours is read with a prompt that names the wrong ones; with `prompt_colours` K the solver also encodes
the demos under K seeded permutations (`RowPrompts`) and each row takes one of those (or none) with its
prompt. With `loo_prompts` each row is read with the prompt of the other demos (`RowPrompts`). Loss:
cross-entropy of the final planning step's cell logits on the valid target cells plus `size_weight` × the
height and width cross-entropies (`all_steps`: averaged over every planning step). Not the EFE loss: its
extra terms cost time and do not help fit one task.

Checks and selection: every `check_every` updates each demo is predicted in each view (no colour change,
no graph). With >= 3 demos one demo (the caller's choice) is held out of every update, and the values
kept are those of the check with the best held-out accuracy (ties keep the earlier check), so a fit
that memorises the other demos is not preferred; with fewer demos, the best check on all rows. It stops
early once every row (held-out demo included) is exact in every view. (Seen before this design: with one
prompt per leave-one-out row and a fixed pool of augmented rows, a 180-degree-turn task reproduced all
16 of its rows and still failed its test: the rows were memorised, not the rule.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from arc_efe.agent.output import AgentOutput
from arc_efe.data.augment import Augmentation
from arc_efe.data.batching import Batch, Sample, collate, query_sample
from arc_efe.data.stats import STATS_DIM
from arc_efe.data.grid import MAX_SIZE, NUM_COLORS
from arc_efe.data.task import Task
from arc_efe.objective.metrics import cell_accuracy, exact_match
from arc_efe.solving.clock import TaskClock
from arc_efe.solving.query_parts import RowQueryParts
from arc_efe.solving.row_tables import RowTables
from arc_efe.system import ArcSystem

if TYPE_CHECKING:
    from arc_efe.solving.ttt_batch import LaneWeights

logger = logging.getLogger(__name__)

UPDATE, CHECK = "ttt_update", "ttt_check"  # the stages fit_task times on the task's clock
FUSED_ADAM_DEVICES = ("cpu", "cuda")  # where torch has a fused Adam kernel


@dataclass
class TTTConfig:
    """Refinement settings; the time limit comes from the solver's per-task budget."""

    max_steps: int = 1000  # gradient updates at most
    prompt_lr: float = 3e-2  # Adam lr of the per-view prompt offsets ε_v
    adapter_lr: float = 1e-3  # Adam lr of the adapter (best of 1e-3, 3e-3, 1e-2 on 16 easy training tasks)
    adapter: tuple[str, ...] = ("embed", "film", "blocks", "heads")  # agent submodules tuned per task
    rows_per_step: int = 8  # fresh random (demo, view, colours) rows per update
    check_every: int = 5  # updates between checks of every (demo, view) row
    color_permute: bool = True  # permute the non-fixed colours of update rows
    # Colour permutations per task whose prompts are encoded (the demos recoloured, in every view): update
    # rows then take their colours from these (or none), so the prompt a row is read with agrees with the
    # row's colours, which matters for a model that reads colours from the demos. 0: fresh colours per row
    # under the view's one prompt.
    prompt_colours: int = 0
    # Read every row (update and check) with the prompt of the other demos, as training does, instead of the
    # prompt of all demos, which holds the row's own pair (and the held-out demo's): N prompts per view.
    loo_prompts: bool = False
    # A table-reading model (`model.agent.rule_table`): every row reads the table of the other demos in its own
    # view and colours (`row_tables.py`), not the view's table of all demos, which holds the row's answer in
    # the demos' colours. No effect on a model without a table.
    row_tables: bool = True
    # Let the per-view offsets ε_v move a table-reading model's rule-table part of the prompt too. Off: they
    # move the encoder's part only, as the refiner policy does; the table is in the row's colours, so one
    # offset per view in fixed colour coordinates is wrong for every recoloured row. No effect without a table.
    table_offsets: bool = False
    size_weight: float = 1.0
    # Weight of a cell the update's prediction gets wrong, against 1 for a right one: most ARC rules edit a
    # few cells of the input, which a fit that copies the input pays little for.
    wrong_cell_weight: float = 1.0
    all_steps: bool = False  # loss on every planning step, not only the last
    holdout: bool = True  # leave one demo out of the updates to pick the check (tasks with >= 3 demos)
    # Planning steps per agent pass while refining and voting (None: the model's own; 2 for the shipped model).
    # Chosen for the model it replaced (4 steps), where 2 halved an update's cost: on 40 training tasks at 10 s
    # it doubled the updates and raised demo exactness from 0.10 to 0.16 (BENCHMARKS.md, "Solver ablation"). A
    # model trained with one step must be solved with 1 (`--agent-steps 1`), or it runs its blocks twice.
    agent_steps: int | None = 2

    def validate(self) -> None:
        if self.max_steps < 0:
            raise ValueError(f"ttt.max_steps must be >= 0, got {self.max_steps}")
        if self.agent_steps is not None and self.agent_steps < 1:
            raise ValueError(f"ttt.agent_steps must be >= 1 or None, got {self.agent_steps}")
        if self.prompt_colours < 0:
            raise ValueError(f"ttt.prompt_colours must be >= 0, got {self.prompt_colours}")
        for name in ("rows_per_step", "check_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"ttt.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("prompt_lr", "adapter_lr", "size_weight", "wrong_cell_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"ttt.{name} must be >= 0, got {getattr(self, name)}")


@dataclass
class DemoScore:
    """Accuracy over demo samples: fraction reproduced exactly and mean size-aware cell accuracy."""

    exact: float
    cell_accuracy: float


@dataclass
class TTTResult:
    offset: torch.Tensor  # [V, P] the kept per-view offsets ε_v
    steps: int  # gradient updates made
    best_step: int  # updates before the kept ε/adapter
    stopped: str  # "solved" | "budget" | "max_steps"
    before: DemoScore  # all demo samples, policy prompt, original adapter
    after: DemoScore  # all demo samples at the kept step
    holdout_before: DemoScore | None = None
    holdout_after: DemoScore | None = None
    history: list[float] = field(default_factory=list)  # demo loss per update
    # the kept adapter values in TaskAdapter.params order, when the fit did not leave them in the model
    # (`ttt_batch.fit_tasks`); None from `fit_task`, which loads them into the adapter
    adapter: list[torch.Tensor] | None = None


class TaskAdapter:
    """Context manager over the parameters of `names` (of the agent's parts, `ArcSystem.agent_parts()`):
    inside, they train; on exit, their values and `requires_grad` are restored, whatever happened."""

    def __init__(self, parts: dict[str, nn.Module], names: tuple[str, ...]):
        modules = parts
        unknown = [n for n in names if n not in modules]
        if unknown:
            raise ValueError(f"ttt.adapter: no agent submodule {unknown}; known: {sorted(modules)}")
        self.params = [p for n in names for p in modules[n].parameters()]
        self._saved: list[torch.Tensor] = []
        self._flags: list[bool] = []

    def __enter__(self) -> TaskAdapter:
        self._saved = self.snapshot()
        self._flags = [p.requires_grad for p in self.params]
        for p in self.params:
            p.requires_grad_(True)
        return self

    def __exit__(self, *exc) -> None:
        self.load(self._saved)
        for p, flag in zip(self.params, self._flags):
            p.requires_grad_(flag)

    def snapshot(self) -> list[torch.Tensor]:
        return [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def load(self, values: list[torch.Tensor]) -> None:
        for p, v in zip(self.params, values):
            p.copy_(v)


def fixed_colors(task: Task) -> tuple[int, ...]:
    """Colours colour permutations keep: 0 (background) and every colour present in every demo pair."""
    common = set(range(NUM_COLORS))
    for pair in task.train:
        common &= set(np.unique(pair.input).tolist()) | set(np.unique(pair.output).tolist())
    return tuple(sorted(common | {0}))


def random_colors(rng: np.random.Generator, fixed: tuple[int, ...]) -> tuple[int, ...]:
    """A colour permutation (as Augmentation.colors) moving only the colours not in `fixed`."""
    free = [c for c in range(NUM_COLORS) if c not in fixed]
    colors = list(range(NUM_COLORS))
    for source, target in zip(free, rng.permutation(free)):
        colors[source] = int(target)
    return tuple(colors)


def demo_row(task: Task, demo: int, aug: Augmentation) -> Sample:
    """Demo `demo` under `aug` as a query; no context (the view's prompt stands for the demos)."""
    return query_sample(task.id, aug.apply_pair(task.train[demo]), aug)


class UpdateRows:
    """Every demo in every spatial view, augmented and put on the 30x30 canvas once per task: an update's
    rows are then gathered and recoloured by table, where augmenting and collating each row costs several
    numpy and torch calls. `batch` equals `collate` of the same rows (tests/solving/test_ttt_speed.py)."""

    def __init__(self, task: Task, views: list[int]):
        self.task_id, self.demos = task.id, len(task.train)
        self.views = views
        table = collate([demo_row(task, i, Augmentation(d8)) for d8 in views for i in range(self.demos)],
                        canvas=MAX_SIZE)  # view-major, like check_batch
        self.inputs, self.outputs = table.query_input, table.query_output  # [V * N, 30, 30]
        self.input_size, self.output_size = table.input_size, table.output_size  # [V * N, 2]
        self.side = torch.maximum(table.input_size, table.output_size).amax(dim=1)  # [V * N]

    def canvas(self, views: np.ndarray, demos: list[int]) -> int:
        """The smallest canvas side that holds these rows' inputs and outputs."""
        return int(self.side[torch.from_numpy(views * self.demos + np.asarray(demos))].max())

    def batch(self, views: np.ndarray, demos: list[int], colors: list[tuple[int, ...]],
              canvas: int | None = None) -> Batch:
        """Rows (views[r] an index into `views`, demos[r], colour map colors[r]) on the smallest canvas
        that holds them, as `collate` would place them, or on `canvas` (at least that side)."""
        rows = torch.from_numpy(views * self.demos + np.asarray(demos))  # [R]
        smallest = int(self.side[rows].max())
        if canvas is not None and canvas < smallest:
            raise ValueError(f"UpdateRows.batch: canvas {canvas} is smaller than the rows' grids ({smallest})")
        side = smallest if canvas is None else canvas
        lut = torch.tensor(colors)  # [R, 10]
        index = torch.arange(side)

        def place(grids: torch.Tensor, size: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            grid = grids[rows, :side, :side]  # [R, S, S], zero outside each grid
            mask = (index[None, :, None] < size[:, :1, None]) & (index[None, None, :] < size[:, 1:, None])
            recoloured = lut.gather(1, grid.flatten(1)).view_as(grid)
            return torch.where(mask, recoloured, torch.zeros_like(grid)), mask

        input_size, output_size = self.input_size[rows], self.output_size[rows]
        query_input, input_mask = place(self.inputs, input_size)
        query_output, output_mask = place(self.outputs, output_size)
        return Batch(
            task_ids=[self.task_id] * len(rows),
            aug_ids=[Augmentation(self.views[v], c).id for v, c in zip(views, colors)],
            contexts=[[] for _ in range(len(rows))],
            query_input=query_input, query_input_mask=input_mask,
            query_output=query_output, query_output_mask=output_mask,
            input_size=input_size, output_size=output_size,
            stats=torch.zeros(len(rows), STATS_DIM),
        )


def check_batch(task: Task, views: list[int]) -> tuple[Batch, torch.Tensor, torch.Tensor]:
    """Every demo in every spatial view (view-major), with each row's demo index [R] and view index [R]."""
    n = len(task.train)
    samples = [demo_row(task, i, Augmentation(d8)) for d8 in views for i in range(n)]
    demo_index = torch.arange(n).repeat(len(views))
    view_index = torch.arange(len(views)).repeat_interleave(n)
    return collate(samples), demo_index, view_index


def demo_loss(out: AgentOutput, batch: Batch, size_weight: float, all_steps: bool = False,
              wrong_cell_weight: float = 1.0) -> torch.Tensor:
    """Mean over rows of (cell CE on valid target cells + size_weight × size CE) at the final
    planning step, or averaged over every step when `all_steps` (each step gets its own gradient). A cell
    the step predicts wrong counts `wrong_cell_weight` times (a constant; the mean still divides by the
    cell count), so a fit that copies its input feels the few cells the rule edits."""
    return row_losses(out, batch.query_output, batch.query_output_mask, batch.output_size, size_weight,
                      all_steps, wrong_cell_weight).mean()


def row_losses(out: AgentOutput, target: torch.Tensor, target_mask: torch.Tensor, target_size: torch.Tensor,
               size_weight: float, all_steps: bool = False, wrong_cell_weight: float = 1.0) -> torch.Tensor:
    """demo_loss per row [B], from the targets' grids [B, S, S], masks [B, S, S] and sizes [B, 2] (plain
    tensors, so `ttt_batch.py` can run it under vmap)."""
    steps = range(out.cell_logits.shape[1]) if all_steps else [out.cell_logits.shape[1] - 1]
    mask = target_mask.float()
    labels = target_size - 1  # [B, 2], class k = size k + 1
    per_row = 0.0
    for t in steps:
        logits = out.cell_logits[:, t].float()  # [B, S, S, 10]
        ce = F.cross_entropy(logits.permute(0, 3, 1, 2), target, reduction="none")  # [B, S, S]
        weight = mask
        if wrong_cell_weight != 1.0:
            weight = mask * torch.where(logits.detach().argmax(-1) == target, 1.0, wrong_cell_weight)
        cell = (ce * weight).flatten(1).sum(1) / mask.flatten(1).sum(1).clamp(min=1)  # [B]
        size = (F.cross_entropy(out.height_logits[:, t].float(), labels[:, 0], reduction="none")
                + F.cross_entropy(out.width_logits[:, t].float(), labels[:, 1], reduction="none"))  # [B]
        per_row = per_row + (cell + size_weight * size) / len(steps)
    return per_row


def _score(exact: torch.Tensor, acc: torch.Tensor, rows: torch.Tensor) -> DemoScore | None:
    if not bool(rows.any()):
        return None
    return DemoScore(float(exact[rows].float().mean()), float(acc[rows].mean()))


@torch.no_grad()
def _measure(out: AgentOutput, batch: Batch, held: torch.Tensor) -> tuple[DemoScore, DemoScore | None, tuple]:
    """Scores of all rows and of the held-out rows [B] bool, and the step's selection key."""
    grid, size = out.predict()  # with a known size, the size the agent was told
    exact = exact_match(grid, size, batch.query_output, batch.output_size)  # [B]
    acc = cell_accuracy(grid, size, batch.query_output, batch.output_size)  # [B]
    everything = _score(exact, acc, torch.ones_like(held))
    holdout = _score(exact, acc, held)
    fit = _score(exact, acc, ~held) or everything
    pick = holdout or everything
    return everything, holdout, (pick.exact, pick.cell_accuracy, fit.exact, fit.cell_accuracy)


class _Best:
    """The best step so far by (held-out exact, held-out cells, fit exact, fit cells); ties keep the first."""

    def __init__(self) -> None:
        self.key: tuple[float, ...] | None = None
        self.step = 0
        self.offset: torch.Tensor | None = None
        self.adapter: list[torch.Tensor] = []
        self.all: DemoScore | None = None
        self.holdout: DemoScore | None = None

    def offer(self, step: int, key: tuple[float, ...], offset: torch.Tensor, adapter: TaskAdapter | LaneWeights,
              all_rows: DemoScore, holdout: DemoScore | None) -> None:
        if self.key is not None and key <= self.key:
            return
        self.key, self.step, self.all, self.holdout = key, step, all_rows, holdout
        self.offset = offset.detach().clone()
        self.adapter = adapter.snapshot()


@dataclass
class RowPrompts:
    """The prompts test-time training reads its rows with, in place of each view's prompt of all demos: one
    per colour map and view [C, V, 1, P], or one per colour map, view and demo [C, V, N, P], the prompt of
    the other demos (`TTTConfig.loo_prompts`: as in training, a row's own pair is not in its prompt).
    `colors`: the C colour maps (identity first) that update rows take one of (`TTTConfig.prompt_colours`);
    None: C = 1 and rows get fresh permutations, read with the identity colours' prompts."""

    colors: list[tuple[int, ...]] | None
    prompts: torch.Tensor  # [C, V, M, P]

    @classmethod
    def of_views(cls, prompts: torch.Tensor) -> RowPrompts:
        """Every row read with its view's prompt [V, P] (the default)."""
        return cls(None, prompts[None, :, None])

    def rows(self, colour: torch.Tensor, view: torch.Tensor, demo: torch.Tensor) -> torch.Tensor:
        """The prompts [R, P] of rows with colour map, view and demo indices [R] each."""
        return self.prompts[colour, view, demo if self.prompts.shape[2] > 1 else torch.zeros_like(demo)]

    def of_checks(self, view: torch.Tensor, demo: torch.Tensor) -> torch.Tensor:
        """The prompts [R, P] of check rows (identity colours), view and demo indices [R] each."""
        return self.rows(torch.zeros_like(view), view, demo)

    def of_draw(self, views: np.ndarray, demos: list[int], which: np.ndarray) -> torch.Tensor:
        """The prompts [R, P] of rows drawn by `draw_rows` (view indices, demos, palette indices)."""
        return self.rows(torch.from_numpy(which), torch.from_numpy(views), torch.tensor(demos))


def offset_width(system: ArcSystem, cfg: TTTConfig) -> int:
    """How many leading prompt numbers the per-view offsets move (`TTTConfig.table_offsets`); the gradient of
    the rest is zeroed before each Adam step, so Adam leaves them at zero."""
    return system.prompt_dim if cfg.table_offsets else system.agent.prompt_dim


def draw_rows(rng: np.random.Generator, count: int, views: int, trainable: list[int], fixed: tuple[int, ...],
              palettes: list[tuple[int, ...]] | None) -> tuple[np.ndarray, list[int], list[tuple[int, ...]],
                                                                np.ndarray]:
    """One update's `count` rows: view index [R], demo, colour map and its index in `palettes` [R] of each.
    Without palettes the colours are fresh permutations of the colours not `fixed`, and every index is 0."""
    rows = rng.integers(views, size=count)
    if palettes is None:
        demos, colors = zip(*((int(rng.choice(trainable)), random_colors(rng, fixed)) for _ in rows))
        return rows, list(demos), list(colors), np.zeros(count, dtype=np.int64)
    which = rng.integers(len(palettes), size=count)
    return rows, [int(rng.choice(trainable)) for _ in rows], [palettes[k] for k in which], which


def fit_task(
    system: ArcSystem,
    task: Task,
    views: list[int],
    prompts: torch.Tensor,
    adapter: TaskAdapter,
    cfg: TTTConfig,
    clock: TaskClock,
    until: float | None = None,
    holdout: int | None = None,
    seed: int = 0,
    known_size: bool = False,
    row_prompts: RowPrompts | None = None,
) -> TTTResult:
    """Tune per-view offsets ε [V, P] (and the adapter, inside its context) on `task`'s demos seen in the
    spatial `views` (D8 ids, identity first), whose prompts are `prompts` [V, P], until every demo is
    exact in every view, `max_steps` updates, or the task's `clock` says one more update and its check
    would not end by `until` (a `clock.now()` value; default the task's deadline). On return the adapter
    holds the kept check's values. `holdout` is a demo index left out of the updates; `seed` draws the
    update rows. `known_size`: the task has a size rule (`size_rule.py`), so every row's true output size
    is the agent's fixed size guess, the size loss is off and rows are scored at that size. `row_prompts`
    replaces the view's prompt that update and check rows are read with (`RowPrompts`; the offsets stay per
    view). Raises FloatingPointError on a non-finite loss or check."""
    device = prompts.device
    rng = np.random.default_rng(seed)
    checks, demo_index, view_index = check_batch(task, views)
    checks = checks.to(device)
    table = UpdateRows(task, views)
    offsets = torch.zeros_like(prompts, requires_grad=True)  # [V, P]
    groups = [{"params": [offsets], "lr": cfg.prompt_lr}]
    if adapter.params:
        groups.append({"params": adapter.params, "lr": cfg.adapter_lr})
    # One fused kernel for all ~50 tensors instead of a loop of small ops: 2.2 -> 0.6 ms per step on one CPU
    # thread for the shipped agent, the same values to float rounding (tests/solving/test_ttt_speed.py).
    optimizer = torch.optim.Adam(groups, fused=device.type in FUSED_ADAM_DEVICES)
    moved = offset_width(system, cfg)
    held = (demo_index == (-1 if holdout is None else holdout)).to(device)  # [R] rows left out of updates
    trainable = [i for i in range(len(task.train)) if i != holdout]
    size_weight = 0.0 if known_size else cfg.size_weight  # a known size needs no size head
    fixed = fixed_colors(task) if cfg.color_permute else tuple(range(NUM_COLORS))  # all fixed: no permutation
    row_prompts = row_prompts or RowPrompts.of_views(prompts)
    check_prompts = row_prompts.of_checks(view_index, demo_index).to(device)  # [R, P]
    tables = RowTables.of(system, table, cfg.row_tables)
    # A table-reading agent's per-cell query features: computed once (checks) or once per demo and view (updates).
    queries = RowQueryParts.of(system, table, device)
    check_parts = (queries.take(view_index.numpy(), demo_index.tolist(), None, checks.query_input.shape[-1])
                   if queries is not None else None)
    if tables is not None:
        check_prompts = tables.apply(check_prompts, view_index, demo_index)
    best, history = _Best(), []
    stopped, before, checked_at = "max_steps", None, -1

    def check(step: int) -> bool:
        """Score every (demo, view) row at `step`, offer the result as the best; True when all are exact."""
        nonlocal before, checked_at
        with clock.stage(CHECK), torch.no_grad():
            out = system.predict(checks.query_input, checks.query_input_mask, check_prompts + offsets[view_index],
                                 steps=cfg.agent_steps, out_size=checks.output_size if known_size else None,
                                 table_parts=check_parts)
            if not bool(torch.isfinite(out.cell_logits).all()):
                raise FloatingPointError(f"test-time training of {task.id}: non-finite cell logits at the check "
                                         f"after {step} updates")
            scores, held_scores, key = _measure(out, checks, held)
            before = before or (scores, held_scores)
            best.offer(step, key, offsets, adapter, scores, held_scores)
        checked_at = step
        return scores.exact == 1.0

    for step in range(cfg.max_steps + 1):
        if step % cfg.check_every == 0 and check(step):
            stopped = "solved"
            break
        if step == cfg.max_steps:
            break
        # One more update is only worth it if it and its check still fit: priced by the slowest so far
        # (before the first update, three checks' worth).
        if not clock.fits(clock.price(UPDATE, 3 * clock.price(CHECK)) + clock.price(CHECK), until):
            stopped = "budget"
            break
        with clock.stage(UPDATE):
            rows, demos, colors, which = draw_rows(rng, cfg.rows_per_step, len(views), trainable, fixed,
                                                   row_prompts.colors)
            part = table.batch(rows, demos, colors).to(device)
            index = torch.from_numpy(rows).to(device)
            base = row_prompts.of_draw(rows, demos, which).to(device)
            if tables is not None:
                base = tables.apply(base, rows, demos, colors)
            row_parts = (queries.take(rows, demos, colors, part.query_input.shape[-1])
                         if queries is not None else None)
            out = system.predict(part.query_input, part.query_input_mask, base + offsets[index],
                                 steps=cfg.agent_steps, out_size=part.output_size if known_size else None,
                                 table_parts=row_parts)
            loss = demo_loss(out, part, size_weight, cfg.all_steps, cfg.wrong_cell_weight)
            if not bool(torch.isfinite(loss)):  # one NaN update would spoil the adapter for every later check
                raise FloatingPointError(f"test-time training of {task.id}: the demo loss is {loss.item()} at "
                                         f"update {step + 1}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            offsets.grad[:, moved:] = 0
            optimizer.step()
            history.append(float(loss.detach()))
    if checked_at != len(history) and stopped != "solved":
        check(len(history))  # the last updates' result (its time was kept free)
    adapter.load(best.adapter)
    logger.debug("test-time trained %d steps (%s), kept step %d", len(history), stopped, best.step)
    return TTTResult(
        offset=best.offset, steps=len(history), best_step=best.step, stopped=stopped,
        before=before[0], after=best.all, holdout_before=before[1], holdout_after=best.holdout, history=history,
    )
