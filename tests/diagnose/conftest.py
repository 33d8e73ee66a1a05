"""The trainer tests' fixtures (small real tasks, a fresh accelerate state per test) for the doctor's tests."""

from ..training.conftest import _fresh_accelerator_state, small_tasks_dir  # noqa: F401
