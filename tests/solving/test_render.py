import time

import matplotlib.image as mpimg
import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from arc_efe.data import Pair, Task
from arc_efe.data.sources import find_task
from arc_efe.solving.render import (
    ARC_PALETTE,
    CORRECT_COLOR,
    WRONG_COLOR,
    RenderConfig,
    draw_grid,
    draw_task,
    figure_size,
    render_task,
)

BLUE, RED, ORANGE = (to_rgb(ARC_PALETTE[k]) for k in (1, 2, 7))


@pytest.fixture(scope="module")
def task() -> Task:
    """arc1 training 007bbfb7: five demos and one test, colours 0/2/4/6/7, 3x3 -> 9x9."""
    return find_task("007bbfb7")


def _colours(png: np.ndarray) -> set[tuple[int, ...]]:
    """Distinct 8-bit RGB colours of a PNG read by matplotlib (floats in 0..1)."""
    rgb = np.round(png[..., :3] * 255).astype(np.int64).reshape(-1, 3)  # [H*W, 3]
    packed = np.unique(rgb @ np.array([1 << 16, 1 << 8, 1]))  # one int per colour: a fast 1-D unique
    return {(int(c >> 16), int(c >> 8 & 255), int(c & 255)) for c in packed}


def _has(colours: set, rgb: tuple[float, float, float]) -> bool:
    return tuple(round(x * 255) for x in rgb) in colours


def _pixels(path) -> tuple[int, int]:
    return mpimg.imread(path).shape[:2]


def test_render_real_task_size_and_colours(task, tmp_path):
    path = tmp_path / "task.png"
    render_task(task, path=path)
    width_in, height_in = figure_size(task)
    dpi = RenderConfig().dpi
    assert _pixels(path) == (round(height_in * dpi), round(width_in * dpi))
    colours = _colours(mpimg.imread(path))
    assert len(colours) > 6
    assert _has(colours, RED) and _has(colours, ORANGE)
    assert not _has(colours, BLUE)  # 007bbfb7 has no blue; the attempts test below adds some


def test_render_with_attempts_adds_columns_and_frames(task, tmp_path):
    expected = task.test[0].output
    wrong = expected.copy()
    wrong[0, 0] = 1  # blue
    attempts = {0: [expected, wrong]}
    path = tmp_path / "attempts.png"
    render_task(task, attempts, path=path)
    width_in, height_in = figure_size(task, attempts)
    assert width_in > figure_size(task)[0]
    assert _pixels(path) == (round(height_in * 100), round(width_in * 100))
    colours = _colours(mpimg.imread(path))
    assert _has(colours, BLUE) and _has(colours, RED)
    assert _has(colours, to_rgb(CORRECT_COLOR)) and _has(colours, to_rgb(WRONG_COLOR))


def test_draw_task_marks_titles_and_captions(task):
    expected = task.test[0].output
    fig = draw_task(task, {0: [expected[:, :8], expected]})  # right cells, wrong size; then right
    test_row = fig.axes[-4:]  # the last row: input, expected, attempt 1, attempt 2
    assert fig.get_suptitle() == "task 007bbfb7"
    titles = ["test 1 input", "expected", "attempt 1 \u2717", "attempt 2 \u2713"]
    assert [ax.get_title() for ax in test_row] == titles
    assert [ax.get_xlabel() for ax in test_row] == ["3x3", "9x9", "9x8", "9x9"]
    assert to_rgb(test_row[2].spines["top"].get_edgecolor()) == to_rgb(WRONG_COLOR)
    assert to_rgb(test_row[3].spines["top"].get_edgecolor()) == to_rgb(CORRECT_COLOR)
    demo_titles = [fig.axes[2 * 4].get_title(), fig.axes[2 * 4 + 1].get_title()]  # third demo row
    assert demo_titles == ["demo 3 input", "output"]
    assert not fig.axes[2 * 4 + 2].axison  # demo rows leave the attempt columns empty


def test_unknown_expected_output_leaves_attempts_unmarked(task):
    hidden = Task("hidden", task.train, [Pair(task.test[0].input, None)])
    fig = draw_task(hidden, {0: [task.test[0].output]})
    assert [ax.get_title() for ax in fig.axes[-3:]] == ["test 1 input", "expected", "attempt 1"]


def test_draw_grid_caption_and_exact_palette_colours():
    grid = np.arange(10).reshape(2, 5)
    ax = Figure().subplots()
    draw_grid(ax, grid, title="g")
    assert ax.get_xlabel() == "2x5" and ax.get_title() == "g"
    rgba = ax.get_images()[0].to_rgba(grid)  # [2, 5, 4]
    np.testing.assert_allclose(rgba[..., :3].reshape(10, 3), [to_rgb(c) for c in ARC_PALETTE])
    assert len(ax.collections) == 2  # horizontal and vertical cell lines


def test_big_task_renders_fast_within_bounds(tmp_path):
    rng = np.random.default_rng(0)

    def grid() -> np.ndarray:
        return rng.integers(0, 10, (30, 30))

    task = Task("big", [Pair(grid(), grid()) for _ in range(10)], [Pair(grid(), None), Pair(grid(), grid())])
    attempts = {0: [grid()], 1: [grid(), grid()]}
    cfg = RenderConfig()
    start = time.perf_counter()
    render_task(task, attempts, path=tmp_path / "big.png", cfg=cfg)
    elapsed = time.perf_counter() - start
    width_in, height_in = figure_size(task, attempts, cfg)
    assert width_in <= cfg.max_width_in and height_in <= cfg.max_height_in
    assert _pixels(tmp_path / "big.png") == (round(height_in * cfg.dpi), round(width_in * cfg.dpi))
    assert elapsed < 5.0


def test_attempts_for_missing_test_index_rejected(task, tmp_path):
    with pytest.raises(ValueError, match=r"task 007bbfb7: attempts given for test index \[3\]"):
        render_task(task, {3: [task.test[0].input]}, path=tmp_path / "x.png")
