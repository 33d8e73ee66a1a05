"""PromptCache: reuse an encoder prompt for a (task, augmentation) key for a few steps.

Encoding the demonstrations is the costliest part of a training step, and a task's prompt moves
slowly, so a prompt computed at step s is reused until step s + refresh_every - 1. A reused prompt is
detached: the encoder gets gradients only on the steps that recompute it (refresh steps).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import torch


class PromptCache:
    """Detached prompts with the step they were computed at; `refresh_every=1` never reuses."""

    def __init__(self, refresh_every: int) -> None:
        if refresh_every < 1:
            raise ValueError(f"refresh_every must be >= 1, got {refresh_every}")
        self.refresh_every = refresh_every
        self.hits = 0
        self.misses = 0
        self._entries: dict[Hashable, tuple[torch.Tensor, int]] = {}
        self._size_after_prune = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _fresh(self, stored_step: int, step: int) -> bool:
        # A negative age (a step before the stored one) means another timeline: never reuse it.
        return self.refresh_every > 1 and 0 <= step - stored_step < self.refresh_every

    def lookup(self, key: Hashable, step: int) -> torch.Tensor | None:
        """The stored prompt if it was computed less than `refresh_every` steps ago, else None."""
        entry = self._entries.get(key)
        if entry is not None and self._fresh(entry[1], step):
            self.hits += 1
            return entry[0]
        self.misses += 1
        if entry is not None:
            del self._entries[key]
        return None

    def store(self, key: Hashable, prompt: torch.Tensor, step: int) -> None:
        """Keep `prompt.detach()` for `key` as computed at `step`."""
        self._entries[key] = (prompt.detach(), step)
        # Keys that never come back would grow the cache without bound; drop what can no longer hit,
        # amortised by pruning only when the cache has doubled since the last prune.
        if len(self._entries) > max(64, 2 * self._size_after_prune):
            self._entries = {k: e for k, e in self._entries.items() if self._fresh(e[1], step)}
            self._size_after_prune = len(self._entries)

    def clear(self) -> None:
        """Drop every prompt (e.g. after the encoder is reloaded); counters are kept."""
        self._entries.clear()
        self._size_after_prune = 0

    def state_dict(self) -> dict[str, Any]:
        """Entries, steps and counters; `refresh_every` comes from the config, not the state."""
        return {
            "hits": self.hits,
            "misses": self.misses,
            "entries": [(key, prompt, step) for key, (prompt, step) in self._entries.items()],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.hits = int(state["hits"])
        self.misses = int(state["misses"])
        self._entries = {key: (prompt, int(step)) for key, prompt, step in state["entries"]}
        self._size_after_prune = len(self._entries)
