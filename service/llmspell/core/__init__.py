"""Core types, errors, component interfaces, execution context and configuration."""

from .abc import Agent, BaseAgent, Tool, Workflow
from .context import CancelToken, ExecutionContext, Limits, SandboxPolicy
from .errors import (
    Cancelled,
    ConfigError,
    Conflict,
    LimitExceeded,
    LLMSpellError,
    NotFound,
    ProviderError,
    SandboxViolation,
    ScriptError,
    StorageError,
    Timeout,
    ToolError,
    ValidationError,
)
from .types import AgentInput, AgentOutput, MediaContent, ToolCallRecord, Usage

__all__ = [
    "Agent",
    "AgentInput",
    "AgentOutput",
    "BaseAgent",
    "CancelToken",
    "Cancelled",
    "ConfigError",
    "Conflict",
    "ExecutionContext",
    "LLMSpellError",
    "LimitExceeded",
    "Limits",
    "MediaContent",
    "NotFound",
    "ProviderError",
    "SandboxPolicy",
    "SandboxViolation",
    "ScriptError",
    "StorageError",
    "Timeout",
    "Tool",
    "ToolCallRecord",
    "ToolError",
    "Usage",
    "ValidationError",
    "Workflow",
]
