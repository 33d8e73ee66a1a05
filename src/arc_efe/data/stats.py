"""Demo statistics: a fixed-length feature vector describing a task's demonstrations.

The refiner policy conditions on these next to the prompt. They are computed from demonstration
pairs only (never a test output), are order-free over pairs (each per-pair column is sorted before
it is averaged, so even float rounding does not depend on pair order) and lie roughly in [-1, 1].
"""

from __future__ import annotations

import numpy as np

from arc_efe.data.grid import MAX_SIZE, NUM_COLORS
from arc_efe.data.task import Pair

# Names in vector order; per-colour blocks expand to one entry per colour 0..9.
_SCALAR_NAMES = (
    "input_height",  # mean over pairs, / 30
    "input_width",
    "output_height",
    "output_width",
    "log_height_ratio",  # mean log2(out/in) / log2(30): 0 = same, +-1 = extreme scaling
    "log_width_ratio",
    "same_size_fraction",  # fraction of pairs whose output has the input's size
    "changed_cells",  # mean fraction of cells that differ, over same-size pairs (0 when none)
    "input_colors",  # mean number of distinct colours / 10
    "output_colors",
)
# Task-level values that are not means of per-pair values.
_TASK_NAMES = (
    "all_same_size",  # 1 when every output keeps its input's size
    "constant_output_size",  # 1 when every output has the same size
    "constant_size_ratio",  # 1 when out/in height and width ratios agree across pairs
    "num_pairs",  # number of pairs / 10
)
_COLOR_BLOCKS = ("input_hist", "output_hist", "color_added", "color_removed")

STATS_NAMES: tuple[str, ...] = (
    _SCALAR_NAMES
    + _TASK_NAMES
    + tuple(f"{block}_{c}" for block in _COLOR_BLOCKS for c in range(NUM_COLORS))
)
STATS_DIM = len(STATS_NAMES)

_LOG_MAX = float(np.log2(MAX_SIZE))


def task_statistics(pairs: list[Pair]) -> np.ndarray:
    """Features of demonstration `pairs` (float32 [STATS_DIM], order of `STATS_NAMES`).

    Raises ValueError for an empty list or a pair without an output: a demo must be complete.
    """
    if not pairs:
        raise ValueError("task_statistics needs at least one demonstration pair, got none")
    for i, pair in enumerate(pairs):
        if pair.output is None:
            raise ValueError(f"task_statistics: demonstration pair {i} has no output")
    rows = np.stack([_pair_features(p) for p in pairs])  # [n, per-pair features]
    # Sorting each column first makes the float sum independent of pair order.
    mean = np.sort(rows, axis=0).mean(axis=0)
    n_scalar = len(_SCALAR_NAMES)
    scalars, colour_blocks = mean[:n_scalar], mean[n_scalar:]
    same_size = [p.input.shape == p.output.shape for p in pairs]
    task_level = np.array(
        [
            all(same_size),
            len({p.output.shape for p in pairs}) == 1,
            len({_size_ratio(p) for p in pairs}) == 1,
            len(pairs) / 10.0,
        ]
    )
    same_frac = scalars[_SCALAR_NAMES.index("same_size_fraction")]
    changed = _SCALAR_NAMES.index("changed_cells")
    # The per-pair column holds 0 for size-changing pairs; rescale to a mean over same-size pairs.
    scalars[changed] = scalars[changed] / same_frac if same_frac > 0 else 0.0
    return np.concatenate([scalars, task_level, colour_blocks]).astype(np.float32)


def _size_ratio(pair: Pair) -> tuple[float, float]:
    (hi, wi), (ho, wo) = pair.input.shape, pair.output.shape
    return ho / hi, wo / wi


def _pair_features(pair: Pair) -> np.ndarray:
    """Per-pair scalars then the four per-colour blocks, all float64."""
    x, y = np.asarray(pair.input), np.asarray(pair.output)
    in_hist = np.bincount(x.ravel(), minlength=NUM_COLORS)
    out_hist = np.bincount(y.ravel(), minlength=NUM_COLORS)
    in_present, out_present = in_hist > 0, out_hist > 0
    same = x.shape == y.shape
    scalars = np.array(
        [
            x.shape[0] / MAX_SIZE,
            x.shape[1] / MAX_SIZE,
            y.shape[0] / MAX_SIZE,
            y.shape[1] / MAX_SIZE,
            np.log2(y.shape[0] / x.shape[0]) / _LOG_MAX,
            np.log2(y.shape[1] / x.shape[1]) / _LOG_MAX,
            float(same),
            float(np.mean(x != y)) if same else 0.0,
            in_present.sum() / NUM_COLORS,
            out_present.sum() / NUM_COLORS,
        ]
    )
    blocks = [
        in_hist / in_hist.sum(),
        out_hist / out_hist.sum(),
        out_present & ~in_present,
        in_present & ~out_present,
    ]
    return np.concatenate([scalars, *[b.astype(np.float64) for b in blocks]])
