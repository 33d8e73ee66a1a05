"""Start a run from another model's weights (`TrainConfig.init_from`) and train only some parameters
(`TrainConfig.train_only`).

Why: a part added to a trained model (a rule table, say) can then be trained on top of it, alone, so the
agent keeps what it learned instead of relearning it beside the new part. Three demo-reading models trained
from scratch read the demos more than the shipped one but fitted each task worse at test time (BENCHMARKS.md,
sessions 15-19).
"""

from __future__ import annotations

from torch import nn

from arc_efe.checkpoint_files import CheckpointError, read_weights, resolve_checkpoint, shape_mismatches


def load_matching(model: nn.Module, path: str) -> tuple[list[str], list[str]]:
    """Copy every weight of the checkpoint at `path` whose name is also `model`'s into `model`; returns
    (`model`'s names left at their initial values, the checkpoint's names `model` lacks). A shared name of
    another shape, or no shared name at all, is a CheckpointError naming the checkpoint."""
    checkpoint = resolve_checkpoint(path)
    source = read_weights(checkpoint)
    own = model.state_dict()
    shared = [k for k in own if k in source]
    if not shared:
        raise CheckpointError(f"init_from {checkpoint}: no weight name in common with this model")
    wrong = shape_mismatches(source, own)
    if wrong:
        raise CheckpointError(f"init_from {checkpoint}: shape mismatch (saved vs this model) for "
                              f"{len(wrong)} weight(s): {'; '.join(wrong[:4])}")
    model.load_state_dict({k: source[k] for k in shared}, strict=False)
    return [k for k in own if k not in source], sorted(k for k in source if k not in own)


def train_only(model: nn.Module, prefixes: tuple[str, ...]) -> list[str]:
    """Freeze every parameter of `model` outside the submodules named by `prefixes` (dotted names, e.g.
    "agent.rule_table"); returns the names left trainable. An empty `prefixes` changes nothing; a prefix that
    names no parameter is a ValueError, so a typo does not silently freeze the whole model."""
    names = [n for n, _ in model.named_parameters()]
    if not prefixes:
        return names

    def under(name: str, prefix: str) -> bool:
        return name == prefix or name.startswith(prefix + ".")

    unknown = [p for p in prefixes if not any(under(n, p) for n in names)]
    if unknown:
        raise ValueError(f"train_only: no parameter under {unknown}; top-level parts: "
                         f"{sorted({n.split('.')[0] for n in names})}")
    kept = []
    for name, param in model.named_parameters():
        param.requires_grad_(any(under(name, p) for p in prefixes))
        if param.requires_grad:
            kept.append(name)
    return kept
