"""`solve.policy`: the refiner policy's offset can be dropped, kept at its mode, or chosen among seeded draws
by leave-one-out demo accuracy; the choice reads only the demos and repeats exactly."""

import copy

import numpy as np
import pytest
import torch

from arc_efe.data.augment import IDENTITY
from arc_efe.data.batching import make_test_sample
from arc_efe.data.task import Pair, Task
from arc_efe.solving.policy_choice import best_draw, demo_scores, draw_noise
from arc_efe.solving.solver import SolveConfig, Solver
from arc_efe.solving.ttt import TTTConfig

from .conftest import make_recolor_task


def scrambled_answers(task: Task) -> Task:
    rng = np.random.default_rng(5)
    test = [Pair(p.input, rng.integers(0, 10, (4, 7))) for p in task.test]
    return Task(task.id, task.train, test)


def test_noise_rows_are_the_mode_then_seeded_draws():
    noise = draw_noise(6, 3, seed=11)
    assert noise.shape == (4, 6) and torch.equal(noise[0], torch.zeros(6))
    assert torch.equal(noise, draw_noise(6, 3, seed=11)) and not torch.equal(noise, draw_noise(6, 3, seed=12))
    assert (noise[1:].abs() > 0).all()


def test_the_kept_draw_is_the_best_on_the_demos_and_reads_no_answer(system):
    task = make_recolor_task("pick", demos=4, tests=2, seed=2)
    chosen = best_draw(system, task, draws=6, seed=3)
    noise = draw_noise(system.prompt_dim, 6, seed=3)
    scores = demo_scores(system, task, noise)
    assert torch.equal(chosen, noise[int(torch.argmax(scores))])
    assert torch.equal(best_draw(system, scrambled_answers(task), draws=6, seed=3), chosen)
    # the draws are different offsets of the same prompt, so there is something to choose between
    sample = make_test_sample(task, 0, IDENTITY)
    stats = torch.from_numpy(sample.stats[None].astype(np.float32))
    p = torch.randn(1, system.prompt_dim)
    offsets = [system.policy_offsets(p, stats, n) for n in noise]
    assert all(not torch.allclose(offsets[0], o) for o in offsets[1:])


def test_ties_and_single_demo_tasks_keep_the_mode(system, monkeypatch):
    one_demo = Task("one", [make_recolor_task().train[0]], make_recolor_task().test)
    assert torch.equal(best_draw(system, one_demo, draws=4, seed=0), torch.zeros(system.prompt_dim))
    monkeypatch.setattr(type(system), "policy_offsets", lambda self, base, stats, noise: torch.zeros_like(base))
    assert torch.equal(best_draw(system, make_recolor_task(), draws=4, seed=0), torch.zeros(system.prompt_dim))


def test_policy_off_gives_the_base_prompt_and_mode_adds_an_offset(system):
    system = copy.deepcopy(system)  # an untrained policy's mode is 0: give it one that is not
    with torch.no_grad():
        for p in system.policy.parameters():
            p.add_(0.1 * torch.randn_like(p))
    task = make_recolor_task("views", seed=4)
    off = Solver(system, SolveConfig(policy="off"))._view_prompts(task, IDENTITY)
    mode = Solver(system, SolveConfig(policy="mode"))._view_prompts(task, IDENTITY)
    assert torch.equal(off.refined, off.base) and torch.equal(off.base, mode.base)
    assert not torch.equal(mode.refined, mode.base)
    # best_of_k with the mode's noise (zeros) is exactly the mode
    zero = Solver(system, SolveConfig(policy="best_of_k"))._view_prompts(task, IDENTITY, torch.zeros(system.prompt_dim))
    torch.testing.assert_close(zero.refined, mode.refined, rtol=0, atol=1e-6)


@pytest.mark.parametrize("policy", ["off", "best_of_k"])
def test_the_solver_runs_each_policy_and_repeats_itself(system, policy):
    cfg = SolveConfig(time_budget=1e6, augmentations=2, experts=("neural",), policy=policy, policy_draws=3,
                      ttt=TTTConfig(max_steps=2, check_every=1, rows_per_step=4))
    task = make_recolor_task("run", seed=6)
    first, second = (Solver(system, cfg).solve(task) for _ in range(2))
    assert first.error is None
    for a, b in zip(first.plain_attempts + first.attempts, second.plain_attempts + second.attempts):
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
    if policy == "off":  # attempt 2 of plain prediction is p + δ, which is p when the policy is off
        assert all(np.array_equal(a, b) for a, b in first.plain_attempts)


@pytest.mark.parametrize("change,message", [({"policy": "sample"}, "policy must be"),
                                            ({"policy_draws": 0}, "policy_draws must be")])
def test_bad_policy_settings_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        SolveConfig(**change).validate()
