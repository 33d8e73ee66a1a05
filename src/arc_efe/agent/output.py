"""AgentOutput: what one agent pass returns, shared by the agent, the objective and the solver."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class AgentOutput:
    """Per planning step t = 1..T (index 1 of every tensor), on the input's S x S canvas (S <= 30):

    cell_logits        [B, T, S, S, 10]  forward beliefs Q→_t over colours (logits)
    height_logits      [B, T, 30]        output height h-1 (class k means height k+1)
    width_logits       [B, T, 30]        output width  w-1
    halt_logits        [B, T]            logit of "halt after step t"
    confidence_logits  [B, T, S, S]      logit of "this cell's argmax colour is right"
    given_size         [B, 2] or None    the output size the agent was told (`forward(out_size=)`)

    Sizes stay 30-way on every canvas, so a predicted size may exceed S: its cells beyond S do not
    exist and a crop to it stops at the canvas. Callers that must emit every size (test inputs, whose
    output size is unknown) run on the full 30x30 canvas.
    """

    cell_logits: torch.Tensor
    height_logits: torch.Tensor
    width_logits: torch.Tensor
    halt_logits: torch.Tensor
    confidence_logits: torch.Tensor
    given_size: torch.Tensor | None = None

    @property
    def steps(self) -> int:
        return self.cell_logits.shape[1]

    def predict(self, step: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
        """Argmax grid [B, S, S] and size [B, 2] (height, width, each 1..30) at `step` (default last); the
        size is the given one when the agent was told it, else the size heads' argmax.

        The grid is the whole canvas; callers crop it to `size` (clipped to S). Nothing is interpolated.
        """
        grid = self.cell_logits[:, step].argmax(dim=-1)  # [B, S, S]
        if self.given_size is not None:
            return grid, self.given_size
        height = self.height_logits[:, step].argmax(dim=-1) + 1  # [B]
        width = self.width_logits[:, step].argmax(dim=-1) + 1  # [B]
        return grid, torch.stack([height, width], dim=-1)
