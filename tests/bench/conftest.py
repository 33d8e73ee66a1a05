"""Shared by the bench tests: a bench script loaded as a module, the way `python bench/NAME.py` runs it."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def load_bench(monkeypatch):
    """`load_bench(name)` -> bench/NAME.py as a module. The scripts import `common` (and `prior`) from their own
    folder, and a script's dataclasses look their module up in sys.modules, so both are set for the test."""
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")

    def load(name: str):
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, f"bench_{name}", module)
        spec.loader.exec_module(module)
        return module

    return load
