"""Conversation plumbing: user messages from ``AgentInput``, tool naming, history trimming."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..core.errors import ValidationError
from ..providers.abc import ChatMessage, ContentPart, ToolSpec

if TYPE_CHECKING:
    from ..core.types import AgentInput
    from ..providers.capabilities import Capabilities
    from .abc import ToolProvider

__all__ = ["offered_tools", "trim_history", "user_message"]

_WIRE_NAME = re.compile(r"[^a-zA-Z0-9_-]")
_EMPTY_SCHEMA = {"type": "object", "properties": {}}


def user_message(request: AgentInput, capabilities: Capabilities, model_label: str) -> ChatMessage:
    """The user turn for ``request``: plain text, or text and image parts.

    Raises:
        ValidationError: images for a model without vision, or media kinds no chat
            model accepts (audio, video, binary).
    """
    if not request.media:
        return ChatMessage(role="user", content=request.text)
    parts: list[ContentPart] = [ContentPart(kind="text", text=request.text)] if request.text else []
    for media in request.media:
        if media.kind == "text":
            parts.append(ContentPart(kind="text", text=media.text or ""))
        elif media.kind == "image":
            if not capabilities.vision:
                raise ValidationError(
                    f"model {model_label!r} does not accept images: use a vision model "
                    "(e.g. openai/gpt-4o-mini) or send text only",
                    details={"field": "media", "model": model_label},
                )
            if not media.url and not media.data:
                raise ValidationError("image media needs data or url", details={"field": "media"})
            parts.append(ContentPart(kind="image", url=media.data_url()))
        else:
            raise ValidationError(
                f"agents accept text and image media, not {media.kind!r}",
                details={"field": "media", "kind": media.kind},
            )
    return ChatMessage(role="user", content=tuple(parts))


def offered_tools(
    names: Sequence[str], provider: ToolProvider
) -> tuple[tuple[ToolSpec, ...], dict[str, str]]:
    """Tool specs for the model and the map from wire name back to registry name.

    Wire names must match ``^[a-zA-Z0-9_-]+$`` (max 64 characters): other characters
    become ``_`` and clashes get a numeric suffix.

    Raises:
        NotFound: a listed tool does not exist.
    """
    specs: list[ToolSpec] = []
    by_wire: dict[str, str] = {}
    for name in names:
        tool = provider.get(name)
        base = _WIRE_NAME.sub("_", tool.name)[:60] or "tool"
        wire, n = base, 1
        while wire in by_wire:
            n += 1
            wire = f"{base}_{n}"
        by_wire[wire] = tool.name
        schema = dict(tool.schema) if tool.schema else dict(_EMPTY_SCHEMA)
        specs.append(ToolSpec(name=wire, description=tool.description or tool.name, parameters=schema))
    return tuple(specs), by_wire


def trim_history(history: list[ChatMessage], limit: int | None) -> list[ChatMessage]:
    """Keep at most ``limit`` messages, cutting only at a user turn.

    Cutting elsewhere would orphan tool results from the assistant message that asked
    for them, which providers reject. The newest turn is kept whole even when it alone
    is longer than ``limit``.
    """
    if limit is None or len(history) <= limit:
        return history
    starts = [i for i, message in enumerate(history) if message.role == "user"]
    earliest = len(history) - limit
    cut = next((i for i in starts if i >= earliest), starts[-1] if starts else 0)
    return history[cut:]
