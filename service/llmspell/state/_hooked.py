"""State hook points (imported only when hooks are registered; see docs/hooks.md).

Component ``("state", <scope>)``. BeforeStateRead ``{scope, key}`` (replace = the value);
AfterStateRead ``{scope, key, value}`` (modified value); BeforeStateWrite ``{scope, key,
value}`` (modified value, cancel); AfterStateWrite ``{scope, key, value, version}``;
StateConflict ``{scope, key, expected, actual}`` (retry = write again over the current
version, at most ``max_attempts`` writes; replace = answer that entry's current record);
StateMigration ``{scope, key, from_version, to_version, old_value, value}`` (modified value =
what is written; cancel = no upgrade, ``CANCELLED`` to the reader).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.errors import Conflict

if TYPE_CHECKING:
    from ..core.context import ExecutionContext
    from ..hooks.registry import HookRegistry
    from ..storage.records import StateRecord
    from .manager import StateManager

__all__ = ["hooked_get", "hooked_migration", "hooked_set", "migration_data"]


def migration_data(record: StateRecord, value: Any, version: int) -> dict[str, Any]:
    """The StateMigration data of upgrading ``record`` to ``value`` at schema ``version``."""
    return {
        "scope": record.scope,
        "key": record.key,
        "from_version": record.schema_version,
        "to_version": version,
        "old_value": record.value,
        "value": value,
    }


async def hooked_migration(
    hooks: HookRegistry, record: StateRecord, value: Any, version: int, ctx: ExecutionContext | None
) -> Any:
    """The value to write for an upgrade of ``record`` (``modified`` changes it).

    Raises:
        HookCancelled: a hook refused the upgrade.
    """
    if not hooks.chain("StateMigration"):
        return value
    data = migration_data(record, value, version)
    outcome = await hooks.run("StateMigration", ("state", record.scope), data, ctx)
    if isinstance(outcome.data, dict):
        return outcome.data.get("value", value)
    return value


async def hooked_get(
    manager: StateManager,
    hooks: HookRegistry,
    scope: str,
    key: str,
    default: Any,
    ctx: ExecutionContext | None,
) -> Any:
    component = ("state", scope)
    if hooks.chain("BeforeStateRead"):
        pre = await hooks.run("BeforeStateRead", component, {"scope": scope, "key": key}, ctx)
        if pre.kind == "replace":
            return pre.result
    record = await manager.get_entry(scope, key, ctx=ctx)
    value = default if record is None else record.value
    if hooks.chain("AfterStateRead"):
        post = await hooks.run("AfterStateRead", component, {"scope": scope, "key": key, "value": value}, ctx)
        if post.kind == "modified" and isinstance(post.data, dict):
            return post.data.get("value")
        if post.kind == "replace":
            return post.result
    return value


async def hooked_set(
    manager: StateManager,
    hooks: HookRegistry,
    scope: str,
    key: str,
    value: Any,
    expected_version: int | None,
    ttl_s: float | None,
    ctx: ExecutionContext | None,
) -> StateRecord:
    component = ("state", scope)
    if hooks.chain("BeforeStateWrite"):
        pre = await hooks.run(
            "BeforeStateWrite", component, {"scope": scope, "key": key, "value": value}, ctx
        )
        if isinstance(pre.data, dict):
            value = pre.data.get("value", value)
    attempt = 1
    while True:
        try:
            record = await manager.put(scope, key, value, expected_version=expected_version, ttl_s=ttl_s)
            break
        except Conflict:
            if not hooks.chain("StateConflict"):
                raise
            current = await manager.store.state.get(scope, key)
            actual = current.version if current is not None else 0
            data = {"scope": scope, "key": key, "expected": expected_version, "actual": actual}
            outcome = await hooks.run("StateConflict", component, data, ctx, attempt=attempt)
            if outcome.kind == "replace" and current is not None:
                return current
            if outcome.kind == "retry" and attempt < outcome.max_attempts:
                expected_version, attempt = actual, attempt + 1
                continue
            raise
    if hooks.chain("AfterStateWrite"):
        data = {"scope": scope, "key": key, "value": value, "version": record.version}
        await hooks.run("AfterStateWrite", component, data, ctx)
    return record
