"""EncoderConfig: which LLM encodes the demonstrations, how it trains, and the long-pair limits."""

from __future__ import annotations

from dataclasses import dataclass

TRAIN_MODES = ("full", "lora", "frozen")


@dataclass
class EncoderConfig:
    """`llm=None` builds the small from-scratch Qwen2 over the grid vocabulary (sizes below, fast on
    CPU); a path or hub name loads a pretrained model and its tokenizer (sizes then come from it).

    train_mode: full = every LLM weight trains; lora = only peft LoRA adapters on `lora_targets`;
    frozen = no LLM weight trains. The projection to `prompt_dim` trains in every mode.
    max_tokens: longest sequence the LLM sees; a longer pair is split, never truncated (see task_encoder.py).
    batch_tokens: most padded tokens per LLM call; bounds activation memory on long batches.
    grid_coordinates: add learned embeddings of each cell token's row and column, counted from both edges
    (built-in encoder only), so attention can relate a cell to its transformed position in the other grid;
    the sequence's own 1-D positions cannot say which cells lie in one column or mirror each other.
    pair_compare: add a small conv net's summary of each demo's output compared with its input cell by cell
    (colours, colour transition, equality with each D8 image of the input, position) to the prompt
    (`pair_compare.PairComparer`, `pair_channels` wide); off by default.
    pair_prototypes: K > 0 makes the comparer's part a softmax mix of K learned prompt rows (0: a linear map).
    pair_standardise: standardise the comparer's part per dimension over the tasks (BatchNorm1d, no affine),
    so that differences between tasks are of unit scale (a one-task batch uses the running statistics).
    llm_standardise: the same for the LLM's projected part (does the LLM's prompt go unread for its scale too?).
    llm_in_prompt: false (a diagnostic, with pair_compare) makes the comparer's part the whole prompt: the LLM
    is not run and its weights get no gradient. Does the LLM's part help or drown the comparer's?
    oracle_families: a diagnostic, not an encoder: the prompt is a learned row per rule instance of these
    generator families, the one that reproduces the demos (`oracle.RuleOracle`); it measures whether the
    agent can use a perfect prompt. Empty (the default): the LLM encoder. oracle_jitter: std of a fixed
    per-task offset added to the oracle's prompt (rule-independent variation; see oracle.py).
    """

    llm: str | None = None
    train_mode: str = "full"
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 256
    prompt_dim: int = 256
    max_tokens: int = 2048
    batch_tokens: int = 16384
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    split_warn_every: int = 100
    grid_coordinates: bool = False
    pair_compare: bool = False
    pair_channels: int = 64
    pair_prototypes: int = 0
    pair_standardise: bool = False
    llm_standardise: bool = False
    llm_in_prompt: bool = True
    oracle_families: tuple[str, ...] = ()
    oracle_jitter: float = 0.0

    def validate(self) -> None:
        """Raise ValueError naming the field on an impossible setting."""
        if self.train_mode not in TRAIN_MODES:
            raise ValueError(f"encoder.train_mode must be one of {TRAIN_MODES}, got {self.train_mode!r}")
        positive = ("hidden_size", "num_layers", "num_heads", "num_kv_heads", "intermediate_size",
                    "prompt_dim", "max_tokens", "batch_tokens", "lora_r", "split_warn_every", "pair_channels")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"encoder.{name} must be >= 1, got {getattr(self, name)}")
        if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"encoder.hidden_size ({self.hidden_size}) must divide by num_heads ({self.num_heads}) "
                f"and num_heads by num_kv_heads ({self.num_kv_heads})"
            )
        if self.batch_tokens < self.max_tokens:
            raise ValueError(
                f"encoder.batch_tokens ({self.batch_tokens}) must be >= max_tokens ({self.max_tokens}) "
                "so that the longest sequence fits one LLM call"
            )
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ValueError(f"encoder.lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if self.grid_coordinates and self.llm is not None:
            raise ValueError("encoder.grid_coordinates needs the built-in encoder (llm: null): a pretrained "
                             "tokenizer's tokens are not one per cell")
        if self.pair_compare and self.oracle_families:
            raise ValueError("encoder.pair_compare is part of the learned encoder; the oracle (oracle_families) "
                             "replaces that encoder, so set one or the other")
        if self.oracle_jitter < 0:
            raise ValueError(f"encoder.oracle_jitter must be >= 0, got {self.oracle_jitter}")
        if self.pair_prototypes < 0:
            raise ValueError(f"encoder.pair_prototypes must be >= 0, got {self.pair_prototypes}")
        if not self.llm_in_prompt and not self.pair_compare:
            raise ValueError("encoder.llm_in_prompt=false needs encoder.pair_compare=true: nothing else would "
                             "make the prompt")
        if self.train_mode == "lora" and not self.lora_targets:
            raise ValueError("encoder.lora_targets is empty: LoRA needs at least one module name")
