"""The OpenAI chat-completions wire format: request bodies, answers, stream chunks.

Shared by the direct httpx path and the litellm adapter (litellm's objects are dumped to
the same dict shape), so tool-call and usage normalisation live in one place.
"""

from __future__ import annotations

import time
from typing import Any

from ..core.errors import ProviderError, Timeout
from .abc import ChatRequest, ChatResponse, FinishReason, TokenUsage, ToolCall, finish_reason_of

__all__ = ["StreamAssembler", "parse_completion", "request_body"]


def request_body(model: str, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    """The JSON body of a chat-completions call."""
    body: dict[str, Any] = {"model": model, "messages": [message.to_wire() for message in request.messages]}
    if request.tools:
        body["tools"] = [tool.to_wire() for tool in request.tools]
        if request.tool_choice is not None:
            body["tool_choice"] = request.tool_choice
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    if request.response_format is not None:
        body["response_format"] = dict(request.response_format)
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    body.update(request.extra)
    return body


def _usage(value: Any) -> TokenUsage | None:
    if not isinstance(value, dict):
        return None
    return TokenUsage(
        prompt_tokens=int(value.get("prompt_tokens") or 0),
        completion_tokens=int(value.get("completion_tokens") or 0),
    )


def parse_completion(data: Any, provider: str) -> ChatResponse:
    """A :class:`ChatResponse` from a chat-completions answer.

    Raises:
        ProviderError: the answer has no choices or is not the expected shape.
    """
    try:
        choice = data["choices"][0]
        message = choice["message"]
        calls = tuple(
            ToolCall(
                id=str(call.get("id") or f"call_{index}"),
                name=str(call["function"]["name"]),
                arguments=str(call["function"].get("arguments") or ""),
            )
            for index, call in enumerate(message.get("tool_calls") or ())
        )
        text = message.get("content") or ""
        if not isinstance(text, str):
            text = "".join(str(part.get("text", "")) for part in text if isinstance(part, dict))
        return ChatResponse(
            text=text,
            tool_calls=calls,
            usage=_usage(data.get("usage")),
            finish_reason=finish_reason_of(
                choice.get("finish_reason") or ("tool_calls" if calls else "stop")
            ),
            model=str(data.get("model") or ""),
        )
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ProviderError(
            f"{provider} sent an answer without a usable choice: {str(data)[:200]}",
            details={"provider": provider, "retryable": False},
        ) from exc


class StreamAssembler:
    """Collects stream chunks: text deltas out, tool-call fragments assembled by index."""

    __slots__ = ("_calls", "_finish", "_model", "_provider", "_text", "_usage")

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._text: list[str] = []
        self._calls: dict[int, dict[str, Any]] = {}
        self._finish: FinishReason | None = None
        self._usage: TokenUsage | None = None
        self._model = ""

    def check_deadline(self, deadline: float | None) -> None:
        """Raise ``Timeout`` once ``deadline`` (``time.monotonic()`` seconds) has passed."""
        if deadline is not None and time.monotonic() >= deadline:
            raise Timeout(
                f"deadline reached while {self._provider} was streaming", details={"provider": self._provider}
            )

    def feed(self, chunk: dict[str, Any]) -> str:
        """Take one chunk; returns its text delta ("" if none).

        Raises:
            ProviderError: the chunk is an error object.
        """
        if chunk.get("error"):
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else str(error)
            raise ProviderError(
                f"{self._provider} failed mid-stream: {message}",
                details={"provider": self._provider, "retryable": False},
            )
        self._model = chunk.get("model") or self._model
        usage = _usage(chunk.get("usage"))
        if usage is not None:
            self._usage = usage
        text = ""
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if content:
                text += content
            for fragment in delta.get("tool_calls") or ():
                self._add_call(fragment)
            if choice.get("finish_reason"):
                self._finish = finish_reason_of(choice["finish_reason"])
        if text:
            self._text.append(text)
        return text

    def _add_call(self, fragment: dict[str, Any]) -> None:
        index = int(fragment.get("index") or 0)
        call = self._calls.setdefault(index, {"id": "", "name": "", "arguments": []})
        if fragment.get("id"):
            call["id"] = fragment["id"]
        function = fragment.get("function") or {}
        if function.get("name"):
            call["name"] = function["name"]
        if function.get("arguments"):
            call["arguments"].append(function["arguments"])

    def response(self) -> ChatResponse:
        """The complete answer once the stream has ended."""
        calls = tuple(
            ToolCall(
                id=call["id"] or f"call_{index}", name=call["name"], arguments="".join(call["arguments"])
            )
            for index, call in sorted(self._calls.items())
        )
        finish = self._finish or ("tool_calls" if calls else "stop")
        return ChatResponse(
            text="".join(self._text),
            tool_calls=calls,
            usage=self._usage,
            finish_reason=finish,
            model=self._model,
        )
