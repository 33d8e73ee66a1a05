"""TaskEncoder: a Qwen2 model turns a task's demonstration pairs into the prompt p [B, prompt_dim].

Each pair is one sequence (built-in grid tokens, or the text form through a pretrained tokenizer).
Its last hidden states are mean-pooled over real tokens into a pair vector; a task's pair vectors
are averaged (so pair order does not matter) and a registered linear layer projects them to p.

Long pairs: a pair over `max_tokens` tokens is encoded as two sequences, its input grid and its
output grid; a grid still over the limit is split into blocks of rows (halving until each fits).
The pair vector is then the mean over the tokens of all its pieces, so every cell still counts.
Splits are counted and logged, never silent.

With `grid_coordinates` (built-in tokens only), each token's embedding also gets learned embeddings of its
row and column, counted from both edges (`token_coordinates`), so the LLM can relate a cell to the cell a
flip or rotation sends it to; a block of rows counts its rows from its own first row.

With `pair_compare`, a PairComparer (pair_compare.py) compares each demo's output with its input cell by cell
and its projected summary is added to the prompt; with `llm_in_prompt=False` (a diagnostic) it is the whole
prompt and the LLM is not run. With `llm_standardise`, the LLM's projected part is standardised per dimension
over the tasks (`standardise.Standardise`), as `pair_standardise` does for the comparer's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn
from transformers import PreTrainedTokenizerBase

from arc_efe.data.serialize import (
    COORDINATES,
    PAD,
    Section,
    pair_sections,
    sections_to_text,
    sections_to_tokens,
    token_coordinates,
)
from arc_efe.data.task import Pair
from arc_efe.encoder.config import EncoderConfig
from arc_efe.encoder.oracle import RuleOracle
from arc_efe.encoder.pair_compare import PairComparer
from arc_efe.encoder.pooling import mean_per_task
from arc_efe.encoder.standardise import Standardise
from arc_efe.encoder.pretrained import apply_train_mode, builtin_llm, load_pretrained

__all__ = ["EncoderConfig", "TaskEncoder", "build_encoder"]

log = logging.getLogger(__name__)


class TaskEncoder(nn.Module):
    """`llm` (Qwen2Model, maybe peft-wrapped) + `projection` (hidden -> prompt_dim, always trained).

    `tokenizer=None` means the built-in grid vocabulary.
    """

    def __init__(
        self,
        llm: nn.Module,
        hidden_size: int,
        prompt_dim: int,
        max_tokens: int,
        batch_tokens: int,
        tokenizer: PreTrainedTokenizerBase | None = None,
        split_warn_every: int = 100,
        grid_coordinates: bool = False,
        pair_comparer: PairComparer | None = None,
        llm_in_prompt: bool = True,
        llm_standardise: bool = False,
    ) -> None:
        super().__init__()
        self.llm = llm
        self.projection = nn.Linear(hidden_size, prompt_dim)
        self.standardise = Standardise(prompt_dim) if llm_standardise else None
        if grid_coordinates and tokenizer is not None:
            raise ValueError("TaskEncoder: grid_coordinates needs the built-in grid tokens (tokenizer=None)")
        # One table for the four coordinate kinds (row, column, rows from the bottom, columns from the right).
        self.coordinates = nn.Embedding(4 * COORDINATES, hidden_size) if grid_coordinates else None
        if self.coordinates is not None:
            nn.init.normal_(self.coordinates.weight, std=0.02)
        self.pair_comparer = pair_comparer
        if not llm_in_prompt and pair_comparer is None:
            raise ValueError("TaskEncoder: llm_in_prompt=False leaves no prompt without a pair comparer")
        self.llm_in_prompt = llm_in_prompt
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.batch_tokens = batch_tokens
        self.split_warn_every = split_warn_every
        self.pad_id = PAD if tokenizer is None or tokenizer.pad_token_id is None else tokenizer.pad_token_id
        self.pairs_seen = 0
        self.pairs_split = 0

    def train(self, mode: bool = True) -> TaskEncoder:
        """Train mode for the trainable parts; an LLM with no trainable weight (frozen) stays in eval mode.

        A frozen LLM is a fixed feature extractor: dropout there would only add noise that no gradient
        can adapt to, and would make a prompt differ from its cached copy. `from_pretrained` returns
        eval mode, so training must call this (`ArcSystem.train()` does) before its first step.
        """
        super().train(mode)
        if mode and not any(p.requires_grad for p in self.llm.parameters()):
            self.llm.eval()
        return self

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The LLM's trainable parameters (all, LoRA adapters only, or none) for the encoder lr."""
        return [p for p in self.llm.parameters() if p.requires_grad]

    def projection_parameters(self) -> list[nn.Parameter]:
        """Always trained, at the encoder lr: the projection, the coordinate embeddings and the pair comparer,
        if any."""
        extra = [module for module in (self.coordinates, self.pair_comparer) if module is not None]
        return list(self.projection.parameters()) + [p for module in extra for p in module.parameters()]

    def _serialise(self, batch: Sequence[Sequence[Section]]) -> list[list[int]]:
        """Token ids per sequence of sections."""
        if self.tokenizer is None:
            return [sections_to_tokens(sections) for sections in batch]
        texts = [sections_to_text(sections) for sections in batch]
        return self.tokenizer(texts)["input_ids"]

    def _grid_pieces(self, role: str, grid: np.ndarray) -> list[list[int]]:
        """One grid as sequences of at most max_tokens, halving its rows until each block fits."""
        ids = self._serialise([[(role, grid)]])[0]
        if len(ids) <= self.max_tokens:
            return [ids]
        if grid.shape[0] == 1:
            raise ValueError(
                f"one {role} row of width {grid.shape[1]} needs {len(ids)} tokens, more than "
                f"encoder max_tokens={self.max_tokens}; raise max_tokens"
            )
        half = (grid.shape[0] + 1) // 2
        return self._grid_pieces(role, grid[:half]) + self._grid_pieces(role, grid[half:])

    def _sequences(self, pairs: Sequence[Pair]) -> tuple[list[list[int]], list[int]]:
        """Token sequences for all pairs and, per sequence, the index of its pair."""
        whole = self._serialise([pair_sections(pair) for pair in pairs])
        seqs: list[list[int]] = []
        owner: list[int] = []
        split = 0
        for i, (pair, ids) in enumerate(zip(pairs, whole)):
            pieces = [ids]
            if len(ids) > self.max_tokens:
                split += 1
                pieces = [piece for role, grid in pair_sections(pair) for piece in self._grid_pieces(role, grid)]
            seqs.extend(pieces)
            owner.extend([i] * len(pieces))
        self._count_splits(len(pairs), split)
        return seqs, owner

    def _count_splits(self, seen: int, split: int) -> None:
        before = self.pairs_split
        self.pairs_seen += seen
        self.pairs_split += split
        # Warn on the first split and then once per `split_warn_every` split pairs.
        if split and (before == 0 or before // self.split_warn_every != self.pairs_split // self.split_warn_every):
            log.warning(
                "encoder split %d of %d pairs so far into several sequences (longer than max_tokens=%d); "
                "every cell is still encoded",
                self.pairs_split, self.pairs_seen, self.max_tokens,
            )

    def _buckets(self, lengths: list[int]) -> list[list[int]]:
        """Sequence indices grouped by similar length, each group's padded size <= batch_tokens."""
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        buckets: list[list[int]] = []
        for i in order:
            # Sorted longest first, so a bucket's padded length is its first sequence's length.
            if buckets and (len(buckets[-1]) + 1) * lengths[buckets[-1][0]] <= self.batch_tokens:
                buckets[-1].append(i)
            else:
                buckets.append([i])
        return buckets

    def _pooled_sums(self, seqs: list[list[int]], device: torch.device) -> tuple[Tensor, Tensor]:
        """Per sequence the sum of last hidden states over its real tokens [S, H] and its length [S]."""
        lengths = [len(s) for s in seqs]
        bucket_sums: list[Tensor] = []
        order: list[int] = []
        for bucket in self._buckets(lengths):
            width = lengths[bucket[0]]
            ids = torch.full((len(bucket), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(bucket), width), dtype=torch.long)
            for row, i in enumerate(bucket):
                ids[row, : lengths[i]] = torch.tensor(seqs[i])
                mask[row, : lengths[i]] = 1
            ids, mask = ids.to(device), mask.to(device)
            hidden = self._hidden(ids, mask, [seqs[i] for i in bucket])  # [b, L, H]
            # Sum in fp32: under bf16 autocast the hidden states are bf16 and long sums lose precision.
            bucket_sums.append((hidden.float() * mask.unsqueeze(-1)).sum(dim=1))  # [b, H]
            order.extend(bucket)
        inverse = torch.argsort(torch.tensor(order, device=device))
        counts = torch.tensor(lengths, dtype=torch.float32, device=device)
        return torch.cat(bucket_sums)[inverse], counts  # [S, H] in sequence order, [S]

    def _hidden(self, ids: Tensor, mask: Tensor, seqs: list[list[int]]) -> Tensor:
        """Last hidden states [b, L, H] of one padded bucket; with coordinates, fed as embeddings."""
        if self.coordinates is None:
            return self.llm(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
        coords = torch.zeros((*ids.shape, 4), dtype=torch.long)  # padding: NO_COORDINATE
        for row, seq in enumerate(seqs):
            coords[row, : len(seq)] = torch.from_numpy(token_coordinates(seq))
        kinds = torch.arange(4) * COORDINATES  # each kind's rows of the table
        embeds = self.llm.get_input_embeddings()(ids) + self.coordinates((coords + kinds).to(ids.device)).sum(dim=2)
        return self.llm(inputs_embeds=embeds, attention_mask=mask, use_cache=False).last_hidden_state

    def forward(self, contexts: list[list[Pair]]) -> Tensor:
        """Prompts [B, prompt_dim] for B tasks, each given as its list of demonstration pairs."""
        if not contexts or any(len(ctx) == 0 for ctx in contexts):
            raise ValueError("TaskEncoder needs at least one task and at least one pair per task")
        if not self.llm_in_prompt:
            return self.pair_comparer(contexts)
        device = self.projection.weight.device
        pairs = [pair for ctx in contexts for pair in ctx]
        seqs, owner = self._sequences(pairs)
        sums, counts = self._pooled_sums(seqs, device)  # [S, H], [S]

        owner_t = torch.tensor(owner, device=device)
        pair_sums = sums.new_zeros(len(pairs), sums.shape[1]).index_add_(0, owner_t, sums)  # [N, H]
        pair_counts = counts.new_zeros(len(pairs)).index_add_(0, owner_t, counts)  # [N]
        pair_vecs = pair_sums / pair_counts.unsqueeze(1)  # [N, H]

        prompt = self.projection(mean_per_task(pair_vecs, contexts))  # [B, prompt_dim]
        prompt = prompt if self.standardise is None else self.standardise(prompt)
        return prompt if self.pair_comparer is None else prompt + self.pair_comparer(contexts)


def build_encoder(cfg: EncoderConfig) -> TaskEncoder | RuleOracle:
    """The built-in grid Qwen2 when `cfg.llm` is None, else the pretrained model at `cfg.llm`; the
    diagnostic RuleOracle when `cfg.oracle_families` names any."""
    cfg.validate()
    if cfg.oracle_families:
        return RuleOracle(cfg.oracle_families, cfg.prompt_dim, cfg.oracle_jitter)
    tokenizer = None
    if cfg.llm is None:
        llm = builtin_llm(cfg)
    else:
        llm, tokenizer = load_pretrained(cfg.llm)
    hidden = llm.config.hidden_size
    return TaskEncoder(
        apply_train_mode(llm, cfg),
        hidden_size=hidden,
        prompt_dim=cfg.prompt_dim,
        max_tokens=cfg.max_tokens,
        batch_tokens=cfg.batch_tokens,
        tokenizer=tokenizer,
        split_warn_every=cfg.split_warn_every,
        grid_coordinates=cfg.grid_coordinates,
        pair_comparer=(PairComparer(cfg.pair_channels, cfg.prompt_dim, cfg.pair_prototypes,
                                    cfg.pair_standardise)
                       if cfg.pair_compare else None),
        llm_in_prompt=cfg.llm_in_prompt,
        llm_standardise=cfg.llm_standardise,
    )
