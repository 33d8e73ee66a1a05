"""Training and solving samples, their collation onto the 30x30 canvas, and the task sampler.

A sample is one query pair plus the demonstrations the encoder may see (its context), all under
one augmentation. Training uses leave-one-out over the demos (`make_sample`); solving uses all
demos as context and a test pair as query (`make_test_sample`). `collate` pads grids at the
top-left of the canvas with colour 0 and masks; `TaskSampler` draws seeded, resumable batches.
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
from arc_efe.data.stats import task_statistics
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
    """Collated samples. Grids sit at the top-left of the 30x30 canvas, padded with 0 and masked.

    `query_output_mask` is all False and `output_size` is (0, 0) where the query output is unknown.
    """

    task_ids: list[str]
    aug_ids: list[str]
    contexts: list[list[Pair]]
    query_input: torch.Tensor  # [B, 30, 30] long
    query_input_mask: torch.Tensor  # [B, 30, 30] bool
    query_output: torch.Tensor  # [B, 30, 30] long
    query_output_mask: torch.Tensor  # [B, 30, 30] bool
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


def collate(samples: list[Sample]) -> Batch:
    """Stack samples into a Batch; raises ValueError naming the task for an empty or oversized grid."""
    if not samples:
        raise ValueError("collate needs at least one sample")
    inputs = [s.query.input for s in samples]
    outputs = [s.query.output for s in samples]
    query_input, input_size = _canvas(inputs, samples, "input")
    query_output, output_size = _canvas(outputs, samples, "output")
    return Batch(
        task_ids=[s.task_id for s in samples],
        aug_ids=[s.aug_id for s in samples],
        contexts=[s.context for s in samples],
        query_input=torch.from_numpy(query_input),
        query_input_mask=torch.from_numpy(_size_mask(input_size)),
        query_output=torch.from_numpy(query_output),
        query_output_mask=torch.from_numpy(_size_mask(output_size)),
        input_size=torch.from_numpy(input_size),
        output_size=torch.from_numpy(output_size),
        stats=torch.from_numpy(np.stack([s.stats for s in samples]).astype(np.float32)),
    )


def _canvas(
    grids: list[np.ndarray | None], samples: list[Sample], which: str
) -> tuple[np.ndarray, np.ndarray]:
    """Grids at the top-left of a zero canvas [B, 30, 30] and their sizes [B, 2]; None -> size (0, 0)."""
    canvas = np.zeros((len(grids), MAX_SIZE, MAX_SIZE), dtype=np.int64)
    sizes = np.zeros((len(grids), 2), dtype=np.int64)
    for b, grid in enumerate(grids):
        if grid is None:
            continue
        h, w = grid.shape
        if not (0 < h <= MAX_SIZE and 0 < w <= MAX_SIZE):
            raise ValueError(
                f"task {samples[b].task_id} ({samples[b].aug_id}): query {which} is {h}x{w}, "
                f"outside 1x1..{MAX_SIZE}x{MAX_SIZE}"
            )
        canvas[b, :h, :w] = grid
        sizes[b] = (h, w)
    return canvas, sizes


def _size_mask(sizes: np.ndarray) -> np.ndarray:
    """[B, 2] sizes -> [B, 30, 30] bool, True inside the top-left h x w block."""
    idx = np.arange(MAX_SIZE)
    rows = idx[None, :, None] < sizes[:, 0, None, None]  # [B, 30, 1]
    cols = idx[None, None, :] < sizes[:, 1, None, None]  # [B, 1, 30]
    return rows & cols  # [B, 30, 30]


class TaskSampler:
    """Infinite, seeded, resumable source of training samples over `tasks`.

    Epoch-style: tasks are walked in a shuffled order and reshuffled when the order runs out, so each
    epoch sees every task once. A batch holds `batch_size` distinct tasks, each with a random
    augmentation and a random query demo. `state_dict`/`load_state_dict` restore the exact stream.
    """

    def __init__(
        self,
        tasks: list[Task],
        batch_size: int,
        seed: int,
        augment: bool = True,
        keep_background: bool = True,
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
        """New epoch order; tasks already in the current batch are moved just after the batch's end."""
        order = [int(i) for i in self._rng.permutation(len(self.tasks))]
        need = self.batch_size - len(taken)
        in_batch = set(taken)
        fresh = [i for i in order if i not in in_batch][:need]
        chosen = set(fresh)
        self._order = fresh + [i for i in order if i not in chosen]
        self._position = 0

    def _sample(self, task: Task) -> Sample:
        if self.augment:
            aug = random_augmentation(self._rng, keep_background=self.keep_background)
        else:
            aug = IDENTITY
        query_index = int(self._rng.integers(len(task.train)))
        return make_sample(task, query_index, aug)

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
