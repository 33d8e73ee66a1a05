"""Program search: an enumerative search over a typed grid DSL, an expert beside the neural solver.

    from arc_efe.search import SearchConfig, search_task
    result = search_task(task, time.monotonic() + 10.0, SearchConfig())
    result.candidates[i]  # test input i: [Candidate(grid, program, length), ...], shortest program first

Only the demos and the test inputs are read, never `task.test[i].output`. numpy and scipy only;
deterministic for a given amount of search (the deadline decides how far it gets). Modules: `dsl`
(types, `Primitive`), `prims_geometry` / `prims_paint` / `prims_objects` (the primitives), `registry`
(their enumeration order), `objects` (components, separators), `finals` (the fitted last step),
`compose` (outputs assembled by overlaying two states the search computed), `engine` (the search).
"""

from arc_efe.search.engine import Candidate, SearchConfig, SearchResult, search_task
from arc_efe.search.registry import PRIMITIVES

__all__ = ["PRIMITIVES", "Candidate", "SearchConfig", "SearchResult", "search_task"]
