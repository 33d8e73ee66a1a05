"""ArcSystem: the three trained modules (task encoder, refiner policy, grid agent) as one nn.Module.

One module with one `forward` per training step keeps DDP simple (a single forward, a single backward,
every parameter registered once) and gives the trainer, the solver and the doctor one object to build,
save and load.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from arc_efe.agent import AgentConfig, AgentOutput, GridAgent, build_agent
from arc_efe.data.batching import Batch
from arc_efe.data.stats import STATS_DIM
from arc_efe.data.task import Pair
from arc_efe.encoder.policy import PolicyConfig, PolicySample, RefinerPolicy
from arc_efe.encoder.qwen import EncoderConfig, TaskEncoder, build_encoder


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

    def forward(
        self,
        batch: Batch,
        cached_prompt: torch.Tensor | None = None,
        with_prompt_pair: bool = False,
    ) -> SystemOutput:
        prompt = self.encoder(batch.contexts) if cached_prompt is None else cached_prompt  # [B, P]
        # The policy sees a detached prompt and its δ is detached from the agent's loss: the policy learns
        # only from its own policy-gradient loss, the encoder only from the EFE loss through p'.
        sample = self.policy.sample(prompt.detach(), batch.stats)
        refined = prompt + sample.delta.detach()
        with torch.no_grad():
            before = self.agent(batch.query_input, batch.query_input_mask, prompt.detach())
        after = self.agent(batch.query_input, batch.query_input_mask, refined)
        backward_logits = self.agent.backward_beliefs(batch.query_output, batch.query_output_mask, refined)
        pair = None
        if with_prompt_pair and cached_prompt is None:
            rows, first, second = split_context(batch.contexts)
            if rows:
                pair = (self.encoder(first), self.encoder(second))
        return SystemOutput(prompt, refined, sample, before, after, backward_logits, pair)


def build_system(cfg: ModelConfig) -> ArcSystem:
    cfg.validate()
    encoder = build_encoder(cfg.encoder)
    policy = RefinerPolicy(cfg.encoder.prompt_dim, STATS_DIM, cfg.policy)
    agent = build_agent(cfg.agent)
    return ArcSystem(encoder, policy, agent)
