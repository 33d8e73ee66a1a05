import logging

import numpy as np
import pytest
import torch

from arc_efe.data.augment import IDENTITY, Augmentation
from arc_efe.data.batching import Sample, TaskSampler, collate, make_sample, make_test_sample
from arc_efe.data.stats import STATS_DIM, task_statistics
from arc_efe.data.task import Pair, Task


def _grid(h: int, w: int, start: int = 1) -> np.ndarray:
    return (np.arange(h * w).reshape(h, w) + start) % 9 + 1  # no zeros, so padding is visible


def _task(tid: str, n_demos: int, seed: int = 0) -> Task:
    rng = np.random.default_rng(seed)
    shapes = [((i + 1, i + 2), (i + 2, i + 1)) for i in range(n_demos)]
    demos = [Pair(rng.integers(0, 10, a), rng.integers(0, 10, b)) for a, b in shapes]
    return Task(tid, demos, [Pair(rng.integers(0, 10, (3, 3)), None)])


def _same(a: Pair, b: Pair) -> bool:
    return np.array_equal(a.input, b.input) and np.array_equal(a.output, b.output)


def _sample(tid: str, ctx: list[Pair], query: Pair) -> Sample:
    return Sample(tid, ctx, query, IDENTITY.id, task_statistics(ctx))


def test_collate_places_grids_top_left_with_exact_masks_and_sizes():
    x, y = _grid(2, 3), _grid(4, 1, start=4)
    ctx = [Pair(x, y)]
    samples = [
        _sample("a", ctx, Pair(x, y)),
        _sample("b", ctx, Pair(y, None)),
    ]
    batch = collate(samples)
    assert len(batch) == 2 and batch.task_ids == ["a", "b"]
    assert batch.query_input.shape == (2, 30, 30) and batch.query_input.dtype == torch.long
    assert batch.query_output_mask.dtype == torch.bool and batch.stats.dtype == torch.float32
    assert batch.stats.shape == (2, STATS_DIM)
    assert batch.query_input_mask[0].sum() == 6 and batch.query_output_mask[0].sum() == 4
    assert batch.query_input_mask[0, :2, :3].all() and batch.query_output_mask[0, :4, :1].all()
    assert torch.equal(batch.query_input[0, :2, :3], torch.from_numpy(x))
    assert torch.equal(batch.query_output[0, :4, :1], torch.from_numpy(y))
    assert batch.query_input[0].sum() == x.sum() and batch.query_output[0].sum() == y.sum()  # zeros elsewhere
    assert batch.input_size.tolist() == [[2, 3], [4, 1]]
    assert batch.output_size.tolist() == [[4, 1], [0, 0]]
    assert not batch.query_output_mask[1].any() and batch.query_output[1].sum() == 0
    assert batch.query_input_mask[1].sum() == 4


def test_batch_to_moves_tensors_and_keeps_lists():
    batch = collate([make_sample(_task("t", 3), 0, IDENTITY)])
    moved = batch.to("cpu")
    assert moved is not batch and moved.query_input.device.type == "cpu"
    assert moved.contexts is batch.contexts and moved.task_ids == ["t"]


def test_collate_rejects_empty():
    with pytest.raises(ValueError, match="at least one"):
        collate([])


def test_leave_one_out_query_not_in_context_and_augmented():
    task = _task("t", 4)
    aug = Augmentation(1, (0, 2, 1, 3, 4, 5, 6, 7, 8, 9))
    for q in range(4):
        s = make_sample(task, q, aug)
        assert len(s.context) == 3 and s.aug_id == aug.id
        assert not any(_same(c, s.query) for c in s.context)
        np.testing.assert_array_equal(s.query.input, aug.apply(task.train[q].input))
        np.testing.assert_array_equal(s.stats, task_statistics(s.context))
    with pytest.raises(IndexError, match="task t"):
        make_sample(task, 4, aug)


def test_single_demo_uses_itself_as_context(caplog):
    task = _task("one", 1)
    with caplog.at_level(logging.DEBUG, logger="arc_efe.data.batching"):
        s = make_sample(task, 0, IDENTITY)
    assert len(s.context) == 1 and _same(s.context[0], s.query)
    assert "1 demo" in caplog.text


def test_test_sample_uses_all_demos_and_unknown_output():
    task = _task("t", 3)
    s = make_test_sample(task, 0, IDENTITY)
    assert len(s.context) == 3 and s.query.output is None
    assert collate([s]).output_size.tolist() == [[0, 0]]


def _signature(batch):
    return [(s.task_id, s.aug_id, s.query.input.tobytes()) for s in batch]


def test_sampler_epochs_distinct_tasks_and_determinism():
    tasks = [_task(f"t{i}", 2 + i % 3, seed=i) for i in range(7)]
    sampler = TaskSampler(tasks, batch_size=3, seed=5)
    seen = []
    for _ in range(7):  # 21 tasks = 3 epochs
        batch = sampler.next_batch()
        ids = [s.task_id for s in batch]
        assert len(set(ids)) == 3
        seen += ids
    assert sampler.epoch == pytest.approx(3.0)
    for e in range(3):
        assert sorted(seen[7 * e : 7 * e + 7]) == sorted(t.id for t in tasks)
    assert len({s.aug_id for s in batch}) > 1
    other = TaskSampler(tasks, batch_size=3, seed=5)
    first = TaskSampler(tasks, batch_size=3, seed=5).next_batch()
    assert _signature(other.next_batch()) == _signature(first)
    assert _signature(TaskSampler(tasks, batch_size=3, seed=6).next_batch()) != _signature(first)


def test_sampler_batches_stay_distinct_across_epoch_boundaries():
    # batch_size close to the task count makes a reshuffle inside a batch collide often.
    tasks = [_task(f"t{i}", 2, seed=i) for i in range(5)]
    sampler = TaskSampler(tasks, batch_size=4, seed=0, augment=False)
    seen = []
    for _ in range(20):  # 80 tasks = 16 epochs
        ids = [s.task_id for s in sampler.next_batch()]
        assert len(set(ids)) == 4, ids
        seen += ids
    for e in range(16):
        assert sorted(seen[5 * e : 5 * e + 5]) == [t.id for t in tasks]


def test_sampler_resume_reproduces_the_next_batches():
    tasks = [_task(f"t{i}", 3, seed=i) for i in range(5)]
    sampler = TaskSampler(tasks, batch_size=2, seed=0)
    for _ in range(5):
        sampler.next_batch()
    state = sampler.state_dict()
    expected = [_signature(sampler.next_batch()) for _ in range(3)]
    resumed = TaskSampler(tasks, batch_size=2, seed=123)
    resumed.load_state_dict(state)
    assert resumed.epoch == pytest.approx(2.0)
    assert [_signature(resumed.next_batch()) for _ in range(3)] == expected
    with pytest.raises(ValueError, match="task list"):
        TaskSampler(tasks[::-1], batch_size=2, seed=0).load_state_dict(state)


def test_sampler_without_augment_is_identity_and_validates():
    tasks = [_task(f"t{i}", 2, seed=i) for i in range(3)]
    batch = TaskSampler(tasks, batch_size=3, seed=0, augment=False).next_batch()
    assert {s.aug_id for s in batch} == {IDENTITY.id}
    with pytest.raises(ValueError, match="batch_size"):
        TaskSampler(tasks, batch_size=4, seed=0)
    with pytest.raises(ValueError, match="task e"):
        TaskSampler([Task("e", [], [])], batch_size=1, seed=0)
