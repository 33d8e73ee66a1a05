import logging

import numpy as np
import pytest
import torch

from arc_efe.data.augment import IDENTITY, Augmentation
from arc_efe.data.batching import Sample, TaskSampler, collate, make_sample, make_test_sample
from arc_efe.data.sources import load_tasks
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
    assert batch.query_input.shape == (2, 4, 4) and batch.query_input.dtype == torch.long  # largest side
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


def test_collate_canvas_is_the_largest_query_side_unless_given():
    x, y = _grid(2, 3), _grid(5, 1, start=4)
    ctx = [Pair(_grid(9, 9), _grid(9, 9))]  # context grids never set the canvas
    samples = [_sample("a", ctx, Pair(x, y)), _sample("b", ctx, Pair(x, None))]
    small = collate(samples)
    assert small.query_output.shape == small.query_output_mask.shape == (2, 5, 5)
    assert collate(samples[1:]).query_input.shape == (1, 3, 3)  # unknown outputs: the input alone
    full = collate(samples, canvas=30)
    assert full.query_input.shape == full.query_input_mask.shape == (2, 30, 30)
    assert torch.equal(full.query_output[:, :5, :5], small.query_output) and full.query_output[:, 5:].sum() == 0
    assert torch.equal(full.query_input_mask[:, :5, :5], small.query_input_mask)
    assert torch.equal(full.output_size, small.output_size)
    with pytest.raises(ValueError, match=r"task a \(.*\): query output is 5x1, outside 1x1..4x4"):
        collate(samples, canvas=4)
    with pytest.raises(ValueError, match="canvas must be in 1..30, got 31"):
        collate(samples, canvas=31)
    with pytest.raises(ValueError, match="task big .*31x2, outside 1x1..30x30"):
        collate([_sample("big", ctx, Pair(np.ones((31, 2), dtype=np.int64), None))])


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


@pytest.mark.parametrize("bucket", [True, False])
def test_sampler_epochs_distinct_tasks_and_determinism(bucket):
    tasks = [_task(f"t{i}", 2 + i % 3, seed=i) for i in range(7)]
    sampler = TaskSampler(tasks, batch_size=3, seed=5, bucket_by_size=bucket)
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
    other = TaskSampler(tasks, batch_size=3, seed=5, bucket_by_size=bucket)
    first = TaskSampler(tasks, batch_size=3, seed=5, bucket_by_size=bucket).next_batch()
    assert _signature(other.next_batch()) == _signature(first)
    assert _signature(TaskSampler(tasks, batch_size=3, seed=6, bucket_by_size=bucket).next_batch()) != _signature(first)


@pytest.mark.parametrize("bucket", [True, False])
def test_sampler_batches_stay_distinct_across_epoch_boundaries(bucket):
    # batch_size close to the task count makes a reshuffle inside a batch collide often.
    tasks = [_task(f"t{i}", 2 + i % 2, seed=i) for i in range(5)]
    sampler = TaskSampler(tasks, batch_size=4, seed=0, augment=False, bucket_by_size=bucket)
    seen = []
    for _ in range(20):  # 80 tasks = 16 epochs
        ids = [s.task_id for s in sampler.next_batch()]
        assert len(set(ids)) == 4, ids
        seen += ids
    for e in range(16):
        assert sorted(seen[5 * e : 5 * e + 5]) == [t.id for t in tasks]


@pytest.mark.parametrize("bucket", [True, False])
def test_sampler_resume_reproduces_the_next_batches(bucket):
    tasks = [_task(f"t{i}", 1 + i, seed=i) for i in range(5)]
    sampler = TaskSampler(tasks, batch_size=2, seed=0, bucket_by_size=bucket)
    for _ in range(5):
        sampler.next_batch()
    state = sampler.state_dict()
    expected = [_signature(sampler.next_batch()) for _ in range(3)]
    resumed = TaskSampler(tasks, batch_size=2, seed=123, bucket_by_size=bucket)
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


def _epoch_canvas_sides(tasks: list[Task], bucket: bool, seed: int, batch_size: int = 16) -> list[int]:
    sampler = TaskSampler(tasks, batch_size=batch_size, seed=seed, bucket_by_size=bucket)
    sides, seen = [], []
    while len(seen) < len(tasks):
        batch = sampler.next_batch()
        seen += [s.task_id for s in batch]
        sides.append(collate(batch).query_input.shape[-1])
    assert sorted(seen[: len(tasks)]) == sorted(t.id for t in tasks)  # the epoch saw every task once
    return sides


def test_size_buckets_shrink_the_canvas_over_an_epoch_of_arc1_training():
    tasks = load_tasks("arc1/training").tasks
    plain = [np.mean(_epoch_canvas_sides(tasks, bucket=False, seed=s)) for s in (0, 1)]
    bucketed = [np.mean(_epoch_canvas_sides(tasks, bucket=True, seed=s)) for s in (0, 1)]
    # Measured: about 24 unbucketed, 15 bucketed; the agent's cost grows with the side squared.
    assert max(bucketed) < 0.7 * min(plain), (plain, bucketed)


def test_size_buckets_group_similar_tasks_within_a_run():
    sizes = [3, 20, 5, 18, 4, 22, 6, 19]
    tasks = [Task(f"t{i}", [Pair(np.zeros((n, n), dtype=np.int64), np.zeros((n, n), dtype=np.int64))], [])
             for i, n in enumerate(sizes)]
    sampler = TaskSampler(tasks, batch_size=4, seed=0, augment=False)
    epochs = [[collate(sampler.next_batch()).query_input.shape[-1] for _ in range(2)] for _ in range(3)]
    assert all(sorted(e) == [6, 22] for e in epochs), epochs  # small tasks together, large together
