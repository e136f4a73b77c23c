"""Agents: LLM agents running the tool-calling loop over a chat model."""

from __future__ import annotations

from .abc import ToolProvider
from .llm_agent import AgentConfig, LLMAgent

__all__ = ["AgentConfig", "LLMAgent", "ToolProvider"]
