"""GridAgent: the recurrent, weight-tied, prompt-conditioned grid core and its two passes.

forward:           h_t = core(h_{t-1} + embed(input, dir_fwd) + embed(size_{t-1}, copies), prompt,
                          region = box covering the input and size_{t-1});
                   heads read every h_t, and their argmax size is step t+1's output-size guess.
backward_beliefs:  the same core and colour head run from embed(goal, dir_bwd), the goal's own size
                   and region.

The canvas is any square S <= 30 that holds the grids (collate picks the batch's largest side). The
core only mixes cells inside the active region (see blocks.py), so every output equals the 30x30
canvas's output cropped to S x S as long as S covers the input and each step's size guess; a guess
beyond S is clipped to the canvas there.
"""

from __future__ import annotations

import torch
from torch import nn

from arc_efe.agent.blocks import CoreBlock, PromptFiLM, Region, active_region
from arc_efe.agent.config import AgentConfig
from arc_efe.agent.heads import Heads, Readout
from arc_efe.agent.output import AgentOutput
from arc_efe.agent.input_copies import d8_copies, grid_size, input_copies
from arc_efe.agent.rule_table import QueryParts, RuleTable
from arc_efe.data.grid import MAX_SIZE, NUM_COLORS

PAD_COLOR = NUM_COLORS  # embedding row for masked-out cells: their stored values never reach the net
FORWARD, BACKWARD = 0, 1


class GridEmbedding(nn.Module):
    """What the core is fed at every step: the grid (colour or pad, row/col position, its size, the
    pass direction) plus the current output-size guess and the input's resized and tiled copies on that canvas
    (and, as an option, some of its D8 images).

    Coordinates and sizes are explicit because outputs may be larger than inputs: the state outside
    the input mask is kept (never zeroed) and must know where it sits, e.g. for 2x scaling.
    """

    def __init__(self, channels: int, d8_elements: tuple[int, ...] = ()):
        super().__init__()
        self.color = nn.Embedding(NUM_COLORS + 1, channels)
        self.row = nn.Embedding(MAX_SIZE, channels)
        self.col = nn.Embedding(MAX_SIZE, channels)
        self.height = nn.Embedding(MAX_SIZE, channels)
        self.width = nn.Embedding(MAX_SIZE, channels)
        self.direction = nn.Embedding(2, channels)
        self.out_height = nn.Embedding(MAX_SIZE, channels)
        self.out_width = nn.Embedding(MAX_SIZE, channels)
        self.resized = nn.Embedding(NUM_COLORS + 1, channels)
        self.tiled = nn.Embedding(NUM_COLORS + 1, channels)
        # D8 images of the input on the output canvas (AgentConfig.d8_copies), one colour table each; none: no
        # new weights.
        self.d8_elements = tuple(d8_elements)
        self.d8 = nn.Embedding(len(self.d8_elements) * (NUM_COLORS + 1), channels) if self.d8_elements else None
        # Each copy's first row in that shared table, [K, 1, 1, 1] (a constant, not saved).
        offsets = torch.arange(len(self.d8_elements))[:, None, None, None] * (NUM_COLORS + 1)
        self.register_buffer("d8_offsets", offsets, persistent=False)

    def grid(self, grid: torch.Tensor, mask: torch.Tensor, direction: int) -> torch.Tensor:
        """grid [B, S, S] long, mask [B, S, S] bool -> [B, S, S, C], fixed across steps."""
        canvas = grid.shape[-1]
        colors = torch.where(mask, grid, torch.full_like(grid, PAD_COLOR))
        size = grid_size(mask) - 1  # [B, 2]
        per_grid = self.height(size[:, 0]) + self.width(size[:, 1]) + self.direction.weight[direction]
        position = self.row.weight[:canvas, None, :] + self.col.weight[None, :canvas, :]  # [S, S, C]
        return self.color(colors) + position + per_grid[:, None, None, :]

    def output_guess(self, grid: torch.Tensor, mask: torch.Tensor, out_size: torch.Tensor,
                     in_size: torch.Tensor | None = None) -> torch.Tensor:
        """An output size guess [B, 2] (1..30) and the grid's resized/tiled copies on it -> [B, S, S, C]
        (`in_size`: the grid's size, when the caller has it)."""
        resized, tiled = input_copies(grid, mask, out_size, PAD_COLOR, in_size)
        per_grid = self.out_height(out_size[:, 0] - 1) + self.out_width(out_size[:, 1] - 1)  # [B, C]
        copies = self.resized(resized) + self.tiled(tiled) + per_grid[:, None, None, :]
        if self.d8 is None:
            return copies
        images = d8_copies(grid, mask, out_size, PAD_COLOR, self.d8_elements, in_size)  # [K, B, S, S]
        return copies + self.d8(images + self.d8_offsets).sum(dim=0)


