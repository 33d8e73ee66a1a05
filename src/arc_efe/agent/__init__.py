"""Grid agent: the recurrent core conditioned on a prompt tensor; never imports the encoder."""

from arc_efe.agent.config import AgentConfig
from arc_efe.agent.core import GridAgent, build_agent
from arc_efe.agent.output import AgentOutput

__all__ = ["AgentConfig", "AgentOutput", "GridAgent", "build_agent"]
