"""One clock per task: the deadline, what each stage has been seen to cost, and where the time went.

Every stage of a task (plain prediction, encoding views, test-time training updates and checks, voting,
later experts) asks the same clock whether one more run of it fits, and records what it took. A stage is
priced by its slowest run so far, so a check "is there time for one more" errs on the side of stopping:
no stage starts unless its price fits before the deadline it is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class TaskClock:
    """Deadline = start + budget seconds, on `now` (time.perf_counter unless a test passes its own)."""

    def __init__(self, budget: float, now: Callable[[], float] = time.perf_counter):
        if budget <= 0:
            raise ValueError(f"a task's time budget must be > 0 seconds, got {budget}")
        self.now = now
        self.start = now()
        self.deadline = self.start + budget
        self.spent: dict[str, float] = {}  # seconds per stage, summed over its runs
        self.runs: dict[str, int] = {}
        self._price: dict[str, float] = {}  # slowest run per stage

    def elapsed(self) -> float:
        return self.now() - self.start

    def left(self, until: float | None = None) -> float:
        """Seconds until `until` (default: the task's deadline), never negative."""
        return max((self.deadline if until is None else min(until, self.deadline)) - self.now(), 0.0)

    def price(self, stage: str, default: float = 0.0) -> float:
        """The slowest run of `stage` so far, or `default` if it has not run."""
        return self._price.get(stage, default)

    def fits(self, seconds: float, until: float | None = None) -> bool:
        """Would `seconds` more end by `until` (default, and at most: the task's deadline)?"""
        return seconds <= self.left(until)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time one run of stage `name`; its duration counts in `spent` and may raise its price."""
        tick = self.now()
        try:
            yield
        finally:
            took = self.now() - tick
            self.spent[name] = self.spent.get(name, 0.0) + took
            self.runs[name] = self.runs.get(name, 0) + 1
            self._price[name] = max(self._price.get(name, 0.0), took)

    def record(self) -> dict[str, float]:
        """Seconds per stage (rounded to ms) plus the total, for the task's record."""
        out = {name: round(seconds, 3) for name, seconds in self.spent.items()}
        out["total"] = round(self.elapsed(), 3)
        return out
