"""Enumerative program search over the DSL: breadth first, every program run on all task inputs at once.

A state is one value per input (the demo inputs, then the test inputs). States equal on every input are
the same program as far as this task can tell, so each is kept once (keyed by its bytes). Each depth is
first swept as leaves: a last step is run on the demos only, dropped as soon as its shape cannot become
the demo output (shape-keeping steps without being run), and offered to the final-step deduction; a
program is accepted only when a fitted final reproduces every demo output exactly, and only then is it
run on the test inputs. Then the depth's states are built in full to grow the next depth; those shaped
like the outputs join the composition pool (`compose.Pieces`), where two of them overlaid may be the
outputs. Test outputs are never read. The search stops at `deadline` (time.monotonic()) with what it found."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from arc_efe.data.task import Task
from arc_efe.search.compose import Pieces
from arc_efe.search.dsl import GRID, Primitive
from arc_efe.search.finals import Final, can_crop, feasible, fit_finals
from arc_efe.search.grids import as_search_grid, clear_caches, fits, grid_key
from arc_efe.search.objects import ObjectSet
from arc_efe.search.registry import taking

logger = logging.getLogger(__name__)


@dataclass
class SearchConfig:
    """How deep and how long the search goes."""

    max_depth: int = 3  # primitives per program, the final step not counted
    max_programs: int = 4  # stop once this many programs with distinct test predictions are verified
    max_states: int = 30_000  # stored states per depth, and remembered leaves (a memory guard)
    past_first_hit: bool = False  # go deeper after a depth that found programs (longer programs, more time)
    # Stop after this many programs tried (None: no cap). A cap, unlike the clock, gives the same result on
    # any machine under any load: speed changes are measured as CPU time for the same work.
    max_evaluated: int | None = None

    def validate(self) -> None:
        if not 1 <= self.max_depth <= 4:
            raise ValueError(f"max_depth must be 1..4, got {self.max_depth}")
        if self.max_programs < 1 or self.max_states < 1:
            raise ValueError("max_programs and max_states must be >= 1")
        if self.max_evaluated is not None and self.max_evaluated < 1:
            raise ValueError(f"max_evaluated must be >= 1 or None, got {self.max_evaluated}")


@dataclass(frozen=True)
class Candidate:
    """One predicted test output, the program that made it and that program's length."""

    grid: np.ndarray
    program: str
    length: int


@dataclass
class SearchResult:
    """Per test input, candidates ranked shortest program first, distinct grids; and what the search did."""

    candidates: list[list[Candidate]]
    programs: list[tuple[str, int]] = field(default_factory=list)
    evaluated: int = 0
    depth_done: int = 0
    timed_out: bool = False  # stopped before finishing: at the deadline, or at `max_evaluated`
    seconds: float = 0.0
    # when the first program was recorded (seconds after the start): `seconds` is when the search stopped,
    # which after a hit is the end of that depth or the deadline
    first_found_s: float | None = None


@dataclass(slots=True)
class _State:
    kind: str
    values: tuple
    steps: tuple[str, ...]


_UNKNOWN = object()
_STAGE_PARENTS = 8  # parents grown per stage of the last depth
_STAGE_NOW = 4  # per stage, this many output-shaped and this many tileable states tried at once
WIND_DOWN_S = 0.05  # the search stops this long before its deadline: unwinding and freeing its states takes
# about 30 ms after the last step, and the deadline is a promise to the caller
STAMP_STEPS = 1  # stamp finals end programs of at most this many primitives: past that they cost too much


class _Deadline(Exception):
    """Raised inside the enumeration when the clock runs out; caught by `search_task`."""


def _key(kind: str, values: tuple) -> bytes:
    if kind == GRID:
        return b"#".join(grid_key(v) for v in values)
    return b"#".join(v.key() for v in values)


def _apply(prim: Primitive, value):
    out = prim.fn(value)
    if out is None:
        return None
    if isinstance(out, np.ndarray):
        return out if fits(out) else None
    return out if isinstance(out, ObjectSet) else None


def demos_change(task: Task) -> bool:
    """Every demo's output differs from its input: then a prediction that copies its test input is refused
    (`copies_an_input`), as a rule that met only things the demos never showed."""
    return not any(np.array_equal(p.input, p.output) for p in task.train)


def copies_an_input(predictions: Sequence[np.ndarray], inputs: Sequence[np.ndarray]) -> bool:
    """Some prediction is its test input unchanged."""
    return any(p.shape == i.shape and np.array_equal(p, i) for p, i in zip(predictions, inputs))