class GridAgent(nn.Module):
    """Recurrent grid agent; see the module docstring. Parameter count does not depend on `steps`."""

    def __init__(self, channels: int, prompt_dim: int, steps: int, blocks_per_step: int, heads: int,
                 kernel_size: int, mlp_ratio: int, mixing: str, reads_prompt: bool = True,
                 prompt_pointers: int = 0, d8_copies: tuple[int, ...] = (), rule_table: int = 0,
                 rule_table_context: bool = False, rule_table_line_slots: bool = False,
                 rule_table_consistent: bool = False, rule_table_exact: int = 0, rule_table_specific: bool = False,
                 rule_table_specific_input: bool = False, rule_table_induced: int = 0,
                 rule_table_induced_views: bool = False, rule_table_induced_canvas: bool = False,
                 rule_table_induced_blind: bool = False):
        super().__init__()
        self.prompt_dim = prompt_dim
        # The demos' rule table (AgentConfig.rule_table), carried after the prompt's first prompt_dim numbers.
        self.rule_table = (RuleTable(rule_table, channels, rule_table_context, rule_table_line_slots,
                                     rule_table_consistent, rule_table_exact, rule_table_specific,
                                     rule_table_specific_input, rule_table_induced, rule_table_induced_views,
                                     rule_table_induced_canvas, rule_table_induced_blind)
                           if rule_table else None)
        self.prompt_width = prompt_dim + (self.rule_table.dim if self.rule_table is not None else 0)
        self.reads_prompt = reads_prompt  # False: a prompt-blind baseline (AgentConfig)
        self.steps = steps
        self.embed = GridEmbedding(channels, d8_copies)
        self.film = PromptFiLM(prompt_dim, channels, blocks_per_step)
        self.blocks = nn.ModuleList(
            CoreBlock(channels, heads, kernel_size, mlp_ratio, mixing, positions=MAX_SIZE, pointer_maps=prompt_pointers)
            for _ in range(blocks_per_step)
        )
        # The prompt's weights of each block's pointer maps (AgentConfig.prompt_pointers); None without maps.
        self.pointer_mix = nn.Linear(prompt_dim, blocks_per_step * prompt_pointers) if prompt_pointers else None
        self.heads = Heads(channels)

    def forward(self, inputs: torch.Tensor, input_mask: torch.Tensor, prompt: torch.Tensor,
                steps: int | None = None, out_size: torch.Tensor | None = None,
                table_parts: QueryParts | None = None) -> AgentOutput:
        """inputs [B, S, S] long, input_mask [B, S, S] bool, prompt [B, P] -> AgentOutput, T steps on the
        S x S canvas (S <= 30); size logits stay 30-way, so a predicted size may exceed S. `table_parts`: the
        inputs' `RuleTable.query_parts` when already known (test-time training reuses them; the same numbers).

        `out_size` [B, 2] (1..30), when the output size is known (a solver's size rule), is every step's
        size guess instead of the previous step's argmax, and the size `predict()` returns; the size heads
        still read out as usual."""
        self._check_inputs("inputs", inputs, input_mask, prompt)
        canvas = inputs.shape[-1]
        base = self.embed.grid(inputs, input_mask, FORWARD)
        proposal = sizes = None
        if self.rule_table is not None:
            table = prompt[:, self.prompt_dim :]
            table = table if self.reads_prompt else torch.zeros_like(table)
            looked_up, proposal = self.rule_table.read(inputs, input_mask, table, table_parts)
            base = base + looked_up
            if self.rule_table.induced_canvas:  # the demos' size rule, as height and width logits
                sizes = self.rule_table.size_proposal(inputs, input_mask, table)
        conditioning = self._conditioning(prompt)
        in_size = grid_size(input_mask)
        known = out_size is not None
        if known and out_size.shape != in_size.shape:
            raise ValueError(f"GridAgent: out_size must be [{in_size.shape[0]}, 2], got {tuple(out_size.shape)}")
        out_size = out_size if known else in_size  # first guess: same size as the input
        h = torch.zeros_like(base)
        per_step: list[Readout] = []
        for _ in range(self._steps(steps)):
            region = active_region(torch.maximum(in_size, out_size), canvas)
            guess = self.embed.output_guess(inputs, input_mask, out_size, in_size)
            h = self._core(h + base + guess, conditioning, region)
            read = self.heads(h, input_mask)
            if proposal is not None:  # the demos' rule table's colours, on the input's (canvas rules: output's) cells
                read = read._replace(cell_logits=read.cell_logits + proposal)
            if sizes is not None:
                read = read._replace(height_logits=read.height_logits + sizes[:, 0],
                                     width_logits=read.width_logits + sizes[:, 1])
            per_step.append(read)
            if not known:
                out_size = torch.stack([read.height_logits.argmax(-1), read.width_logits.argmax(-1)], dim=-1) + 1
        stacked = Readout(*(torch.stack(field, dim=1) for field in zip(*per_step)))  # each [B, T, ...]
        return AgentOutput(**stacked._asdict(), given_size=out_size if known else None)

    def backward_beliefs(self, goal: torch.Tensor, goal_mask: torch.Tensor, prompt: torch.Tensor,
                         steps: int | None = None) -> torch.Tensor:
        """Backward beliefs Q<-_t [B, T, S, S, 10]: the same core run from the goal grid [B, S, S].

        Index t is aligned with forward step t: the backward pass's first step (nearest the goal) is
        stored last, next to the forward pass's final step, and its last step first.
        """
        self._check_inputs("goal", goal, goal_mask, prompt)
        # The goal's size is known, so its guess is fixed and its copies are the goal itself.
        injection = self.embed.grid(goal, goal_mask, BACKWARD)
        size = grid_size(goal_mask)
        injection = injection + self.embed.output_guess(goal, goal_mask, size, size)
        region = active_region(size, goal.shape[-1])
        conditioning = self._conditioning(prompt)
        h = torch.zeros_like(injection)
        beliefs = []
        for _ in range(self._steps(steps)):
            h = self._core(h + injection, conditioning, region)
            beliefs.append(self.heads.beliefs(h))
        return torch.stack(beliefs[::-1], dim=1)  # [B, T, S, S, 10]

    def _conditioning(self, prompt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What the core reads of the prompt, once per pass: FiLM [B, blocks, 4, C] and the pointer maps' weights
        [B, blocks, K] (None without maps), both of a zero prompt for a prompt-blind agent (its FiLM is then its
        bias)."""
        prompt = prompt[:, : self.prompt_dim]
        prompt = prompt if self.reads_prompt else torch.zeros_like(prompt)
        mix = None if self.pointer_mix is None else self.pointer_mix(prompt).view(prompt.shape[0], len(self.blocks), -1)
        return self.film(prompt), mix

    def _core(self, x: torch.Tensor, conditioning: tuple[torch.Tensor, torch.Tensor | None],
              region: Region) -> torch.Tensor:
        """One planning step: every block, each with its own FiLM slice (and pointer-map weights). x [B, S, S, C]."""
        film, mix = conditioning
        for index, block in enumerate(self.blocks):
            # Without maps a block is called exactly as before the maps existed (reference paths patch it).
            x = block(x, film[:, index], region) if mix is None else block(x, film[:, index], region, mix[:, index])
        return x

    def _steps(self, steps: int | None) -> int:
        steps = self.steps if steps is None else steps
        if steps < 1:
            raise ValueError(f"GridAgent: steps must be >= 1, got {steps}")
        return steps

    def _check_inputs(self, name: str, grid: torch.Tensor, mask: torch.Tensor, prompt: torch.Tensor) -> None:
        """Fail early with both shapes named rather than deep inside an embedding or a matmul."""
        got = f"{grid.dtype} {tuple(grid.shape)}"
        square = grid.dim() == 3 and grid.shape[1] == grid.shape[2] and 1 <= grid.shape[1] <= MAX_SIZE
        if not square or grid.dtype != torch.long:
            raise ValueError(f"GridAgent: {name} must be long [B, S, S] with 1 <= S <= {MAX_SIZE}, got {got}")
        if mask.shape != grid.shape or mask.dtype != torch.bool:
            raise ValueError(f"GridAgent: {name} mask must be bool {tuple(grid.shape)}, "
                             f"got {mask.dtype} {tuple(mask.shape)}")
        if prompt.dim() != 2 or prompt.shape[0] != grid.shape[0] or prompt.shape[1] != self.prompt_width:
            raise ValueError(f"GridAgent: prompt must be [{grid.shape[0]}, {self.prompt_width}] to match "
                             f"{name} {tuple(grid.shape)}, got {tuple(prompt.shape)}")


def build_agent(cfg: AgentConfig) -> GridAgent:
    """Validate the config and build the agent from its plain values."""
    cfg.validate()
    return GridAgent(
        channels=cfg.channels,
        prompt_dim=cfg.prompt_dim,
        steps=cfg.steps,
        blocks_per_step=cfg.blocks_per_step,
        heads=cfg.heads,
        kernel_size=cfg.kernel_size,
        mlp_ratio=cfg.mlp_ratio,
        mixing=cfg.mixing,
        reads_prompt=cfg.reads_prompt,
        prompt_pointers=cfg.prompt_pointers,
        d8_copies=tuple(cfg.d8_copies),
        rule_table=cfg.rule_table,
        rule_table_context=cfg.rule_table_context,
        rule_table_line_slots=cfg.rule_table_line_slots,
        rule_table_consistent=cfg.rule_table_consistent,
        rule_table_exact=cfg.rule_table_exact,
        rule_table_specific=cfg.rule_table_specific,
        rule_table_specific_input=cfg.rule_table_specific_input,
        rule_table_induced=cfg.rule_table_induced,
        rule_table_induced_views=cfg.rule_table_induced_views,
        rule_table_induced_canvas=cfg.rule_table_induced_canvas,
        rule_table_induced_blind=cfg.rule_table_induced_blind,
    )
