"""Training and solving samples, their collation onto a square canvas, and the task sampler.

A sample is one query pair plus the demonstrations the encoder may see (its context), all under
one augmentation. Training uses leave-one-out over the demos (`make_sample`); solving uses all
demos as context and a test pair as query (`make_test_sample`). `collate` pads grids at the
top-left of an S x S canvas (S <= 30: by default the batch's largest query side, since the agent's
cost grows with S^2 and most ARC grids are small) with colour 0 and masks; `TaskSampler` draws
seeded, resumable batches, by default of tasks of similar grid size so that S stays small.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import torch

from arc_efe.data.augment import IDENTITY, Augmentation, random_augmentation
from arc_efe.data.grid import MAX_SIZE
from arc_efe.data.stats import STATS_DIM, task_statistics
from arc_efe.data.task import Pair, Task

logger = logging.getLogger(__name__)


@dataclass
class Sample:
    """One query pair with its context demos, all in augmented space; `stats` from the context only."""

    task_id: str
    context: list[Pair]
    query: Pair
    aug_id: str
    stats: np.ndarray


def make_sample(task: Task, query_index: int, aug: Augmentation) -> Sample:
    """Leave-one-out training sample: demo `query_index` is the query, the other demos the context.

    A task with a single demo has nothing left to leave out; an empty context would give the encoder
    nothing, so the context is that same demo: the encoder then sees the query's answer, which is
    the best a single demo allows (logged at debug level).
    """
    n = len(task.train)
    if not 0 <= query_index < n:
        raise IndexError(f"task {task.id}: query_index {query_index} out of range for {n} demos")
    demos = [aug.apply_pair(p) for p in task.train]
    if n == 1:
        logger.debug("task %s has 1 demo: it is both the query and the context", task.id)
        context = demos
    else:
        context = demos[:query_index] + demos[query_index + 1 :]
    return Sample(task.id, context, demos[query_index], aug.id, task_statistics(context))


def query_sample(task_id: str, query: Pair, aug: Augmentation) -> Sample:
    """A query with no context and zero stats: the solver's rows, whose prompt comes from elsewhere (the
    view's encoded demos). The query is taken as given, already in `aug`'s frame."""
    return Sample(task_id, [], query, aug.id, np.zeros(STATS_DIM, np.float32))


def make_test_sample(task: Task, test_index: int, aug: Augmentation) -> Sample:
    """Solving sample: all demos are the context, test pair `test_index` the query (output may be None)."""
    n = len(task.test)
    if not 0 <= test_index < n:
        raise IndexError(f"task {task.id}: test_index {test_index} out of range for {n} tests")
    if not task.train:
        raise ValueError(f"task {task.id}: no demonstration pairs to use as context")
    context = [aug.apply_pair(p) for p in task.train]
    query = aug.apply_pair(task.test[test_index])
    return Sample(task.id, context, query, aug.id, task_statistics(context))


@dataclass
class Batch:
    """Collated samples. Grids sit at the top-left of an S x S canvas (S <= 30), padded with 0 and
    masked; context pairs stay numpy at their own sizes.

    `query_output_mask` is all False and `output_size` is (0, 0) where the query output is unknown.
    """

    task_ids: list[str]
    aug_ids: list[str]
    contexts: list[list[Pair]]
    query_input: torch.Tensor  # [B, S, S] long
    query_input_mask: torch.Tensor  # [B, S, S] bool
    query_output: torch.Tensor  # [B, S, S] long
    query_output_mask: torch.Tensor  # [B, S, S] bool
    input_size: torch.Tensor  # [B, 2] long (h, w)
    output_size: torch.Tensor  # [B, 2] long (h, w)
    stats: torch.Tensor  # [B, STATS_DIM] float32

    def __len__(self) -> int:
        return len(self.task_ids)

    def to(self, device: torch.device | str) -> Batch:
        """A copy with every tensor on `device`; contexts stay numpy (the encoder serialises them)."""
        moved = {
            f.name: getattr(self, f.name).to(device)
            for f in fields(self)
            if isinstance(getattr(self, f.name), torch.Tensor)
        }
        return replace(self, **moved)


def collate(samples: list[Sample], canvas: int | None = None) -> Batch:
    """Stack samples into a Batch on an S x S canvas: S = `canvas` if given, else the largest height or
    width of any query input or known query output.

    Pass `canvas=MAX_SIZE` when the agent must be free to predict any output size (test inputs, whose
    output is unknown): on a smaller canvas a predicted size beyond S is cut to S. Raises ValueError
    naming the task for an empty or oversized grid, or one that does not fit a given canvas.
    """
    if not samples:
        raise ValueError("collate needs at least one sample")
    if canvas is not None and not 1 <= canvas <= MAX_SIZE:
        raise ValueError(f"collate: canvas must be in 1..{MAX_SIZE}, got {canvas}")
    inputs = [s.query.input for s in samples]
    outputs = [s.query.output for s in samples]
    side = canvas or min(max(max(g.shape) for g in inputs + outputs if g is not None), MAX_SIZE)
    query_input, input_size = _canvas(inputs, samples, "input", side)
    query_output, output_size = _canvas(outputs, samples, "output", side)
    return Batch(
        task_ids=[s.task_id for s in samples],
        aug_ids=[s.aug_id for s in samples],
        contexts=[s.context for s in samples],
        query_input=torch.from_numpy(query_input),
        query_input_mask=torch.from_numpy(_size_mask(input_size, side)),
        query_output=torch.from_numpy(query_output),
        query_output_mask=torch.from_numpy(_size_mask(output_size, side)),
        input_size=torch.from_numpy(input_size),
        output_size=torch.from_numpy(output_size),
        stats=torch.from_numpy(np.stack([s.stats for s in samples]).astype(np.float32)),
    )


def _canvas(
    grids: list[np.ndarray | None], samples: list[Sample], which: str, side: int
) -> tuple[np.ndarray, np.ndarray]:
    """Grids at the top-left of a zero canvas [B, S, S] and their sizes [B, 2]; None -> size (0, 0)."""
    canvas = np.zeros((len(grids), side, side), dtype=np.int64)
    sizes = np.zeros((len(grids), 2), dtype=np.int64)
    for b, grid in enumerate(grids):
        if grid is None:
            continue
        h, w = grid.shape
        if not (0 < h <= side and 0 < w <= side):
            raise ValueError(
                f"task {samples[b].task_id} ({samples[b].aug_id}): query {which} is {h}x{w}, "
                f"outside 1x1..{side}x{side}"
            )
        canvas[b, :h, :w] = grid
        sizes[b] = (h, w)
    return canvas, sizes


def _size_mask(sizes: np.ndarray, side: int) -> np.ndarray:
    """[B, 2] sizes -> [B, S, S] bool, True inside the top-left h x w block."""
    idx = np.arange(side)
    rows = idx[None, :, None] < sizes[:, 0, None, None]  # [B, S, 1]
    cols = idx[None, None, :] < sizes[:, 1, None, None]  # [B, 1, S]
    return rows & cols  # [B, S, S]


# Size bucketing sorts runs of this many batches of the shuffled epoch order: longer runs give tighter
# size buckets, shorter runs keep more of the shuffle's randomness.
BUCKET_RUN_BATCHES = 8


def draw_sample(rng: np.random.Generator, task: Task, augment: bool, keep_background: bool) -> Sample:
    """A training sample of `task`: a random augmentation (or none) and a random demo as the query."""
    return make_sample(task, *draw_view(rng, task, augment, keep_background))


def draw_view(rng: np.random.Generator, task: Task, augment: bool,
              keep_background: bool) -> tuple[int, Augmentation]:
    """The query index and augmentation `draw_sample` draws, so a twin task can be shown the same way."""
    aug = random_augmentation(rng, keep_background=keep_background) if augment else IDENTITY
    return int(rng.integers(len(task.train))), aug


def task_side(task: Task) -> int:
    """Largest height or width over a task's demo grids: the canvas its training queries may need."""
    return max(max(g.shape) for p in task.train for g in (p.input, p.output) if g is not None)