def _legal(prediction: np.ndarray) -> bool:
    """An answer ARC accepts: a grid of 1..30 per side, colours only (no marks or labels left)."""
    return fits(prediction) and int(prediction.max()) <= 9


class _Search:
    def __init__(self, task: Task, deadline: float, cfg: SearchConfig):
        self.demos = len(task.train)
        self.outputs = [as_search_grid(p.output) for p in task.train]
        self.inputs = tuple(as_search_grid(p.input) for p in task.train) + tuple(
            as_search_grid(p.input) for p in task.test)
        self.deadline = deadline - WIND_DOWN_S
        self.first_found_at: float | None = None  # time.monotonic() when the first program was recorded
        self.changes = demos_change(task)
        self.cfg = cfg
        self.cap = cfg.max_evaluated
        # per distinct test prediction: (program text, length, predictions, composed); a composition ranks
        # after a single program of its length
        self.found: dict[bytes, tuple[str, int, tuple[np.ndarray, ...], bool]] = {}
        self.pieces = Pieces(self.outputs)
        self.evaluated = 0
        self.depth_done = 0
        self.tried: set[bytes] = set()  # demo parts of the leaves already fitted
        self.failed_first: set[bytes] = set()  # first-demo values no final turns into the first output
        # The leaf sweep's first-demo results, kept while its states are about to be grown (they are the
        # same calls): keyed by (id(state), primitive name); the states stay alive in the frontier meanwhile.
        self.first_values: dict[tuple[int, str], np.ndarray | None] = {}
        self.keep_first = False
        # A task whose outputs are smaller than its inputs: crop finals are tried on larger states too.
        self.crop = all(can_crop(p.input, p.output) for p in task.train) and any(
            p.input.shape != p.output.shape for p in task.train)

    def _tick(self) -> None:
        self.evaluated += 1
        if self.cap is not None and self.evaluated > self.cap:
            raise _Deadline
        self._clock()

    def _clock(self) -> None:
        if time.monotonic() >= self.deadline:
            raise _Deadline

    def _accept(self, steps: tuple[str, ...], values: tuple, finals: list[Final]) -> None:
        """Record each program (steps + a final fitted on the demos) whose test predictions are legal."""
        for final in finals:
            predictions = self._predict(final, values[self.demos:])
            if predictions is not None:
                text = " | ".join(steps + ((final.text,) if final.text else ())) or "identity"
                self._offer(text, len(steps) + final.length, predictions, False)

    def _offer(self, text: str, length: int, predictions: tuple[np.ndarray, ...], composed: bool) -> None:
        """Record a program's test predictions, unless they copy their test input when every demo changes
        its input (a colour map that met only colours the demos never showed, say)."""
        if self.changes and copies_an_input(predictions, self.inputs[self.demos:]):
            return
        key = b"#".join(grid_key(p) for p in predictions)
        if self.first_found_at is None:
            self.first_found_at = time.monotonic()
        # the shortest program names a prediction, a single program before a composition of its length
        if key not in self.found or (length, composed) < (self.found[key][1], self.found[key][3]):
            self.found[key] = (text, length, predictions, composed)

    def _compose(self, states: list[_State]) -> None:
        """Offer the output-shaped grid states as pieces, then every new overlay of two pieces that fits."""
        for state in states:
            if state.kind == GRID:
                self._clock()
                self.pieces.add(state.steps, state.values[:self.demos], state.values[self.demos:])
        for composition in self.pieces.compose(self._clock):
            predictions = composition.predict()
            if predictions is not None and all(_legal(p) for p in predictions):
                self._offer(composition.text, composition.length, tuple(predictions), True)

    @staticmethod
    def _predict(final: Final, tests: tuple) -> tuple[np.ndarray, ...] | None:
        out = []
        for grid in tests:
            pred = final.apply(grid)
            if pred is None or not _legal(pred):
                return None
            out.append(pred)
        return tuple(out)

    def _leaf(self, state: _State, prim: Primitive) -> None:
        """A last-depth program: the first demo alone first (most programs fail there: the other demos are
        not run), then every demo, shape-pruned; the tests only for programs that fit."""
        first = _apply(prim, state.values[0])
        if self.keep_first:
            self.first_values[(id(state), prim.name)] = first
        if first is None or not feasible(first, self.outputs[0], self.crop):
            return
        # A stamp needs every demo (an object must recur): short programs skip the first-demo test.
        stamps = len(state.steps) < STAMP_STEPS
        first_key = grid_key(first)
        if not stamps and first_key in self.failed_first:
            return
        if not stamps and not fit_finals([first], self.outputs[:1], self.crop):  # skip the other demos
            if len(self.failed_first) < self.cfg.max_states:
                self.failed_first.add(first_key)
            return
        demo_values = [first]
        for i in range(1, self.demos):
            out = _apply(prim, state.values[i])
            if out is None or not feasible(out, self.outputs[i], self.crop):
                return
            demo_values.append(out)
        key = b"#".join(grid_key(v) for v in demo_values)
        if key in self.tried:
            return  # an earlier program behaved the same on every demo: its finals were fitted already
        if len(self.tried) < self.cfg.max_states:
            self.tried.add(key)
        finals = fit_finals(demo_values, self.outputs, self.crop, stamps, self._clock)
        if not finals:
            return
        tests = [_apply(prim, v) for v in state.values[self.demos:]]
        if any(t is None for t in tests):
            return
        self._accept(state.steps + (prim.name,), tuple(demo_values + tests), finals)

    def _shape_ok(self, state: _State, crop: bool = False) -> bool:
        """Whether a shape-keeping last step on this state could meet every demo output's shape."""
        grids = state.values[:self.demos] if state.kind == GRID else [v.grid for v in state.values[:self.demos]]
        return all(feasible(g, o, crop) for g, o in zip(grids, self.outputs))

    def _priority(self, state: _State) -> tuple[int, float]:
        """Expansion order for a depth the clock may cut short: states already shaped like the outputs
        first, the closest (most cells equal) before the rest; then tileable shapes, objects, and the
        others nearest the output shapes first (a crop on the way to the output)."""
        if state.kind != GRID:
            return 2, 0.0
        demos = state.values[:self.demos]
        if all(g.shape == o.shape for g, o in zip(demos, self.outputs)):
            return 0, -float(np.mean([np.mean(g == o) for g, o in zip(demos, self.outputs)]))
        if self._shape_ok(state):
            return 1, 0.0
        return 3, float(sum(abs(g.shape[0] - o.shape[0]) + abs(g.shape[1] - o.shape[1])
                            for g, o in zip(demos, self.outputs)))

    def _ranked(self, state: _State) -> tuple[int, float]:
        """`_priority` with a look at the clock: ranking thousands of states takes a while."""
        self._clock()
        return self._priority(state)

    def _strong(self, depth: int) -> int:
        """Programs found no longer than a depth-`depth` program with a colour map (a crop or a mapped
        tile final is longer: such a hit does not end the search before the next depth is tried)."""
        return sum(1 for _, length, _, _ in self.found.values() if length <= depth + 1)

    def _enough(self, depth: int) -> bool:
        return len(self.found) >= self.cfg.max_programs and self._strong(depth) >= self.cfg.max_programs

    def _leaves(self, frontier: list[_State], depth: int) -> None:
        """Every GRID-valued one-step extension of the frontier, tried as a finished program."""
        for state in frontier:
            shape_ok = self._shape_ok(state, self.crop)
            for prim in taking(state.kind):
                if prim.result != GRID or (prim.keeps_shape and not shape_ok):
                    continue
                self._tick()
                self._leaf(state, prim)
                if self._enough(depth):
                    return

    def _grow(self, frontier: list[_State], seen: set[bytes]) -> list[_State]:
        """The next depth's distinct states (not yet seen at any depth), capped at `max_states`."""
        following: list[_State] = []
        for state in frontier:
            for prim in taking(state.kind):
                self._tick()
                self._inner(state, prim, seen, following)
                if len(following) >= self.cfg.max_states:
                    return following
        return following

    def _staged(self, parents: list[_State], seen: set[bytes], depth: int) -> None:
        """The last depth: its states grown a few parents at a time (best parents first), and after each
        stage the leaves of its most promising states (shaped like the outputs, or tileable to them) tried
        at once; the other states wait, and are tried best first once every stage is grown. Growing this
        depth costs more than the depth before it, so a good program should not wait for all of it."""
        waiting: list[tuple[tuple[int, float], int, _State]] = []
        grown = 0
        for start in range(0, len(parents), _STAGE_PARENTS):
            children: list[_State] = []
            for state in parents[start:start + _STAGE_PARENTS]:
                for prim in taking(state.kind):
                    self._tick()
                    self._inner(state, prim, seen, children)
                if grown + len(children) >= self.cfg.max_states:
                    break
            grown += len(children)
            self._compose(children)
            ranked = sorted(((self._ranked(c), grown + i, c) for i, c in enumerate(children)), key=lambda t: t[:2])
            now = ([t for t in ranked if t[0][0] == 0][:_STAGE_NOW] + [t for t in ranked if t[0][0] == 1][:_STAGE_NOW])
            self._leaves([t[2] for t in now], depth)
            if self._enough(depth):
                return
            tried_now = {id(t[2]) for t in now}
            waiting += [t for t in ranked if id(t[2]) not in tried_now]
            if grown >= self.cfg.max_states:
                break
        waiting.sort(key=lambda t: t[:2])
        self._leaves([t[2] for t in waiting], depth)

    def _inner(self, state: _State, prim: Primitive, seen: set[bytes], following: list[_State]) -> None:
        values = []
        known = self.first_values.get((id(state), prim.name), _UNKNOWN)  # the leaf sweep ran it on demo 0
        for i, value in enumerate(state.values):
            out = known if i == 0 and known is not _UNKNOWN else _apply(prim, value)
            if out is None:
                return
            values.append(out)
        values_t = tuple(values)
        key = _key(prim.result, values_t)
        if key not in seen:
            seen.add(key)
            following.append(_State(prim.result, values_t, state.steps + (prim.name,)))

    def run(self) -> bool:
        """Search depth by depth, recording the deepest finished in `depth_done`; True when the clock stopped it."""
        frontier = [_State(GRID, self.inputs, ())]
        seen = {_key(GRID, self.inputs)}
        try:
            self._tick()
            self._accept((), self.inputs, fit_finals(self.inputs[:self.demos], self.outputs, self.crop, True,
                                                          self._clock))
            self.tried.add(b"#".join(grid_key(v) for v in self.inputs[:self.demos]))
            self._compose(frontier)
            parents: list[_State] = []
            for depth in range(1, self.cfg.max_depth + 1):
                if self._enough(depth - 1):
                    break
                if depth > 1 and depth == self.cfg.max_depth:
                    self.keep_first = False  # the parents' first-demo values from the depth before are used
                    self._staged(parents, seen, depth)
                else:
                    self.first_values.clear()
                    self.keep_first = depth < self.cfg.max_depth  # this frontier is grown next
                    self._leaves(frontier, depth)
                if self._enough(depth):
                    break
                self.depth_done = depth
                if self._strong(depth) and not self.cfg.past_first_hit:
                    break  # the shortest programs are found; deeper ones would rarely outrank them
                if depth + 1 < self.cfg.max_depth:
                    frontier = sorted(self._grow(frontier, seen), key=self._ranked)
                    self._compose(frontier)
                elif depth + 1 == self.cfg.max_depth:
                    parents = frontier  # the last depth is grown in stages by `_staged`
                logger.debug("depth %d: %d states, %d programs", depth, len(frontier), len(self.found))
        except _Deadline:
            return True
        return False


