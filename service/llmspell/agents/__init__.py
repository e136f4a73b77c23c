"""Agents: LLM agents running the tool-calling loop, composites, a registry and lifecycles."""

from __future__ import annotations

from .abc import ToolProvider
from .composite import CompositeAgent, DelegateAgent, PipelineAgent, Router
from .definition import (
    AGENT_TYPES,
    agent_from_definition,
    config_from_definition,
    normalize_definition,
    public_definition,
    stored_agent_info,
)
from .lifecycle import TRANSITIONS, Lifecycle
from .llm_agent import AgentConfig, LLMAgent
from .registry import AgentRegistry, agent_info, capabilities_of, shutdown_agent

__all__ = [
    "AGENT_TYPES",
    "TRANSITIONS",
    "AgentConfig",
    "AgentRegistry",
    "CompositeAgent",
    "DelegateAgent",
    "LLMAgent",
    "Lifecycle",
    "PipelineAgent",
    "Router",
    "ToolProvider",
    "agent_from_definition",
    "agent_info",
    "capabilities_of",
    "config_from_definition",
    "normalize_definition",
    "public_definition",
    "shutdown_agent",
    "stored_agent_info",
]
