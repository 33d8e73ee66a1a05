"""Generated tasks as a source: `gen:` names, a stateless seeded stream, mixed batches that resume exactly."""

import numpy as np
import pytest

from arc_efe.data.batching import TaskSampler
from arc_efe.data.generated import GeneratedTasks, MixedSampler, families_of, is_generated
from arc_efe.data.generators import FAMILIES


def same_task(a, b):
    pairs = lambda t: [(p.input, p.output) for p in t.train + t.test]  # noqa: E731
    return a.id == b.id and all(np.array_equal(x, y) for pa, pb in zip(pairs(a), pairs(b)) for x, y in zip(pa, pb))


def test_source_names():
    assert is_generated("gen:all") and not is_generated("arc1/training")
    assert families_of("gen:all") == sorted(FAMILIES)
    two = sorted(FAMILIES)[:2]
    assert families_of("gen:" + ",".join(two)) == two
    with pytest.raises(ValueError, match="unknown generator families"):
        families_of("gen:no_such_family")


def test_stream_is_a_function_of_seed_and_index():
    a, b = GeneratedTasks(sorted(FAMILIES), seed=3), GeneratedTasks(sorted(FAMILIES), seed=3)
    assert all(same_task(x, y) for x, y in zip(a.tasks(0, 6), [b.task(k) for k in range(6)]))
    other = GeneratedTasks(sorted(FAMILIES), seed=4).tasks(0, 6)
    assert [t.id for t in other] != [t.id for t in a.tasks(0, 6)]


def test_weights_pick_families():
    only, never = sorted(FAMILIES)[:2]
    stream = GeneratedTasks([only, never], seed=0, weights={never: 0.0})
    assert {t.id.rsplit("-", 1)[0] for t in stream.tasks(0, 8)} == {f"gen-{only}"}
    with pytest.raises(ValueError, match="weights"):
        GeneratedTasks([only], seed=0, weights={only: 0.0})


@pytest.fixture
def tiny_tasks():
    """Three real-looking tasks (here: generated ones under other ids) for the real half of a batch."""
    tasks = GeneratedTasks(sorted(FAMILIES), seed=99).tasks(0, 3)
    for i, task in enumerate(tasks):
        task.id = f"real{i}"
    return tasks


def make_sampler(real_tasks, seed=0):
    real = TaskSampler(real_tasks, 2, seed=seed) if real_tasks else None
    return MixedSampler(real, GeneratedTasks(sorted(FAMILIES), seed=seed), n_generated=2, seed=seed)


def test_mixed_batches_hold_real_and_generated_and_resume_exactly(tiny_tasks):
    sampler = make_sampler(tiny_tasks)
    first = sampler.next_batch()
    assert len(first) == 4 and sum(s.task_id.startswith("gen-") for s in first) == 2
    state = sampler.state_dict()
    expected = [sampler.next_batch() for _ in range(3)]
    resumed = make_sampler(tiny_tasks)
    resumed.load_state_dict(state)
    got = [resumed.next_batch() for _ in range(3)]
    for batch_a, batch_b in zip(expected, got):
        assert [s.task_id for s in batch_a] == [s.task_id for s in batch_b]
        assert all(np.array_equal(a.query.input, b.query.input) and a.aug_id == b.aug_id
                   for a, b in zip(batch_a, batch_b))


def test_generated_only_counts_epochs_in_generated_tasks():
    sampler = MixedSampler(None, GeneratedTasks(sorted(FAMILIES), seed=0), n_generated=4, seed=0, gen_epoch=8)
    sampler.next_batch()
    assert sampler.epoch == 0.5
    with pytest.raises(ValueError, match="families or seed"):
        MixedSampler(None, GeneratedTasks(sorted(FAMILIES), seed=1), 4, 0).load_state_dict(sampler.state_dict())


def family_of(task):
    return task.meta["family"]


def test_curriculum_stages_widen_the_families_drawn_in_order():
    a, b, c, d = sorted(FAMILIES)[:4]
    stream = GeneratedTasks([a, b, c, d], seed=0, stages=[[a], [b, c]], stage_tasks=10)
    assert {family_of(t) for t in stream.tasks(0, 10)} == {a}
    assert {family_of(t) for t in stream.tasks(10, 10)} <= {a, b, c}
    assert {b, c} <= {family_of(t) for t in stream.tasks(10, 10)}
    assert d in {family_of(t) for t in stream.tasks(20, 40)}  # after the last group: every family
    # the stage is a function of the index alone, so a stream rebuilt mid-curriculum draws the same tasks
    again = GeneratedTasks([a, b, c, d], seed=0, stages=[[a], [b, c]], stage_tasks=10)
    assert all(same_task(x, again.task(k)) for k, x in zip(range(12, 18), stream.tasks(12, 6)))


def test_curriculum_stages_refuse_unknown_families_and_all_zero_weights():
    a, b = sorted(FAMILIES)[:2]
    with pytest.raises(ValueError, match="do not"):
        GeneratedTasks([a, b], seed=0, stages=[["translate_typo"]], stage_tasks=5)
    with pytest.raises(ValueError, match="weight 0"):
        GeneratedTasks([a, b], seed=0, weights={a: 0.0}, stages=[[a]], stage_tasks=5)
    with pytest.raises(ValueError, match="stage length"):
        GeneratedTasks([a, b], seed=0, stages=[[a]], stage_tasks=0)


def test_curriculum_config_counts_stages_in_training_steps():
    from arc_efe.training.config import DataConfig, TrainConfig
    from arc_efe.training.setup import build_sampler

    a, b = sorted(FAMILIES)[:2]
    data = DataConfig(train=[f"gen:{a},{b}"], batch_size=4, gen_stages=[[b]], gen_stage_steps=3)
    sampler = build_sampler(data, [], seed=0)
    assert sampler.generated.stage_tasks == 12  # 3 steps x 4 generated tasks per batch
    assert {s.task_id.rsplit("-", 1)[0] for _ in range(3) for s in sampler.next_batch()} == {f"gen-{b}"}
    with pytest.raises(ValueError, match="gen_stage_steps"):
        TrainConfig(data=DataConfig(gen_stages=[[a]])).validate()
