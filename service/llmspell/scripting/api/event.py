"""``Event``: publish and subscribe on the event bus from scripts.

The bus is the host's (``ctx.services["event_bus"]``, e.g. the daemon's) or the process
bus, which is Redis-backed when ``LLMSPELL_REDIS_URL`` is set — so scripts of different
runs, and on different replicas, see each other's events. A run's subscriptions close
when the run ends. ``Event.publish`` goes through :func:`~llmspell.events.bus.emit`, so the
run's BeforeEventEmit/AfterEventEmit/EventHandlerError hooks see it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...core.context import ExecutionContext
from ...core.errors import NotFound, ValidationError
from .surface import ApiNamespace, ScriptEnv

if TYPE_CHECKING:
    from ...events.abc import EventBus, Subscription

__all__ = ["build", "run_bus"]

_DEFAULT_RECEIVE_MS = 1000.0


def run_bus(env: ScriptEnv, ctx: ExecutionContext) -> EventBus:
    """The bus of the run (installed in ``ctx.services`` so components publish on it)."""
    bus: EventBus | None = ctx.services.get("event_bus")
    if bus is None:
        from ...events.bus import process_bus

        bus = process_bus(getattr(env.settings(), "redis_url", None))
        ctx.services["event_bus"] = bus
    return bus


def build(env: ScriptEnv, ctx: ExecutionContext) -> list[ApiNamespace]:
    subs: dict[str, Subscription] = {}

    async def close_all() -> None:
        for sub in list(subs.values()):
            await sub.aclose()
        subs.clear()

    async def publish(event_type: Any, data: Any = None, options: Any = None) -> str | None:
        if not isinstance(event_type, str) or not event_type:
            raise ValidationError(
                "Event.publish needs an event type such as 'order.created'", details={"field": "type"}
            )
        options = options if isinstance(options, dict) else {}
        from ...events.bus import emit

        event = await emit(
            ctx,
            run_bus(env, ctx),
            event_type,
            data,
            correlation_id=str(options.get("correlation_id") or ctx.correlation_id),
            source=str(options.get("source") or env.script_name),
            language="lua",
        )
        return None if event is None else event.id

    async def subscribe(pattern: Any, options: Any = None) -> str:
        if not isinstance(pattern, str):
            raise ValidationError(
                "Event.subscribe needs a glob pattern such as 'tool.*'", details={"field": "pattern"}
            )
        options = options if isinstance(options, dict) else {}
        if not subs:
            env.on_close(close_all)
        sub = await run_bus(env, ctx).subscribe(
            pattern,
            group=options.get("group"),
            capacity=options.get("capacity"),
            overflow=options.get("overflow"),
        )
        key = f"{ctx.run_id[:8]}-{sub.id}"
        subs[key] = sub
        return key

    def _sub(sub_id: Any) -> Subscription:
        sub = subs.get(str(sub_id))
        if sub is None:
            raise NotFound.named("subscription", str(sub_id))
        return sub

    async def receive(sub_id: Any, timeout_ms: Any = None) -> dict[str, Any] | None:
        sub = _sub(sub_id)
        if timeout_ms is None:
            timeout_ms = _DEFAULT_RECEIVE_MS
        if not isinstance(timeout_ms, int | float) or isinstance(timeout_ms, bool) or timeout_ms < 0:
            raise ValidationError("timeout_ms must be a non-negative number", details={"field": "timeout_ms"})
        event = await sub.receive(float(timeout_ms) / 1000.0)
        return None if event is None else event.to_dict()

    async def unsubscribe(sub_id: Any) -> bool:
        sub = subs.pop(str(sub_id), None)
        if sub is None:
            return False
        await sub.aclose()
        return True

    def list_subs() -> list[dict[str, Any]]:
        return [{**sub.stats, "id": key} for key, sub in subs.items()]

    ns = ApiNamespace(name="Event")
    ns.add(publish, "publish", "emit")
    ns.add(subscribe, "subscribe")
    ns.add(receive, "receive")
    ns.add(unsubscribe, "unsubscribe")
    ns.add(list_subs, "list")
    return [ns]
