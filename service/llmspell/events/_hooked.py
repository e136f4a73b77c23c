"""Event hook points of a run's publishes (imported only when hooks are registered).

Component ``("event", <type>)``. BeforeEventEmit ``{type, data, correlation_id, source}``
(modified ``data`` = what is published; cancel = not published, ``CANCELLED`` to the
publisher); AfterEventEmit ``{type, data, id, sequence, correlation_id, source}`` (observes);
EventHandlerError ``{type, data, error}`` when the bus refuses the event (a subscription
with ``overflow="fail"`` is full, ``block`` timed out, Redis failed): retry = publish again
after ``delay_ms`` (at most ``max_attempts`` publishes), replace = drop the error (and the
event: the publisher gets None).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..core.errors import LLMSpellError
from ..hooks._fire import observe

if TYPE_CHECKING:
    from ..core.context import ExecutionContext
    from ..hooks.registry import HookRegistry
    from .abc import EventBus, UniversalEvent

__all__ = ["hooked_publish"]


async def hooked_publish(
    hooks: HookRegistry,
    ctx: ExecutionContext,
    bus: EventBus,
    event_type: str,
    data: Any,
    *,
    correlation_id: str,
    source: str,
    language: str,
) -> UniversalEvent | None:
    """Publish between the event hook points; None when an EventHandlerError hook dropped it.

    Raises:
        HookCancelled: a BeforeEventEmit hook cancelled the event.
        LLMSpellError: the bus refused the event and no hook recovered.
    """
    component = ("event", event_type)
    if hooks.chain("BeforeEventEmit"):
        before = {"type": event_type, "data": data, "correlation_id": correlation_id, "source": source}
        pre = await hooks.run("BeforeEventEmit", component, before, ctx)
        if isinstance(pre.data, dict):
            data = pre.data.get("data", data)
    attempt = 1
    while True:
        try:
            event = await bus.publish(
                event_type, data, correlation_id=correlation_id, source=source, language=language
            )
            break
        except LLMSpellError as exc:
            if not hooks.chain("EventHandlerError"):
                raise
            failed = {"type": event_type, "data": data, "error": exc.to_dict()}
            outcome = await hooks.run("EventHandlerError", component, failed, ctx, attempt=attempt)
            if outcome.kind == "replace":
                return None
            if outcome.kind == "retry" and attempt < outcome.max_attempts:
                if outcome.delay_ms > 0:
                    await asyncio.sleep(outcome.delay_ms / 1000.0)
                attempt += 1
                continue
            raise
    after = {
        "type": event.type,
        "data": event.data,
        "id": event.id,
        "sequence": event.sequence,
        "correlation_id": event.correlation_id,
        "source": event.source,
    }
    await observe(hooks, "AfterEventEmit", component, after, ctx)
    return event
