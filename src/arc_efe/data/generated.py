"""Generated tasks as a training source: `gen:all` or `gen:NAME[,NAME...]`, an endless seeded stream.

Task k of a stream is drawn from a generator seeded by (stream seed, k) alone: family (by weight),
difficulty and the task's own seed. So the stream needs no state but k, two processes with the same seed
see the same tasks, and resuming at k continues exactly. `MixedSampler` fills each training batch with a
fixed share of generated tasks and the rest from a `TaskSampler` over real tasks.

With `stages` (a curriculum), the families task k is drawn from depend on k too: stage s = k // stage_tasks
draws from the union of the first s + 1 groups, and from every family once the groups are used up. The
stage is still a function of k alone, so resume stays exact.

With `twins`, task k also has a twin (`GeneratedTasks.twin`, seeded by (stream seed, k) too): the same
inputs under another instance of its family's rule, placed right after it in the same batch with the same
augmentation and query demo. Identical inputs with different outputs make the agent read the prompt, and
as a contrastive negative the twin shares palette and sizes, so only the rule tells the two apart.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from arc_efe.data.batching import Sample, TaskSampler, draw_sample, draw_view, make_sample
from arc_efe.data.generators import FAMILIES, generate_task, render_twin
from arc_efe.data.task import Task

PREFIX = "gen:"


def is_generated(source: str) -> bool:
    return source.startswith(PREFIX)


def families_of(source: str) -> list[str]:
    """The family names a `gen:` source names (`gen:all`: every family), in a fixed order."""
    names = source[len(PREFIX):]
    if names == "all":
        return sorted(FAMILIES)
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in FAMILIES]
    if not chosen or unknown:
        raise ValueError(f"source {source!r}: unknown generator families {unknown or '(none named)'}; "
                         f"known: {', '.join(sorted(FAMILIES))}")
    return chosen


def family_weight(weights: dict[str, float] | None, family: str) -> float:
    """A family's mixing weight: 1 unless `weights` names it (0 holds it out of the stream)."""
    return float((weights or {}).get(family, 1.0))


class GeneratedTasks:
    """Task k of the stream over `families` (optionally weighted), difficulty uniform in [low, high]."""

    def __init__(self, families: list[str], seed: int, difficulty: tuple[float, float] = (0.0, 1.0),
                 weights: dict[str, float] | None = None, twins: bool = False,
                 stages: list[list[str]] | None = None, stage_tasks: int = 0):
        if not families:
            raise ValueError("a generated stream needs at least one family")
        self.families = list(families)
        self.seed = seed
        self.difficulty = difficulty
        w = np.array([family_weight(weights, f) for f in self.families])
        if (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"generator weights must be >= 0 with a positive sum, got {weights}")
        self.p = w / w.sum()
        self.twins = twins
        self.stage_tasks = stage_tasks
        self.stage_p = [self._stage_p(w, stages[: s + 1]) for s in range(len(stages or []))]
        if self.stage_p and stage_tasks < 1:
            raise ValueError(f"curriculum stages need a stage length >= 1 task, got {stage_tasks}")

    def _stage_p(self, w: np.ndarray, groups: list[list[str]]) -> np.ndarray:
        """Family probabilities of a curriculum stage: the weights, zero outside the stage's groups."""
        named = {f for group in groups for f in group}
        unknown = sorted(named - set(self.families))
        if unknown:
            raise ValueError(f"curriculum stages name families {unknown} that the gen: sources do not")
        ws = np.where([f in named for f in self.families], w, 0.0)
        if ws.sum() <= 0:
            raise ValueError(f"curriculum stage {groups[-1]}: every family in it so far has weight 0")
        return ws / ws.sum()

    def probabilities(self, k: int) -> np.ndarray:
        """The family probabilities task k is drawn with (its curriculum stage's, or the whole stream's)."""
        stage = k // self.stage_tasks if self.stage_p else 0
        return self.stage_p[stage] if stage < len(self.stage_p) else self.p

    def task(self, k: int) -> Task:
        rng = np.random.default_rng([self.seed, k])
        family = self.families[int(rng.choice(len(self.families), p=self.probabilities(k)))]
        low, high = self.difficulty
        return generate_task(family, int(rng.integers(2**31)), float(rng.uniform(low, high)))

    def tasks(self, start: int, count: int) -> list[Task]:
        return [self.task(k) for k in range(start, start + count)]

    def twin(self, k: int, task: Task | None = None) -> Task | None:
        """Task k's twin (None when its family has no usable alternative); `task`: task k, if at hand."""
        task = self.task(k) if task is None else task
        return render_twin(FAMILIES[task.meta["family"]], task, np.random.default_rng([self.seed, k, 1]))


class MixedSampler:
    """Batches of `batch_size` samples: round(batch_size × gen_share) from generated tasks (the stream's
    next ones), the rest from `real` (a TaskSampler, which may be None when every source is generated).
    `epoch` counts the real tasks' epochs, or generated tasks (twins included) / `gen_epoch` when there are
    none. With `generated.twins` each stream task is followed by its twin while the generated share has
    room for both, so a batch holds fewer stream tasks and every twin sits in its original's batch."""

    def __init__(self, real: TaskSampler | None, generated: GeneratedTasks, n_generated: int, seed: int,
                 augment: bool = True, keep_background: bool = True, gen_epoch: int = 1000):
        if n_generated < 1:
            raise ValueError(f"MixedSampler needs >= 1 generated task per batch, got {n_generated}")
        self.real = real
        self.generated = generated
        self.n_generated = n_generated
        self.augment = augment
        self.keep_background = keep_background
        self.gen_epoch = gen_epoch
        self._rng = np.random.default_rng([seed, 7])
        self._drawn = 0
        self._twins = 0

    @property
    def epoch(self) -> float:
        return self.real.epoch if self.real is not None else (self._drawn + self._twins) / self.gen_epoch

    def next_batch(self) -> list[Sample]:
        samples = self.real.next_batch() if self.real is not None else []
        if self.generated.twins:
            return samples + self._with_twins()
        for task in self.generated.tasks(self._drawn, self.n_generated):
            samples.append(draw_sample(self._rng, task, self.augment, self.keep_background))
        self._drawn += self.n_generated
        return samples

    def _with_twins(self) -> list[Sample]:
        """`n_generated` samples: stream tasks, each followed by its twin (same view) while both fit."""
        samples: list[Sample] = []
        while len(samples) < self.n_generated:
            k = self._drawn
            task = self.generated.task(k)
            query, aug = draw_view(self._rng, task, self.augment, self.keep_background)
            samples.append(make_sample(task, query, aug))
            self._drawn += 1
            twin = self.generated.twin(k, task) if len(samples) < self.n_generated else None
            if twin is not None:
                samples.append(make_sample(twin, query, aug))
                self._twins += 1
        return samples

    def state_dict(self) -> dict[str, Any]:
        return {"real": None if self.real is None else self.real.state_dict(),
                "rng": copy.deepcopy(self._rng.bit_generator.state), "drawn": self._drawn, "twins": self._twins,
                "families": list(self.generated.families), "seed": self.generated.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["families"] != self.generated.families or state["seed"] != self.generated.seed:
            raise ValueError("MixedSampler.load_state_dict: the generator families or seed differ from the "
                             "saved run's; a resumed run must use the same sources")
        if self.real is not None:
            self.real.load_state_dict(state["real"])
        self._rng.bit_generator.state = copy.deepcopy(state["rng"])
        self._drawn = int(state["drawn"])
        self._twins = int(state.get("twins", 0))  # absent in checkpoints from before twins
