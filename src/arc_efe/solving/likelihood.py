"""The agent's likelihood of a candidate output, averaged over spatial views: the product-of-experts score
that lets the neural model rank every expert's candidates (as augmentation-averaged scoring did for the
ARChitects). Read with the test-time-trained agent, so it reflects what the task's demos taught it."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from arc_efe.data.augment import Augmentation
from arc_efe.data.batching import collate, query_sample
from arc_efe.data.task import Pair
from arc_efe.system import ArcSystem


@torch.no_grad()
def view_likelihoods(system: ArcSystem, task_id: str, test_input: np.ndarray, candidates: list[np.ndarray],
                     d8: int, prompt: torch.Tensor, steps: int | None) -> list[float]:
    """Mean log-probability per cell of each candidate, test input and candidate seen in view `d8`, the
    agent told each candidate's size and read at its final planning step with `prompt` [P]."""
    aug = Augmentation(d8)
    rows = [query_sample(task_id, Pair(aug.apply(test_input), aug.apply(c)), aug) for c in candidates]
    batch = collate(rows).to(prompt.device)
    out = system.predict(batch.query_input, batch.query_input_mask, prompt.expand(len(rows), -1), steps=steps,
                         out_size=batch.output_size)
    logp = F.log_softmax(out.cell_logits[:, -1].float(), dim=-1)  # [B, S, S, 10]
    picked = logp.gather(-1, batch.query_output.unsqueeze(-1)).squeeze(-1)  # [B, S, S]
    mask = batch.query_output_mask.float()
    return ((picked * mask).flatten(1).sum(1) / mask.flatten(1).sum(1).clamp(min=1)).tolist()
