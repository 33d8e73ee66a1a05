"""The DSL's types and the `Primitive` record the search enumerates and prints.

Two value types flow between primitives: GRID (one uint8 array per task input) and OBJECTS (an
`ObjectSet` per input). A primitive maps one value to one value, or returns None where it does not apply
(no objects, a grid over 30x30, ...); the search then drops that program for the whole task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

GRID = "grid"
OBJECTS = "objects"


@dataclass(frozen=True)
class Primitive:
    """A named, typed function: `fn(value) -> value | None`, from type `arg` to type `result`."""

    name: str
    fn: Callable
    arg: str = GRID
    result: str = GRID
    doc: str = ""
    keeps_shape: bool = False  # the result always has the argument's (source grid's) shape: lets the search
    # drop a last step whose shape cannot become the output without running it


def grid_ops(table: dict[str, Callable], doc: str = "", keeps_shape: bool = False) -> list[Primitive]:
    """GRID -> GRID primitives from a name -> function table, in table order."""
    return [Primitive(name, fn, GRID, GRID, doc, keeps_shape) for name, fn in table.items()]
