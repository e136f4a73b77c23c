"""``State``: scoped, persistent key/value state for scripts.

The run's persistence services come from ``env.services`` (or ``ctx.services``): a daemon
passes its ``"persistence"`` (or its ``"store"``) and, when that belongs to another event
loop, that loop as ``"store_loop"`` (calls are then handed over to it). Without either, the first
call opens the configured database (the embedded SQLite file by default), migrating it
if needed, and the run closes it when it ends.

Reads and writes carry the run's context, so the state hook points (BeforeStateRead...,
StateMigration) fire on the run's hooks, the script's own ``Hook.register`` ones included
(those run on the script's loop even when the store's loop makes the call).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from ...core.aio import on_loop
from ...core.context import ExecutionContext
from ...core.errors import ValidationError
from .surface import ApiNamespace, ScriptEnv

if TYPE_CHECKING:
    from ...sessions.manager import Persistence

__all__ = ["adopt_services", "build", "on_persistence", "resolve_scope"]

T = TypeVar("T")


async def _open(env: ScriptEnv) -> Persistence:
    from ...sessions.manager import open_persistence

    settings = env.settings()
    store = env.services.get("store")
    if store is None:
        from ...storage import migrate, open_store

        url = settings.resolved_database_url()
        if url.startswith("sqlite"):
            settings.resolved_data_dir().mkdir(parents=True, exist_ok=True)
        store = open_store(url)
        await store.open()
        env.on_close(store.aclose)
        current, head = await store.migration_status()
        if current != head:
            await migrate.upgrade(url)
    # No cache per run, but writes are published so that caching replicas drop stale entries.
    persistence = open_persistence(store, settings, cache=False)
    env.on_close(persistence.aclose)
    env.services["persistence"] = persistence
    return persistence


async def on_persistence(env: ScriptEnv, work: Callable[[Persistence], Coroutine[Any, Any, T]]) -> T:
    """Run ``work(persistence)`` on the loop that owns the run's persistence services."""
    persistence: Persistence | None = env.services.get("persistence")
    if persistence is None:
        lock: asyncio.Lock = env.service("persistence_lock", asyncio.Lock)
        async with lock:
            persistence = env.services.get("persistence") or await _open(env)
    return await on_loop(env.services.get("store_loop"), work(persistence))


def adopt_services(env: ScriptEnv, ctx: ExecutionContext) -> None:
    """Take the daemon's persistence handles from ``ctx.services`` when ``env`` has none."""
    given = getattr(ctx, "services", None) or {}
    for key in ("persistence", "store", "store_loop"):
        if key in given and key not in env.services:
            env.services[key] = given[key]


def resolve_scope(scope: Any, ctx: ExecutionContext) -> str:
    """``"session"`` alone means the run's current session (``session:<id>``)."""
    if scope == "session":
        if ctx.session_id is None:
            raise ValidationError(
                'scope "session" needs a current session: Session.set_current(id) or start the run '
                "with a session id"
            )
        return f"session:{ctx.session_id}"
    if not isinstance(scope, str):
        raise ValidationError('state scope must be a string such as "global" or "user:42"')
    return scope


def _options(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError("options must be a table {ttl=, expected_version=}")
    unknown = set(value) - {"ttl", "ttl_s", "expected_version"}
    if unknown:
        raise ValidationError(f"unknown state option {sorted(unknown)[0]!r}; use ttl or expected_version")
    return value


def _entry_view(record: Any) -> dict[str, Any]:
    return {
        "scope": record.scope,
        "key": record.key,
        "value": record.value,
        "version": record.version,
        "schema_version": record.schema_version,
        "size": record.size,
        "expires_at": record.expires_at.isoformat() if record.expires_at else None,
        "updated_at": record.updated_at.isoformat(),
    }


def build(env: ScriptEnv, ctx: ExecutionContext) -> list[ApiNamespace]:
    adopt_services(env, ctx)

    def call(work: Callable[[Persistence], Coroutine[Any, Any, T]]) -> Awaitable[T]:
        return on_persistence(env, work)

    async def save(scope: Any, key: Any, value: Any = None, options: Any = None) -> int:
        opts = _options(options)
        name = resolve_scope(scope, ctx)
        record = await call(
            lambda p: p.state.set(
                name,
                key,
                value,
                expected_version=opts.get("expected_version"),
                ttl_s=opts.get("ttl", opts.get("ttl_s")),
                ctx=ctx,
            )
        )
        return record.version

    async def load(scope: Any, key: Any, default: Any = None) -> Any:
        name = resolve_scope(scope, ctx)
        return await call(lambda p: p.state.get(name, key, default, ctx=ctx))

    async def entry(scope: Any, key: Any) -> dict[str, Any] | None:
        name = resolve_scope(scope, ctx)
        record = await call(lambda p: p.state.get_entry(name, key, ctx=ctx))
        return None if record is None else _entry_view(record)

    async def delete(scope: Any, key: Any, options: Any = None) -> bool:
        opts = _options(options)
        name = resolve_scope(scope, ctx)
        return await call(lambda p: p.state.delete(name, key, expected_version=opts.get("expected_version")))

    async def list_keys(scope: Any, prefix: Any = None) -> list[str]:
        name = resolve_scope(scope, ctx)
        return await call(lambda p: p.state.list_keys(name, None if prefix is None else str(prefix)))

    async def update(operations: Any) -> list[int | None]:
        if isinstance(operations, dict) and not operations:
            operations = []
        if not isinstance(operations, list):
            raise ValidationError("State.update expects an array of {scope=, key=, value=} operations")
        ops = []
        for op in operations:
            if not isinstance(op, dict):
                raise ValidationError("each State.update operation must be a table {scope=, key=, value=}")
            fixed = {**op, "scope": resolve_scope(op.get("scope"), ctx)}
            if "ttl" in fixed:
                fixed["ttl_s"] = fixed.pop("ttl")
            ops.append(fixed)
        records = await call(lambda p: p.state.update_many(ops))
        return [None if record is None else record.version for record in records]

    async def clear(scope: Any) -> int:
        name = resolve_scope(scope, ctx)
        return await call(lambda p: p.state.clear_scope(name))

    ns = ApiNamespace(name="State")
    ns.add(save, "save", "set")
    ns.add(load, "load", "get")
    ns.add(entry, "entry")
    ns.add(delete, "delete", "remove")
    ns.add(list_keys, "list_keys", "keys", "list")
    ns.add(update, "update", "transaction")
    ns.add(clear, "clear", "clear_scope")
    return [ns]
