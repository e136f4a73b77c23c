"""Content and message records shared by agents, providers and tools."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["AgentInput", "AgentOutput", "MediaContent", "MediaKind", "ToolCallRecord", "Usage"]

MediaKind = Literal["text", "image", "audio", "video", "binary"]


@dataclass(frozen=True, kw_only=True, slots=True)
class MediaContent:
    """One piece of content with its MIME type.

    Text lives in ``text``; everything else in ``data`` (raw bytes) or at ``url``.
    """

    kind: MediaKind
    mime_type: str = "text/plain"
    text: str | None = None
    data: bytes | None = None
    url: str | None = None

    @classmethod
    def of_text(cls, text: str) -> MediaContent:
        """Plain text content."""
        return cls(kind="text", mime_type="text/plain", text=text)

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> MediaContent:
        """Build from a script table ``{type|kind, mime_type, text|data(base64)|url|path}``."""
        kind = str(value.get("kind") or value.get("type") or "binary")
        if kind not in ("text", "image", "audio", "video", "binary"):
            from .errors import ValidationError

            raise ValidationError(f"unknown media kind {kind!r}", details={"field": "kind"})
        raw = value.get("data")
        data = base64.b64decode(raw) if isinstance(raw, str) else raw
        default_mime = {"text": "text/plain", "image": "image/png"}.get(kind, "application/octet-stream")
        return cls(
            kind=kind,  # type: ignore[arg-type]
            mime_type=str(value.get("mime_type") or default_mime),
            text=value.get("text"),
            data=data,
            url=value.get("url"),
        )

    def data_url(self) -> str:
        """``data:`` URL of binary content (or ``url`` when the content is remote)."""
        if self.url:
            return self.url
        payload = base64.b64encode(self.data or b"").decode("ascii")
        return f"data:{self.mime_type};base64,{payload}"


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentInput:
    """What an agent is asked: text, optional media and free parameters."""

    text: str
    media: tuple[MediaContent, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True, slots=True)
class Usage:
    """Token usage of one or more LLM calls."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens

    def to_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolCallRecord:
    """A tool call an agent made and what it returned."""

    name: str
    arguments: dict[str, Any]
    result: Any

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments, "result": self.result}


@dataclass(kw_only=True, slots=True)
class AgentOutput:
    """An agent's answer, with the tool calls it made on the way."""

    text: str
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    cost: float | None = None
    model: str = ""
    finish_reason: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "tool_calls": [call.to_dict() for call in self.tool_calls],
            "usage": self.usage.to_dict(),
            "cost": self.cost,
            "model": self.model,
            "finish_reason": self.finish_reason,
            "metadata": self.metadata,
        }
