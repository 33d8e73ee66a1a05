"""The search solves named ARC-AGI-1 *training* tasks (pass@2 against their real test outputs), tasks that
a depth-2 search is known to reach (see /work/shared/anchors/program_search_d2_arc1_training.tsv). The
search itself gets each task with its test outputs removed."""

import time

import numpy as np
import pytest

from arc_efe.data.sources import find_task
from arc_efe.data.task import Pair, Task
from arc_efe.search import SearchConfig, search_task

# Solved by one primitive (plus a fitted final): the default run sweeps depth 1 only.
ONE_STEP = [
    "007bbfb7", "00d62c1b", "0d3d703e", "1b2d62fb", "1e0a9b12", "22168020", "25ff71a9", "3906de3d", "3c9b0459",
    "4258a5f9", "42a50994", "4347f46a", "46442a0e", "496994bd", "4c4377d9", "50cb2852", "6150a2bd", "623ea044",
    "62c24649", "67a3c6ac", "68b16354", "6d0aefbc", "6fa7a44f", "746b3537", "74dd1130", "7b6016b9", "8be77c9e",
    "9172f3a0", "9dfd6313", "a416b8f3", "a5313dff", "a699fb00", "b1948b0a", "bb43febb", "c3f564a4", "c59eb873",
    "c8f0f002", "c9e6f938", "d037b0a7", "d511f180", "dbc1a6ce", "ded97339", "eb5a1d5d",
    # recolour by the nearest colour, neighbour and column labels, centre column, crop and mapped-tile finals,
    # band and period repeats, an object sliding to contact; d9fac9be: a crop final must not outrank a map
    "2204b7a8", "c9f8e694", "b6afb2da", "ba26e723", "d23f8c26", "d10ecb37", "f5b8619d", "8eb1be9a", "963e52fc",
    "05f2a901", "d9fac9be",
    # symmetry repair by vote (noise of any colour), a fractal labelled by each cell's value, runs continued
    "b8825c91", "cce03e0d", "e21d9049",
    "178fcbfb",  # lines through cells, the direction read off the demos per colour
    "32597951", "dc1df850",  # the box of the least frequent colour recoloured; a halo around the majority colour only
    "2281f1f4",  # marks where rays going down meet rays going left
    # stamps: each object rewritten as the demos show (dots growing patterns, squares becoming crosses),
    # on the input or after one step
    "0ca9ddb6", "6c434453", "95990924", "b60334d2", "d364b489", "3ac3eb23", "c0f76784",
    "b27ca6d3", "d90796e8",  # stamps keyed up to rotation: a rule for upright pieces serves lying ones
    "06df4c85",  # same-coloured cells of a split grid bridged across its separator lines
    "8e5a5113",  # the empty cells of a split grid filled with turned copies of the full one
    "1f876c06",  # diagonal lines between same-coloured cells
    "d43fd935",  # dots drawing their path to the largest object
    "5c0a986e",  # each colour's rays in its own direction, fitted as a final
    "aabf363d",  # once a colour map that recoloured each demo's shape by a lookup is refused
    "a2fd1cf0", "d4a91cb9",  # two cells joined by a right-angled path
    "ba97ae07",  # the bar underneath brought on top where two bars cross
    "dc433765",  # one cell steps towards the other
    "d13f3404",  # the grid on a canvas twice its size, each colour's rays fitted down-right
    "e9614598",  # a cross stamped halfway between two cells
    "7f4411dc",  # specks erased: cells with few same-coloured neighbours cleared, the rest keep their colour
    "a5f85a15",  # every other cell of each diagonal recoloured, the others keeping their (test-only) colour
    "9ecd008a", "f9012d9b",  # the block hidden in a symmetric (periodic) picture, restored
    "e26a3af2",  # noisy stripes cleaned, each row or each column its majority colour
    "7b7f7511",  # a doubled grid halved
    "d0f5fe59",  # the number of objects as a square's diagonal
]
# Two primitives: a depth-2 sweep, seconds per task.
TWO_STEPS = [
    "08ed6ac7", "0b148d64", "1cf80156", "1f85a75f", "23b5c85d", "25d8a9c8", "28bf18c6", "2dc579da", "2dee498d",
    "3aa6fb7a", "445eab21", "6f8cd79b", "7468f01a", "88a62173", "8f2ea7aa", "90c28cc7", "a68b268e", "a740d043",
    "a79310a0", "aedd82e4", "b230c067", "b2862040", "dae9d2b5", "e3497940", "f25fbde4", "f25ffba3",
    "31aa019c", "48d8fb45",
    "75b8110e",  # quadrants stacked as a per-cell code: the colour map learns their priority
    "1c786137",  # the inside of the largest rectangle outline, in a noisy grid
    "bdad9b1f",  # two runs continued to the edges, their crossing marked
    "6cdd2623",  # lines between matching cells on opposite edges, the noise dropped first
    "f8b3ba0a",  # the colours as a column by frequency, after the most frequent is erased
    "eb281b96",  # reflected downwards about its last row, twice
    "de1cd16c",  # the colour of the region with the most specks inside it
    "73251a56",  # a diagonal symmetry completed, the holes on the diagonal bridged along it
    "ce9e57f2",  # the lower half of each bar recoloured
    "a61f2674",  # the tallest bar and the shortest recoloured, the others erased
    "6455b5f5", "e8593010",  # the background's regions recoloured: the largest and smallest; by size
    "44d8ac46",  # the square holes filled
    "3bdb4ada",  # every other cell of each bar's middle row erased, counted from the bar's own corner
    "6773b310",  # the cells of a split grid holding two dots marked
    "91714a58",  # the solid rectangle kept out of noise of every colour
]
# Three primitives: reached by the staged last depth.
# 47c1f68c: once a colour map that would leave the test's new colour alone is refused
# 2c608aff: dots drawing their path to the largest object on a coloured background, laid over the input
THREE_STEPS = ["5117e062", "80af3007", "47c1f68c", "2c608aff"]


def solved(task_id: str, depth: int, budget: float) -> bool:
    task = find_task(task_id)
    blind = Task(task.id, task.train, [Pair(p.input) for p in task.test])
    result = search_task(blind, time.monotonic() + budget,
                         SearchConfig(max_depth=depth, max_programs=2))
    return all(any(np.array_equal(c.grid, pair.output) for c in cands[:2])
               for pair, cands in zip(task.test, result.candidates))


def test_one_step_training_tasks():
    assert len(ONE_STEP) >= 30
    missed = [task_id for task_id in ONE_STEP if not solved(task_id, depth=1, budget=30)]
    assert missed == []


@pytest.mark.slow
@pytest.mark.parametrize("task_id", TWO_STEPS)
def test_two_step_training_tasks(task_id):
    assert solved(task_id, depth=2, budget=60)


@pytest.mark.slow
@pytest.mark.parametrize("task_id", THREE_STEPS)
def test_three_step_training_tasks(task_id):
    assert solved(task_id, depth=3, budget=60)
