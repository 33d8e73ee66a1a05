"""TaskClock on a fake clock: deadlines, prices as the slowest run, spent time per stage."""

import pytest

from arc_efe.solving.clock import TaskClock


class FakeTime:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_prices_are_the_slowest_run_and_spent_time_sums_per_stage():
    now = FakeTime()
    clock = TaskClock(10.0, now)
    for seconds in (0.5, 2.0, 1.0):
        with clock.stage("update"):
            now.t += seconds
    assert clock.price("update") == 2.0 and clock.runs["update"] == 3
    assert clock.spent["update"] == pytest.approx(3.5)
    assert clock.price("vote", default=7.0) == 7.0
    assert clock.record() == {"update": 3.5, "total": 3.5}


def test_fits_respects_the_deadline_and_an_earlier_stage_deadline():
    now = FakeTime()
    clock = TaskClock(10.0, now)
    now.t += 8.0
    assert clock.fits(2.0) and not clock.fits(2.01)
    assert clock.fits(0.5, until=now.t + 1) and not clock.fits(1.5, until=now.t + 1)
    assert clock.left(until=now.t + 50) == pytest.approx(2.0)  # a later "until" is capped at the deadline
    now.t += 5.0
    assert clock.left() == 0.0 and not clock.fits(0.0001)


def test_a_stage_that_raises_is_still_timed():
    now = FakeTime()
    clock = TaskClock(1.0, now)
    with pytest.raises(RuntimeError), clock.stage("ttt"):
        now.t += 0.25
        raise RuntimeError("nan")
    assert clock.spent["ttt"] == 0.25


def test_budget_must_be_positive():
    with pytest.raises(ValueError, match="> 0"):
        TaskClock(0)
