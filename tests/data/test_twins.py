"""Twin tasks (`data.gen_twins`): the same inputs under another rule instance, batched with their original."""

import numpy as np

from arc_efe.data.batching import draw_sample
from arc_efe.data.generated import GeneratedTasks, MixedSampler
from arc_efe.data.generators import FAMILIES, generate_task, render_twin
from arc_efe.training.config import DataConfig
from arc_efe.training.setup import build_sampler

THREE = ["gravity_cells", "d8_transform", "colour_map"]


def same(a, b):
    return a.shape == b.shape and np.array_equal(a, b)


def sample_key(s):
    grids = [g for p in [*s.context, s.query] for g in (p.input, p.output)]
    return s.task_id, s.aug_id, tuple(g.tobytes() + bytes(g.shape) for g in grids)


def test_twin_shares_inputs_and_differs_in_rule_and_every_demo_output():
    stream = GeneratedTasks(THREE, seed=0, twins=True)
    found = 0
    for k in range(30):
        task, twin = stream.task(k), stream.twin(k)
        if twin is None:
            continue
        found += 1
        family = FAMILIES[task.meta["family"]]
        assert twin.id == task.id + "-twin" and twin.meta["params"] != task.meta["params"]
        for mine, its in zip(task.train + task.test, twin.train + twin.test, strict=True):
            assert same(mine.input, its.input)
        assert not any(same(mine.output, its.output) for mine, its in zip(task.train, twin.train))
        assert not family.fits(twin.meta["params"], task.train)
        assert family.fits(twin.meta["params"], twin.train + twin.test)
    assert found >= 20  # gravity and D8 always have one; colour_map most of the time


def test_a_family_without_alternatives_has_no_twin():
    assert FAMILIES["scale_up"].alternatives is None
    task = generate_task("scale_up", 5)
    assert render_twin(FAMILIES["scale_up"], task, np.random.default_rng(0)) is None


def test_twins_are_a_function_of_seed_and_index():
    a, b = GeneratedTasks(THREE, seed=2, twins=True), GeneratedTasks(THREE, seed=2, twins=True)
    for k in range(8):
        x, y = a.twin(k), b.twin(k)
        assert (x is None) == (y is None)
        if x is not None:
            assert x.meta["params"] == y.meta["params"]
            assert all(same(p.output, q.output) for p, q in zip(x.train, y.train))


def test_each_twin_follows_its_original_in_the_same_batch_with_the_same_view():
    sampler = MixedSampler(None, GeneratedTasks(THREE, seed=0, twins=True), n_generated=8, seed=0)
    twins = 0
    for _ in range(4):
        batch = sampler.next_batch()
        assert len(batch) == 8
        for i, s in enumerate(batch):
            if not s.task_id.endswith("-twin"):
                continue
            twins += 1
            original = batch[i - 1]
            assert i > 0 and original.task_id + "-twin" == s.task_id and original.aug_id == s.aug_id
            assert same(original.query.input, s.query.input) and not same(original.query.output, s.query.output)
    assert twins >= 10


def test_twin_stream_resumes_exactly():
    make = lambda: MixedSampler(None, GeneratedTasks(THREE, seed=1, twins=True), 6, seed=1)  # noqa: E731
    first = make()
    first.next_batch()
    state = first.state_dict()
    expected = [[sample_key(s) for s in first.next_batch()] for _ in range(2)]
    resumed = make()
    resumed.load_state_dict(state)
    assert [[sample_key(s) for s in resumed.next_batch()] for _ in range(2)] == expected


def test_flag_off_draws_the_stream_as_before():
    """Twins off: batch b holds stream tasks 8b..8b+7, each drawn by `draw_sample` from the [seed, 7] rng."""
    sampler = build_sampler(DataConfig(train=["gen:" + ",".join(THREE)], batch_size=8), [], seed=4)
    assert DataConfig().gen_twins is False and not sampler.generated.twins
    rng, stream = np.random.default_rng([4, 7]), GeneratedTasks(THREE, seed=4)
    for b in range(2):
        expected = [sample_key(draw_sample(rng, t, True, True)) for t in stream.tasks(8 * b, 8)]
        assert [sample_key(s) for s in sampler.next_batch()] == expected


def test_the_config_flag_turns_twins_on():
    cfg = DataConfig(train=["gen:" + ",".join(THREE)], batch_size=8, gen_twins=True)
    batch = build_sampler(cfg, [], seed=0).next_batch()
    assert any(s.task_id.endswith("-twin") for s in batch)