class TaskSampler:
    """Infinite, seeded, resumable source of training samples over `tasks`.

    Epoch-style: tasks are walked in a shuffled order and reshuffled when the order runs out, so each
    epoch sees every task once. A batch holds `batch_size` distinct tasks, each with a random
    augmentation and a random query demo. `state_dict`/`load_state_dict` restore the exact stream.

    With `bucket_by_size` each epoch order is cut into runs of `BUCKET_RUN_BATCHES` batches, each run
    sorted by `task_side` and split into batches that are then shuffled within the run: a batch holds
    tasks of similar size, so its collated canvas is small for small tasks (on arc1/training the mean
    canvas side drops from about 24 to about 15). The batch that straddles two epochs stays unsorted.
    """

    def __init__(
        self,
        tasks: list[Task],
        batch_size: int,
        seed: int,
        augment: bool = True,
        keep_background: bool = True,
        bucket_by_size: bool = True,
    ) -> None:
        if not tasks:
            raise ValueError("TaskSampler needs at least one task")
        if not 0 < batch_size <= len(tasks):
            raise ValueError(
                f"TaskSampler: batch_size {batch_size} must be in 1..{len(tasks)} (the number of tasks)"
            )
        for task in tasks:
            if not task.train:
                raise ValueError(f"TaskSampler: task {task.id} has no demonstration pairs")
        self.tasks = tasks
        self.batch_size = batch_size
        self.augment = augment
        self.keep_background = keep_background
        self.bucket_by_size = bucket_by_size
        self._sides = [task_side(t) for t in tasks]
        self._rng = np.random.default_rng(seed)
        self._order: list[int] = []
        self._position = 0
        self._consumed = 0

    @property
    def epoch(self) -> float:
        """Tasks drawn so far divided by the number of tasks."""
        return self._consumed / len(self.tasks)

    def next_batch(self) -> list[Sample]:
        indices: list[int] = []
        while len(indices) < self.batch_size:
            if self._position == len(self._order):
                self._reshuffle(taken=indices)
            indices.append(self._order[self._position])
            self._position += 1
        self._consumed += len(indices)
        return [self._sample(self.tasks[i]) for i in indices]

    def _reshuffle(self, taken: list[int]) -> None:
        """New epoch order: first the tasks that complete the current, partly drawn batch (none of those
        already in it), then the rest, size-bucketed if asked."""
        order = [int(i) for i in self._rng.permutation(len(self.tasks))]
        need = self.batch_size - len(taken) if taken else 0
        in_batch = set(taken)
        fresh = [i for i in order if i not in in_batch][:need]
        chosen = set(fresh)
        rest = [i for i in order if i not in chosen]
        self._order = fresh + (self._bucketed(rest) if self.bucket_by_size else rest)
        self._position = 0

    def _bucketed(self, order: list[int]) -> list[int]:
        """Whole batches of `order` regrouped by size within runs; the leftover tail (fewer than a
        batch, random tasks) stays last, to be completed by the next epoch."""
        whole = len(order) - len(order) % self.batch_size
        run = self.batch_size * BUCKET_RUN_BATCHES
        regrouped: list[int] = []
        for start in range(0, whole, run):
            chunk = sorted(order[start : min(start + run, whole)], key=lambda i: self._sides[i])
            batches = [chunk[j : j + self.batch_size] for j in range(0, len(chunk), self.batch_size)]
            for b in self._rng.permutation(len(batches)):
                regrouped.extend(batches[b])
        return regrouped + order[whole:]

    def _sample(self, task: Task) -> Sample:
        return draw_sample(self._rng, task, self.augment, self.keep_background)

    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": copy.deepcopy(self._rng.bit_generator.state),
            "order": list(self._order),
            "position": self._position,
            "consumed": self._consumed,
            "tasks_fingerprint": self._fingerprint(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a saved stream; raises ValueError if the task list differs from the saved one."""
        if state["tasks_fingerprint"] != self._fingerprint():
            raise ValueError(
                "TaskSampler.load_state_dict: the task list (ids and order) differs from the one saved; "
                "a resumed run must use the same training tasks"
            )
        self._rng.bit_generator.state = copy.deepcopy(state["rng"])
        self._order = [int(i) for i in state["order"]]
        self._position = int(state["position"])
        self._consumed = int(state["consumed"])

    def _fingerprint(self) -> str:
        ids = "\n".join(t.id for t in self.tasks)
        return hashlib.sha1(ids.encode()).hexdigest()[:16]
