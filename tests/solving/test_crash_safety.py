"""A NaN during refinement costs a task its refinement, not its answer: the plain attempts stand and the
error is recorded; the model's weights come back unchanged for the next task."""

import torch

from arc_efe.solving import ttt as ttt_module
from arc_efe.solving.ttt import TTTConfig
from arc_efe.solving.solver import SolveConfig, Solver


def test_a_nan_in_refinement_falls_back_to_the_plain_attempts(system, recolor_task, monkeypatch):
    demo_loss, calls = ttt_module.demo_loss, []

    def nan_on_second_update(*args, **kwargs):
        calls.append(1)
        loss = demo_loss(*args, **kwargs)
        return loss * float("nan") if len(calls) == 2 else loss

    monkeypatch.setattr(ttt_module, "demo_loss", nan_on_second_update)
    weights = {name: p.detach().clone() for name, p in system.named_parameters()}
    cfg = SolveConfig(time_budget=1000.0, augmentations=2, ttt=TTTConfig(max_steps=6, check_every=3),
                      experts=["neural"])  # the search expert would answer this recolouring itself
    task = recolor_task()
    record = Solver(system, cfg).solve(task)

    assert len(calls) == 2  # refinement stopped at the NaN update
    assert record.error is not None and record.error.startswith("FloatingPointError") and "nan" in record.error
    assert record.ttt["stopped"] == "error"
    assert len(record.attempts) == len(task.test)
    for chosen, plain in zip(record.attempts, record.plain_attempts):
        assert len(chosen) == 2 and all(torch.equal(torch.from_numpy(a), torch.from_numpy(b))
                                        for a, b in zip(chosen, plain))
    assert record.correct is not None  # graded like any record
    for name, p in system.named_parameters():
        assert torch.equal(p, weights[name]), name  # the adapter was restored, NaN-free