def search_task(task: Task, deadline: float, cfg: SearchConfig | None = None) -> SearchResult:
    """Programs that reproduce every demo of `task`, run on its test inputs (their outputs are never read).

    `deadline` is a `time.monotonic()` value; the search stops there and returns what it found. Per test
    input, candidates are ordered by program length (then discovery order) with duplicate grids dropped.
    """
    cfg = cfg or SearchConfig()
    cfg.validate()
    start = time.monotonic()
    search = _Search(task, deadline, cfg)
    # The cyclic collector paused meanwhile: a full collection over the search's many states took up to
    # 0.1 s at a time, past the deadline; the search makes almost no reference cycles, so nothing piles up.
    collecting = gc.isenabled()
    gc.disable()
    try:
        timed_out = search.run()
        found, evaluated, depth_done = search.found, search.evaluated, search.depth_done
        first_found_s = None if search.first_found_at is None else search.first_found_at - start
        del search  # every state freed while the collector still sleeps
        clear_caches()
        # What the search allocated and kept is collected here, inside its budget (a few ms). Left to the
        # first allocation after the collector wakes, it came with whatever older generation was due, a
        # pass over the caller's whole heap (~60 ms in bench/search_rate.py, once in about 120 tasks).
        gc.collect(0)
    finally:
        if collecting:
            gc.enable()
    ranked = sorted(found.values(), key=lambda item: (item[1], item[3]))  # stable: discovery order breaks ties
    candidates: list[list[Candidate]] = [[] for _ in task.test]
    for text, length, predictions, _ in ranked:
        for per_test, grid in zip(candidates, predictions):
            if not any(np.array_equal(c.grid, grid) for c in per_test):
                per_test.append(Candidate(grid.astype(np.int64), text, length))
    return SearchResult(candidates, [(text, length) for text, length, _, _ in ranked], evaluated,
                        depth_done, timed_out, time.monotonic() - start, first_found_s)
