"""Exact cell keys for the rule table's hashed slots (AgentConfig.rule_table_exact).

The table's other slots are coarse (a cell's kind) or learned and soft; neither says "a cell of colour 3 whose
3x3 neighbourhood is exactly this" the way a colour map or a local rewrite rule does. Each cell gets three
keys, from coarse to exact: its colour; its colour and its 8 neighbours as off the grid / same colour /
background / other; its colour and its 8 neighbours' colours. The last two are hashed into `buckets` slots
each, so a rule the demos state cell by cell is one slot the table can be sure of.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from arc_efe.data.grid import NUM_COLORS

KINDS = 3  # colour; colour and relative neighbourhood; colour and absolute neighbourhood
NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))
_MULTIPLIER = 2654435761  # Knuth's multiplicative hash; key * this stays below 2**63 for keys below 2**31
FINGERPRINT_BITS = 10


def exact_slots(buckets: int) -> int:
    """How many slots the three key kinds take: one per colour, then `buckets` for each hashed kind."""
    return NUM_COLORS + 2 * buckets


def exact_keys(grid: torch.Tensor, mask: torch.Tensor, buckets: int) -> torch.Tensor:
    """grid [B, H, W] long, mask [B, H, W] bool -> [B, H, W, KINDS] long slot indices in
    [0, exact_slots(buckets)): the colour, then the hashed relative and absolute keys. A neighbour outside the
    mask is "off the grid"; the keys of cells outside it are meaningless (the caller masks them)."""
    return _slots(*_hashed(grid, mask), buckets)


def keys_and_fingerprints(grid: torch.Tensor, mask: torch.Tensor, buckets: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`exact_keys`, and [B, H, W, KINDS] float fingerprints in [0, 1): for the hashed kinds, the top
    FINGERPRINT_BITS of the same hash, which two keys in one bucket share only by chance (1 in 2**bits); 0 for
    the colour, which has a slot of its own. A slot whose demo cells' mean fingerprint is the query's held
    (almost surely) that key alone (RuleTable's `specific` proposal)."""
    centre, rel_hash, abs_hash = _hashed(grid, mask)
    levels = 2**FINGERPRINT_BITS
    prints = torch.stack([torch.zeros_like(rel_hash), rel_hash * levels // 2**32, abs_hash * levels // 2**32], -1)
    return _slots(centre, rel_hash, abs_hash, buckets), prints.float() / levels


def _slots(centre: torch.Tensor, rel_hash: torch.Tensor, abs_hash: torch.Tensor, buckets: int) -> torch.Tensor:
    """The three kinds' slot indices, [B, H, W, KINDS]: the colour, then each hash's bucket after the ones before."""
    return torch.stack([centre, NUM_COLORS + rel_hash % buckets, NUM_COLORS + buckets + abs_hash % buckets], dim=-1)


def _hashed(grid: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The colour, and the 32-bit hashes of the relative and absolute keys, each [B, H, W] long."""
    centre, relative, absolute = _raw_keys(grid, mask)
    return centre, _hash(relative), _hash(absolute)


def _raw_keys(grid: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The colour, and the unhashed relative and absolute keys, each [B, H, W] long."""
    h, w = grid.shape[-2:]
    centre = grid.clamp(0, NUM_COLORS - 1)
    grid = torch.where(mask, grid, torch.full_like(grid, -1))
    padded = F.pad(grid, (1, 1, 1, 1), value=-1)
    relative = torch.zeros_like(grid)
    absolute = torch.zeros_like(grid)
    for dr, dc in NEIGHBOURS:
        n = padded[:, 1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w]
        state = torch.where(n < 0, 0, torch.where(n == grid, 1, torch.where(n == 0, 2, 3)))
        relative = relative * 4 + state
        absolute = absolute * (NUM_COLORS + 1) + (n.clamp(-1, NUM_COLORS - 1) + 1)
    relative = centre * 4 ** len(NEIGHBOURS) + relative
    absolute = centre * (NUM_COLORS + 1) ** len(NEIGHBOURS) + absolute  # < 10 * 11**8 < 2**31
    return centre, relative, absolute


def _hash(key: torch.Tensor) -> torch.Tensor:
    """A 32-bit hash, one to one on keys below 2**32 (the multiplier is odd)."""
    return (key * _MULTIPLIER) % (2**32)
