"""The named hook points, and custom ones.

Names are the PascalCase spellings of rs-llmspell; a snake_case spelling of a known point
(``before_tool_execution``) is accepted everywhere and normalised. Custom points are named
``custom:<name>`` and fire only where a component or script invokes them explicitly.
"""

from __future__ import annotations

import re

from ..core.errors import ValidationError

__all__ = ["CUSTOM_PREFIX", "POINTS", "POINTS_BY_GROUP", "normalize_point"]

CUSTOM_PREFIX = "custom:"

POINTS_BY_GROUP: dict[str, tuple[str, ...]] = {
    "agent": (
        "BeforeAgentInit",
        "AfterAgentInit",
        "BeforeAgentExecution",
        "AfterAgentExecution",
        "AgentError",
        "BeforeAgentShutdown",
        "AfterAgentShutdown",
    ),
    "tool": ("ToolDiscovery", "ToolValidation", "BeforeToolExecution", "AfterToolExecution", "ToolError"),
    "workflow": (
        "BeforeWorkflowStart",
        "WorkflowStageTransition",
        "BeforeWorkflowStage",
        "AfterWorkflowStage",
        "WorkflowCheckpoint",
        "WorkflowRollback",
        "AfterWorkflowComplete",
        "WorkflowError",
    ),
    "state": (
        "BeforeStateRead",
        "AfterStateRead",
        "BeforeStateWrite",
        "AfterStateWrite",
        "StateConflict",
        "StateMigration",
    ),
    "session": ("SessionStart", "SessionEnd", "SessionCheckpoint", "SessionRestore", "SessionSave"),
    "system": (
        "SystemStartup",
        "SystemShutdown",
        "ConfigurationChange",
        "ResourceLimitExceeded",
        "SecurityViolation",
    ),
    "event": ("BeforeEventEmit", "AfterEventEmit", "EventHandlerError"),
    "performance": ("PerformanceThresholdExceeded", "MemoryUsageHigh"),
    "llm": ("BeforeLLMRequest", "AfterLLMRequest", "LLMTokenStream"),
}

POINTS: frozenset[str] = frozenset(name for names in POINTS_BY_GROUP.values() for name in names)

_SNAKE = {re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", name).replace("LLM", "_llm").lower(): name for name in POINTS}
_SNAKE = {key.replace("__", "_").strip("_"): value for key, value in _SNAKE.items()}
_CUSTOM = re.compile(r"^custom:[A-Za-z0-9_.\-]{1,100}$")


def normalize_point(name: object) -> str:
    """The canonical name of hook point ``name``.

    Raises:
        ValidationError: not a known point nor ``custom:<name>``.
    """
    if isinstance(name, str):
        if name in POINTS:
            return name
        known = _SNAKE.get(name.lower())
        if known is not None:
            return known
        if _CUSTOM.match(name):
            return name
    raise ValidationError(
        f"unknown hook point {name!r}: use a name such as 'BeforeToolExecution' (see `llmspell hooks list`) "
        "or 'custom:<name>' for your own point",
        details={"field": "point"},
    )
