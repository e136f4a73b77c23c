"""Conversation memory to and from JSON (the OpenAI chat-message shape), for persistence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.errors import ValidationError
from ..providers.abc import ChatMessage, ContentPart, ToolCall

__all__ = ["messages_from_wire"]

_ROLES = ("user", "assistant", "tool")


def _content(value: Any) -> str | tuple[ContentPart, ...] | None:
    if value is None or isinstance(value, str):
        return value
    parts = []
    for part in value:
        if part.get("type") == "image_url":
            parts.append(ContentPart(kind="image", url=str(part.get("image_url", {}).get("url", ""))))
        else:
            parts.append(ContentPart(kind="text", text=str(part.get("text", ""))))
    return tuple(parts)


def messages_from_wire(messages: Sequence[Any]) -> list[ChatMessage]:
    """Chat messages from their wire dicts; system messages are skipped (the agent adds its own).

    Raises:
        ValidationError: an entry is not a chat message.
    """
    restored: list[ChatMessage] = []
    for index, item in enumerate(messages):
        if not isinstance(item, dict) or item.get("role") not in (*_ROLES, "system"):
            raise ValidationError(
                f"history[{index}] is not a chat message {{role, content}}", details={"field": "history"}
            )
        if item["role"] == "system":
            continue
        calls = tuple(
            ToolCall(
                id=str(call.get("id", "")),
                name=str(call.get("function", {}).get("name", "")),
                arguments=str(call.get("function", {}).get("arguments", "")),
            )
            for call in item.get("tool_calls") or ()
        )
        restored.append(
            ChatMessage(
                role=item["role"],
                content=_content(item.get("content")),
                tool_calls=calls,
                tool_call_id=item.get("tool_call_id"),
                name=item.get("name"),
            )
        )
    return restored
