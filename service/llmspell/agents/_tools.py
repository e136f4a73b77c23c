"""Running the tool calls of one model answer and turning results into tool messages.

A tool failure is information for the model, not an exception: it goes back as an error
payload and the model decides what to do. Only cancellation and the run's own deadline
stop the loop.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from ..core.errors import Cancelled, LLMSpellError, Timeout
from ..core.types import ToolCallRecord
from ..providers.abc import ChatMessage, ToolCall

if TYPE_CHECKING:
    from ..core.context import ExecutionContext
    from .abc import ToolProvider

__all__ = ["run_tool_calls"]


def _failure(code: str, message: str) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message}}


def _for_model(envelope: dict[str, Any]) -> str:
    # Metadata and empty fields cost tokens and tell the model nothing.
    compact = {key: value for key, value in envelope.items() if value is not None and key != "metadata"}
    return json.dumps(compact, default=str, ensure_ascii=False)


def _record_result(envelope: dict[str, Any]) -> Any:
    if envelope.get("success"):
        return envelope.get("result")
    return {"error": envelope.get("error")}


async def _one(
    call: ToolCall, by_wire: dict[str, str], provider: ToolProvider | None, ctx: ExecutionContext
) -> tuple[ToolCallRecord, ChatMessage]:
    name = by_wire.get(call.name)
    arguments: dict[str, Any] = {}
    if name is None or provider is None:
        envelope = _failure(
            "NOT_FOUND", f"no tool named {call.name!r} is available; use one of {sorted(by_wire)}"
        )
    else:
        try:
            arguments = call.parsed_arguments()
        except ValueError as exc:
            envelope = _failure("VALIDATION", f"arguments must be a JSON object: {exc}")
        else:
            try:
                envelope = await provider.invoke_envelope(name, arguments, ctx)
            except (Cancelled, asyncio.CancelledError):
                raise
            except Timeout:
                ctx.check()
                envelope = _failure("TIMEOUT", f"tool {name!r} timed out")
            except LLMSpellError as exc:
                envelope = {"success": False, "error": exc.to_dict()}
            except Exception as exc:  # a tool's bug is still only information for the model
                envelope = _failure("TOOL_ERROR", f"tool {name!r} failed: {exc}")
    record = ToolCallRecord(name=name or call.name, arguments=arguments, result=_record_result(envelope))
    message = ChatMessage(role="tool", content=_for_model(envelope), tool_call_id=call.id)
    return record, message


async def run_tool_calls(
    calls: tuple[ToolCall, ...],
    by_wire: dict[str, str],
    provider: ToolProvider | None,
    ctx: ExecutionContext,
) -> list[tuple[ToolCallRecord, ChatMessage]]:
    """Run ``calls`` concurrently; results in the order of ``calls``.

    Raises:
        Cancelled: the run was cancelled.
        Timeout: the run's deadline passed.
    """
    if len(calls) == 1:
        return [await _one(calls[0], by_wire, provider, ctx)]
    return list(await asyncio.gather(*(_one(call, by_wire, provider, ctx) for call in calls)))
