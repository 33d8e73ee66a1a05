"""Building the encoder's LLM: the from-scratch grid Qwen2, pretrained loading, and train modes.

Pretrained models load in float32 whatever their checkpoint dtype: training keeps fp32 master
weights and autocast (bf16/fp16) chooses the compute precision.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase, Qwen2Config, Qwen2Model

from arc_efe.data.serialize import BOS, EOS, PAD, VOCAB_SIZE
from arc_efe.encoder.config import EncoderConfig

log = logging.getLogger(__name__)


def builtin_llm(cfg: EncoderConfig) -> Qwen2Model:
    """A randomly initialised Qwen2Model over the grid vocabulary; no download."""
    config = Qwen2Config(
        vocab_size=VOCAB_SIZE,
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_kv_heads,
        max_position_embeddings=cfg.max_tokens,
        pad_token_id=PAD,
        bos_token_id=BOS,
        eos_token_id=EOS,
        use_cache=False,
    )
    return Qwen2Model(config)


def _looks_like_path(name: str) -> bool:
    """Hub ids are "name" or "org/name"; anything else is meant as a local path."""
    return os.path.isabs(name) or name.startswith((".", "~")) or name.count("/") > 1


def load_pretrained(name_or_path: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The base model (a Qwen2ForCausalLM checkpoint gives its Qwen2Model) and its tokenizer.

    Raises FileNotFoundError for a missing local path and OSError, saying what to do, when a hub
    name is neither local nor in the Hugging Face cache (this project runs offline).
    """
    local = Path(name_or_path).expanduser()
    if not local.exists() and _looks_like_path(name_or_path):
        raise FileNotFoundError(f"encoder LLM path {name_or_path!r} does not exist")
    source = str(local) if local.exists() else name_or_path
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModel.from_pretrained(source, dtype=torch.float32)
    except (OSError, ValueError) as err:
        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0")
        raise OSError(
            f"could not load encoder LLM {name_or_path!r} (offline={offline}): {err}\n"
            "Pass a local folder holding config.json, the weights and the tokenizer files, or a hub "
            "name already in the Hugging Face cache."
        ) from err
    # AutoModel maps a causal-LM checkpoint to its base model already; base_model unwraps any head left.
    model = model.base_model
    log.info("loaded encoder LLM %s (%s, hidden %d, %.1fM params)", name_or_path, type(model).__name__,
             model.config.hidden_size, sum(p.numel() for p in model.parameters()) / 1e6)
    return model, tokenizer


def apply_train_mode(llm: PreTrainedModel, cfg: EncoderConfig) -> nn.Module:
    """full: unchanged; lora: wrapped by peft, only adapters trainable; frozen: no grads."""
    if cfg.train_mode == "lora":
        lora = LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=list(cfg.lora_targets),
        )
        return get_peft_model(llm, lora)
    if cfg.train_mode == "frozen":
        llm.requires_grad_(False)
    return llm
