"""ARC data: grids, tasks, task sources, augmentations, batching and serialisation.
Imports nothing else of arc_efe."""

from arc_efe.data.grid import MAX_SIZE, NUM_COLORS, TaskFormatError, grid_to_list, to_grid
from arc_efe.data.task import Pair, Task

__all__ = ["MAX_SIZE", "NUM_COLORS", "Pair", "Task", "TaskFormatError", "grid_to_list", "to_grid"]
