"""Helpers the agent and workflow layers call to persist their state.

Agents keep their conversation under ``agent:<name>`` / ``conversation`` (schema version
2: ``{messages, metadata}``); workflows keep step outputs under ``workflow:<execution_id>``,
one key per step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.errors import ValidationError

if TYPE_CHECKING:
    from .manager import StateManager

__all__ = [
    "CONVERSATION_KEY",
    "load_conversation",
    "load_step_outputs",
    "save_conversation",
    "save_step_output",
]

CONVERSATION_KEY = "conversation"


async def save_conversation(
    state: StateManager,
    agent_name: str,
    messages: list[dict[str, Any]],
    *,
    metadata: dict[str, Any] | None = None,
    ttl_s: float | None = None,
) -> int:
    """Store an agent's chat messages (``LLMAgent.history()`` shape); returns the version."""
    if not isinstance(messages, list) or not all(isinstance(m, dict) and "role" in m for m in messages):
        raise ValidationError("a conversation is a list of chat messages {role=, content=}")
    value = {"messages": messages, "metadata": dict(metadata or {})}
    record = await state.set(f"agent:{agent_name}", CONVERSATION_KEY, value, ttl_s=ttl_s)
    return record.version


async def load_conversation(state: StateManager, agent_name: str) -> list[dict[str, Any]]:
    """The stored chat messages of an agent (empty when none were saved)."""
    value = await state.get(f"agent:{agent_name}", CONVERSATION_KEY)
    if not isinstance(value, dict):
        return []
    messages = value.get("messages")
    return list(messages) if isinstance(messages, list) else []


async def save_step_output(state: StateManager, execution_id: str, step: str, output: Any) -> None:
    """Keep a workflow step's output under its execution id."""
    await state.set(f"workflow:{execution_id}", step, output)


async def load_step_outputs(state: StateManager, execution_id: str) -> dict[str, Any]:
    """Every stored step output of a workflow execution, by step name."""
    scope = f"workflow:{execution_id}"
    outputs: dict[str, Any] = {}
    cursor: str | None = None
    while True:
        entries, cursor = await state.list_entries(scope, limit=1000, cursor=cursor)
        outputs.update({entry.key: entry.value for entry in entries})
        if cursor is None:
            return outputs
