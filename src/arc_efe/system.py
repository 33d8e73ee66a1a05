"""ArcSystem: the three trained modules (task encoder, refiner policy, grid agent) as one nn.Module, and
the one interface training and solving use.

One module with one `forward` per training step keeps DDP simple (a single forward, a single backward,
every parameter registered once). Callers outside never reach into `.encoder`, `.policy` or `.agent`:
`prompts` gives p and p + δ (computed here only), `predict` runs the agent, `plain_attempts` predicts
whole tasks, `agent_parts` names what test-time training may tune, and `save`/`load` own the checkpoint
files (`checkpoint_files.py`; the only I/O in model code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from arc_efe import checkpoint_files as files
from arc_efe.agent import AgentConfig, AgentOutput, GridAgent, build_agent
from arc_efe.agent.rule_table import QueryParts, WriteParts
from arc_efe.config import from_dict
from arc_efe.data.augment import IDENTITY
from arc_efe.data.batching import Batch, collate, make_test_sample
from arc_efe.data.grid import MAX_SIZE
from arc_efe.data.stats import STATS_DIM
from arc_efe.data.task import Pair, Task
from arc_efe.encoder.task_encoder import EncoderConfig, TaskEncoder, build_encoder
from arc_efe.policy import PolicyConfig, PolicySample, RefinerPolicy


@dataclass
class ModelConfig:
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)

    def validate(self) -> None:
        if self.encoder.prompt_dim != self.agent.prompt_dim:
            raise ValueError(
                f"encoder.prompt_dim ({self.encoder.prompt_dim}) must equal agent.prompt_dim "
                f"({self.agent.prompt_dim}): the agent is conditioned on the encoder's prompt"
            )


@dataclass
class SystemOutput:
    """Everything one training forward produces; the objective and the trainer read from it."""

    prompt: torch.Tensor  # [B, P] p, from the encoder (graph) or the cache (detached)
    refined: torch.Tensor  # [B, P] p' = p + δ
    policy: PolicySample  # δ, log π(δ), entropy, value
    before: AgentOutput  # agent with p, computed without a graph (for acc_before)
    after: AgentOutput  # agent with p' (the beliefs the loss trains)
    backward_logits: torch.Tensor | None  # [B, T, S, S, 10] Q←_t from the goal grid
    prompt_pair: tuple[torch.Tensor, torch.Tensor] | None  # prompts of two disjoint demo subsets


@dataclass
class Prompts:
    """p (the encoder's prompt, or a cached one), the policy's δ sample, and p + δ (δ detached)."""

    base: torch.Tensor  # [B, P] p
    policy: PolicySample
    refined: torch.Tensor  # [B, P] p + δ


def crop(grid: torch.Tensor, size: torch.Tensor) -> np.ndarray:
    """A predicted canvas [S, S] cut to its (height, width); a size beyond S stops at S."""
    h, w = int(size[0]), int(size[1])
    return grid[:h, :w].cpu().numpy().astype(np.int64)


def split_context(contexts: list[list[Pair]]) -> tuple[list[int], list[list[Pair]], list[list[Pair]]]:
    """Two disjoint halves of each context with >= 2 pairs (indices of those tasks, first, second)."""
    rows = [i for i, ctx in enumerate(contexts) if len(ctx) >= 2]
    first = [contexts[i][: len(contexts[i]) // 2] for i in rows]
    second = [contexts[i][len(contexts[i]) // 2 :] for i in rows]
    return rows, first, second


class ArcSystem(nn.Module):
    """Encoder -> policy -> agent. `forward` is one training forward pass."""

    def __init__(self, encoder: TaskEncoder, policy: RefinerPolicy, agent: GridAgent):
        super().__init__()
        self.encoder = encoder
        self.policy = policy
        self.agent = agent

    def prompts(self, contexts: list[list[Pair]], stats: torch.Tensor, *, sample_offset: bool,
                cached: torch.Tensor | None = None) -> Prompts:
        """p for `contexts` (or `cached` p, skipping the encoder) and p + δ: δ sampled from the policy
        (training) or its deterministic mode (solving). The policy sees p detached and δ is detached from
        the agent's loss: the policy learns only from its own policy-gradient loss."""
        base = self.encode(contexts) if cached is None else cached  # [B, P]
        sample = self.policy.sample(base.detach()[:, : self.agent.prompt_dim], stats, deterministic=not sample_offset)
        return Prompts(base, sample, base + self._widen(sample.delta.detach()))

    def encode(self, contexts: list[list[Pair]]) -> torch.Tensor:
        """p [B, P]: the encoder's prompt, followed by the demos' rule table when the agent has one."""
        prompt = self.encoder(contexts)
        if self.agent.rule_table is None:
            return prompt
        return torch.cat([prompt, self.agent.rule_table.write(contexts, prompt.device)], dim=1)

    @property
    def reads_tables(self) -> bool:
        """Whether the agent reads a rule table after the encoder's prompt (`AgentConfig.rule_table`)."""
        return self.agent.rule_table is not None

    def with_tables(self, prompts: torch.Tensor, inputs: torch.Tensor, outputs: torch.Tensor, mask: torch.Tensor,
                    owner: torch.Tensor, parts: WriteParts | None = None) -> torch.Tensor:
        """`prompts` [R, P] with their rule-table part written again from same-size demo grids (inputs, outputs
        [M, S, S], mask [M, S, S]; owner [M]: the row each grid's pair is written into; `parts`: their
        `RuleTable.write_parts`, if already known)."""
        tables = self.agent.rule_table.write_grids(inputs, outputs, mask, owner, len(prompts), parts)
        return torch.cat([prompts[:, : self.agent.prompt_dim], tables], dim=1)

    def _widen(self, delta: torch.Tensor) -> torch.Tensor:
        """A policy offset over the encoder's part, zero over the rule table (the policy does not move it)."""
        return F.pad(delta, (0, self.prompt_dim - delta.shape[-1]))

    @property
    def prompt_dim(self) -> int:
        """P, the width of every prompt and offset (the encoder's part and any rule table)."""
        return self.agent.prompt_width

    def policy_offsets(self, base: torch.Tensor, stats: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """δ [B, P] of prompts `base` [B, P] for a fixed policy draw `noise` ([B, P] or [P]; zeros give the
        mode that `prompts` adds when solving). Solving uses it to try several draws on the demos."""
        width = self.agent.prompt_dim
        return self._widen(self.policy.offset(base[:, :width], stats, noise[..., :width]))

    def predict(self, inputs: torch.Tensor, input_mask: torch.Tensor, prompt: torch.Tensor,
                steps: int | None = None, out_size: torch.Tensor | None = None,
                table_parts: QueryParts | None = None) -> AgentOutput:
        """The agent's beliefs for inputs [B, S, S] under prompt [B, P] (see GridAgent.forward)."""
        return self.agent(inputs, input_mask, prompt, steps=steps, out_size=out_size, table_parts=table_parts)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Trainable parameters by optimiser group; "encoder" is the LLM (its gradient norm is Qwen_grad)."""
        groups = {
            "encoder": list(self.encoder.encoder_parameters()),
            "projection": list(self.encoder.projection_parameters()),
            "agent": list(self.agent.parameters()),
            "policy": list(self.policy.parameters()),
        }
        return {name: [p for p in params if p.requires_grad] for name, params in groups.items()}

    def agent_parts(self) -> dict[str, nn.Module]:
        """The agent's named submodules: what test-time training may tune per task."""
        return dict(self.agent.named_children())

    def forward(
        self,
        batch: Batch,
        cached_prompt: torch.Tensor | None = None,
        with_prompt_pair: bool = False,
    ) -> SystemOutput:
        p = self.prompts(batch.contexts, batch.stats, sample_offset=True, cached=cached_prompt)
        with torch.no_grad():
            before = self.predict(batch.query_input, batch.query_input_mask, p.base.detach())
        after = self.predict(batch.query_input, batch.query_input_mask, p.refined)
        backward_logits = self.agent.backward_beliefs(batch.query_output, batch.query_output_mask, p.refined)
        pair = None
        if with_prompt_pair and cached_prompt is None:
            rows, first, second = split_context(batch.contexts)
            if rows:
                pair = (self.encoder(first), self.encoder(second))
        return SystemOutput(p.base, p.refined, p.policy, before, after, backward_logits, pair)

    @torch.no_grad()
    def plain_attempts(self, tasks: list[Task], batch_size: int = 16, prompts: dict[str, Prompts] | None = None,
                       out_sizes: dict[str, list[tuple[int, int]]] | None = None) -> dict[str, list[list[np.ndarray]]]:
        """{task_id: [[attempt 1 (p), attempt 2 (p + mean δ)] per test input]}: one agent pass per test
        input, no test-time training, no voting. A test output's size is unknown, so the full 30x30 canvas
        lets the agent predict any size; `out_sizes[task_id]` (each test output's (h, w), for every task)
        gives it the size instead. `prompts[task_id]` ([1, P] each, all demos as context) skips encoding a
        task the caller already encoded."""
        device = next(self.parameters()).device
        samples = [(t.id, i, make_test_sample(t, i, IDENTITY)) for t in tasks for i in range(len(t.test))]
        attempts: dict[str, list[list[np.ndarray]]] = {t.id: [] for t in tasks}
        for start in range(0, len(samples), batch_size):
            chunk = samples[start : start + batch_size]
            batch = collate([s for _, _, s in chunk], canvas=MAX_SIZE).to(device)
            if prompts is None:
                p = self.prompts(batch.contexts, batch.stats, sample_offset=False)
            else:
                rows = [prompts[task_id] for task_id, _, _ in chunk]
                p = Prompts(torch.cat([r.base for r in rows]), rows[0].policy, torch.cat([r.refined for r in rows]))
            sizes = None if out_sizes is None else torch.tensor([out_sizes[task_id][i] for task_id, i, _ in chunk],
                                                               device=device)
            grids = []
            for prompt in (p.base, p.refined):
                grid, size = self.predict(batch.query_input, batch.query_input_mask, prompt, out_size=sizes).predict()
                grids.append([crop(g, s) for g, s in zip(grid, size)])
            for row, (task_id, _, _) in enumerate(chunk):
                attempts[task_id].append([grids[0][row], grids[1][row]])
        return attempts

    def save(self, folder: str | Path, config: dict[str, Any]) -> None:
        """Write a solver-readable checkpoint: `config` (a TrainConfig dict) and the weights."""
        files.write_weights(Path(folder), self.state_dict(), config)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> tuple[ArcSystem, dict[str, Any]]:
        """(system in eval mode on `device`, the checkpoint's config dict) from RUN_DIR, RUN_DIR/best or a
        checkpoint folder. Weights load strictly: missing or unexpected keys, or shape mismatches, raise
        CheckpointError naming the keys and the file."""
        folder = files.resolve_checkpoint(path)
        config = files.read_config(folder)
        system = build_system(from_dict(ModelConfig, config["model"], "model"))
        state = files.read_weights(folder)
        files.check_state(state, system.state_dict(), folder / files.WEIGHTS_FILE)
        system.load_state_dict(state, strict=True)
        return system.to(device).eval(), config


def build_system(cfg: ModelConfig) -> ArcSystem:
    cfg.validate()
    encoder = build_encoder(cfg.encoder)
    policy = RefinerPolicy(cfg.encoder.prompt_dim, STATS_DIM, cfg.policy)
    agent = build_agent(cfg.agent)
    return ArcSystem(encoder, policy, agent)
