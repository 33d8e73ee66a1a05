"""Program search: an enumerative search over a typed grid DSL, an expert beside the neural solver.

`search_task(task, deadline, cfg)` returns, per test input, candidate grids from programs verified on
every demo, shortest program first. numpy and scipy only; deterministic; never reads test outputs.
"""

from arc_efe.search.engine import Candidate, SearchConfig, SearchResult, search_task
from arc_efe.search.registry import PRIMITIVES

__all__ = ["PRIMITIVES", "Candidate", "SearchConfig", "SearchResult", "search_task"]
