"""Component interfaces: tools, agents and workflows.

Components are usable from Python alone; ``scripting/api`` turns them into script globals.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

from .context import ExecutionContext
from .types import AgentInput, AgentOutput

__all__ = ["Agent", "AgentState", "BaseAgent", "SecurityLevel", "Tool", "Workflow"]

SecurityLevel = Literal["safe", "restricted", "privileged"]
AgentState = Literal["uninitialized", "ready", "running", "paused", "error", "terminated"]


class Tool(ABC):
    """A tool: a named, schema-described operation.

    Subclasses set the class attributes and implement :meth:`invoke`. The registry
    validates ``params`` against ``schema`` before calling ``invoke`` and wraps the returned
    value in the result envelope; ``invoke`` raises an ``LLMSpellError`` on failure.
    """

    name: str
    category: str
    description: str
    schema: Mapping[str, Any]
    security_level: SecurityLevel = "safe"
    timeout_s: float = 30.0

    @abstractmethod
    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        """Run the tool.

        Returns:
            Either a dict with the envelope keys ``operation``/``result``/``message``/
            ``metadata`` (any subset), or any other JSON value taken as ``result``.

        Raises:
            ToolError, SandboxViolation, ValidationError, Timeout: on failure.
        """

    def info(self) -> dict[str, Any]:
        """Public description: name, category, description, schema, security level."""
        return {
            "name": self.name,
            "category": self.category,
            "description": self.description,
            "schema": dict(self.schema),
            "security_level": self.security_level,
        }


class BaseAgent(ABC):
    """Anything that takes an ``AgentInput`` and produces an ``AgentOutput``."""

    name: str

    @abstractmethod
    async def execute(self, request: AgentInput, ctx: ExecutionContext) -> AgentOutput:
        """Answer ``request``; raises ProviderError, LimitExceeded, Timeout, Cancelled."""


class Agent(BaseAgent):
    """An LLM-backed agent with conversation memory and streaming."""

    @abstractmethod
    def stream(self, request: AgentInput, ctx: ExecutionContext) -> AsyncIterator[str]:
        """Yield text deltas of the answer (tool calls run in between)."""

    @abstractmethod
    def history(self) -> list[dict[str, Any]]:
        """The conversation so far as chat messages."""

    @abstractmethod
    def reset(self) -> None:
        """Forget the conversation."""

    @property
    @abstractmethod
    def state(self) -> AgentState:
        """Lifecycle state."""


class Workflow(ABC):
    """A composition of steps (tools, agents, workflows, functions)."""

    name: str

    @abstractmethod
    async def execute(self, input: Any, ctx: ExecutionContext) -> dict[str, Any]:
        """Run; returns ``{success, output, outputs, errors, duration_ms, execution_id}``."""
