"""The chat-model interface and its typed records.

A :class:`ChatModel` speaks to one model of one provider. Records are frozen: requests
and responses can be shared, cached and logged without copies. Messages follow the
OpenAI chat shape because every supported wire format maps onto it.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .capabilities import Capabilities
    from .spec import ModelSpec

__all__ = [
    "ChatChunk",
    "ChatMessage",
    "ChatModel",
    "ChatRequest",
    "ChatResponse",
    "ContentPart",
    "FinishReason",
    "Role",
    "TokenUsage",
    "ToolCall",
    "ToolSpec",
]

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "unknown"]

_FINISH_REASONS: frozenset[str] = frozenset({"stop", "length", "tool_calls", "content_filter"})


def finish_reason_of(value: Any) -> FinishReason:
    """Normalise a provider's finish reason (``function_call`` counts as ``tool_calls``)."""
    if value == "function_call":
        return "tool_calls"
    if value in _FINISH_REASONS:
        return value  # type: ignore[no-any-return]
    return "unknown"


@dataclass(frozen=True, kw_only=True, slots=True)
class ContentPart:
    """One part of a multimodal message: text, or an image given by URL or ``data:`` URL."""

    kind: Literal["text", "image"]
    text: str = ""
    url: str = ""

    def to_wire(self) -> dict[str, Any]:
        """The OpenAI content-part shape."""
        if self.kind == "text":
            return {"type": "text", "text": self.text}
        return {"type": "image_url", "image_url": {"url": self.url}}


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolCall:
    """A complete tool call asked for by the model; ``arguments`` is the raw JSON text."""

    id: str
    name: str
    arguments: str

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a dict.

        Raises:
            ValueError: the model sent something that is not a JSON object.
        """
        if not self.arguments.strip():
            return {}
        value = json.loads(self.arguments)
        if not isinstance(value, dict):
            raise ValueError("tool arguments must be a JSON object")
        return value

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class ChatMessage:
    """One chat message. ``content`` is text, multimodal parts, or None (tool-call-only turns)."""

    role: Role
    content: str | tuple[ContentPart, ...] | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None

    def to_wire(self) -> dict[str, Any]:
        """The OpenAI chat-message shape."""
        message: dict[str, Any] = {"role": self.role}
        if isinstance(self.content, tuple):
            message["content"] = [part.to_wire() for part in self.content]
        else:
            message["content"] = self.content
        if self.tool_calls:
            message["tool_calls"] = [call.to_wire() for call in self.tool_calls]
        if self.tool_call_id is not None:
            message["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            message["name"] = self.name
        return message

    def text(self) -> str:
        """The text of the message (text parts joined)."""
        if isinstance(self.content, tuple):
            return "".join(part.text for part in self.content if part.kind == "text")
        return self.content or ""


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolSpec:
    """A tool offered to the model: name (``^[a-zA-Z0-9_-]+$``), description, JSON Schema."""

    name: str
    description: str
    parameters: Mapping[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": dict(self.parameters),
            },
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class TokenUsage:
    """Token counts of one model call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, kw_only=True, slots=True)
class ChatRequest:
    """One call to a chat model.

    ``deadline`` is a ``time.monotonic()`` value bounding the call and its retries;
    ``timeout_s`` bounds each HTTP attempt (default: the provider's).
    """

    messages: tuple[ChatMessage, ...]
    tools: tuple[ToolSpec, ...] = ()
    temperature: float | None = None
    max_tokens: int | None = None
    response_format: Mapping[str, Any] | None = None
    tool_choice: str | Mapping[str, Any] | None = None
    timeout_s: float | None = None
    deadline: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class ChatResponse:
    """A complete answer: text and/or tool calls, usage (None when the provider sent none)."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    usage: TokenUsage | None = None
    finish_reason: FinishReason = "stop"
    model: str = ""

    def message(self) -> ChatMessage:
        """The answer as an assistant message for the conversation."""
        return ChatMessage(role="assistant", content=self.text or None, tool_calls=self.tool_calls)


@dataclass(frozen=True, kw_only=True, slots=True)
class ChatChunk:
    """One streamed event: ``text`` (a delta) or ``done`` (the whole assembled response)."""

    kind: Literal["text", "done"]
    text: str = ""
    response: ChatResponse | None = None


class ChatModel(ABC):
    """A chat model of one provider.

    Implementations retry rate limits and transient failures within ``request.deadline``
    and translate their transport's errors into :class:`~llmspell.core.errors.ProviderError`
    (``details``: ``provider``, ``status``) or :class:`~llmspell.core.errors.Timeout`.
    """

    spec: ModelSpec

    @property
    @abstractmethod
    def capabilities(self) -> Capabilities:
        """What this model accepts (streaming, tools, vision, json_schema)."""

    @abstractmethod
    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Answer ``request`` in one piece.

        Raises:
            ProviderError: the provider failed or answered something unusable.
            Timeout: ``request.deadline`` passed.
        """

    @abstractmethod
    def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        """Answer ``request`` as text deltas, then one ``done`` chunk.

        Tool-call deltas are assembled and delivered complete in the ``done`` chunk's
        response, with the usage. Failures before the first chunk are retried; later
        ones raise. Raises as :meth:`complete`.
        """
