"""Hook points on stored things: StateMigration, a script's own hooks on its State calls (also
when the store belongs to another loop, as in the daemon), stored agents deleted or replaced."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.llm_server import FakeLLMServer
from llmspell.core.config import ProviderConfig, Settings, load_settings
from llmspell.core.context import ExecutionContext, Limits
from llmspell.hooks import HookCancelled, HookContext, HookRegistry, HookResult, process_hooks
from llmspell.runtime.runner import execute_script
from llmspell.state import SchemaMigrations, StateManager, migrate_store
from llmspell.storage import open_store
from llmspell.storage.abc import Store


@pytest.fixture(autouse=True)
def clean_process_hooks() -> Iterator[None]:
    process_hooks().clear()
    yield
    process_hooks().clear()


def upgrade_counts(value: Any) -> Any:
    return {"count": value}


async def old_values(store: Store) -> StateManager:
    """Three values written at schema 1, and a manager whose migrations upgrade ``custom:*/n``."""
    writer = StateManager(store, migrations=SchemaMigrations())
    for scope, value in (("custom:a", 1), ("custom:b", 2), ("custom:c", 3)):
        await writer.set(scope, "n", value)
    migrations = SchemaMigrations()
    migrations.register("custom:*", "n", 1, upgrade_counts)
    return StateManager(store, migrations=migrations)


async def test_state_migration_on_read(store: Store) -> None:
    reader = await old_values(store)
    registry = HookRegistry()
    seen: list[dict[str, Any]] = []
    registry.register("StateMigration", lambda c: seen.append(dict(c.data)))
    registry.register(
        "StateMigration",
        lambda c: (
            HookResult.cancel("not this one")
            if c.data["scope"] == "custom:b"
            else HookResult.modified({**c.data, "value": {**c.data["value"], "by": "hook"}})
        ),
    )
    ctx = ExecutionContext()
    ctx.services["hooks"] = registry
    assert await reader.get("custom:a", "n", ctx=ctx) == {"count": 1, "by": "hook"}
    assert seen == [
        {
            "scope": "custom:a",
            "key": "n",
            "from_version": 1,
            "to_version": 2,
            "old_value": 1,
            "value": {"count": 1},
        }
    ]
    stored = await store.state.get("custom:a", "n")
    assert stored is not None and stored.schema_version == 2 and stored.value == {"count": 1, "by": "hook"}
    with pytest.raises(HookCancelled, match="not this one"):
        await reader.get("custom:b", "n", ctx=ctx)
    untouched = await store.state.get("custom:b", "n")
    assert untouched is not None and untouched.schema_version == 1 and untouched.value == 2
    # Without a ctx the process hooks decide; none here, so the plain upgrade happens.
    assert await reader.get("custom:b", "n") == {"count": 2}


async def test_state_migration_in_bulk(store: Store) -> None:
    reader = await old_values(store)
    process_hooks().register(
        "StateMigration",
        lambda c: HookResult.cancel("keep") if c.data["scope"] == "custom:c" else None,
    )
    process_hooks().register(
        "StateMigration", lambda c: HookResult.modified({**c.data, "value": [c.data["old_value"]]})
    )
    report = await migrate_store(store, reader.migrations)
    assert (report.scanned, report.upgraded, report.cancelled) == (3, 2, 1)
    assert report.to_dict()["cancelled"] == 1
    values = {scope: await store.state.get(scope, "n") for scope in ("custom:a", "custom:b", "custom:c")}
    assert {scope: (r.value, r.schema_version) for scope, r in values.items() if r is not None} == {
        "custom:a": ([1], 2),
        "custom:b": ([2], 2),
        "custom:c": (3, 1),
    }


SCRIPT = """
local seen = {}
Hook.register("BeforeStateWrite", function(ctx)
  seen[#seen + 1] = "write " .. ctx.data.key
  if ctx.data.key == "locked" then return {action = "cancel", reason = "read-only key"} end
  return {action = "modified", data = {scope = ctx.data.scope, key = ctx.data.key, value = ctx.data.value * 2}}
end)
Hook.register("AfterStateRead", function(ctx)
  seen[#seen + 1] = "read " .. ctx.data.key
  return {action = "modified", data = {scope = ctx.data.scope, key = ctx.data.key, value = ctx.data.value + 1}}
end)
State.set("global", "n", 20)
local ok, err = pcall(State.set, "global", "locked", 1)
return {n = State.get("global", "n"), stored = State.entry("global", "n").value, code = err.code, ok = ok,
        seen = seen}
"""

EXPECTED = {
    "n": 41,
    "stored": 40,
    "code": "CANCELLED",
    "ok": False,
    "seen": ["write n", "write locked", "read n"],
}


async def test_script_hooks_see_the_scripts_state_calls(store_url: str, tmp_path: Path) -> None:
    settings = load_settings(database_url=store_url, data_dir=str(tmp_path / "data"))
    outcome = await execute_script(
        SCRIPT, settings_loader=lambda: settings, ctx=ExecutionContext(limits=Limits(timeout_s=20))
    )
    assert outcome.error is None, outcome.error
    assert outcome.result == EXPECTED


async def test_script_hooks_run_on_the_script_loop_when_the_store_is_elsewhere(
    store_url: str,
) -> None:
    """As in the daemon: persistence lives on another thread's loop; the hooks still run in the script."""
    from llmspell.sessions.manager import open_persistence

    owner = asyncio.new_event_loop()
    thread = threading.Thread(target=owner.run_forever, daemon=True)
    thread.start()

    async def open_there() -> tuple[Any, Any]:
        store = open_store(store_url)
        await store.open()
        return store, open_persistence(store, Settings(), cache=False, redis=False)

    store, persistence = asyncio.run_coroutine_threadsafe(open_there(), owner).result(10)
    threads: list[int] = []
    registry = HookRegistry(parent=process_hooks())
    registry.register("BeforeStateWrite", lambda c: threads.append(threading.get_ident()))
    try:
        ctx = ExecutionContext(limits=Limits(timeout_s=20))
        ctx.services.update(persistence=persistence, store=store, store_loop=owner, hooks=registry)
        outcome = await execute_script(SCRIPT, ctx=ctx)
        assert outcome.error is None, outcome.error
        assert outcome.result == EXPECTED
        # Python hooks run where the state call runs: on the store's loop.
        assert threads and set(threads) == {thread.ident}
    finally:
        asyncio.run_coroutine_threadsafe(store.aclose(), owner).result(10)
        owner.call_soon_threadsafe(owner.stop)
        thread.join(10)
        owner.close()


async def test_agents_a_daemon_request_built_are_shut_down(store: Store, fake_llm: FakeLLMServer) -> None:
    from llmspell.runtime.definitions import AgentService

    settings = Settings(
        providers={
            "fake": ProviderConfig(type="openai", base_url=fake_llm.base_url, api_key="sk", max_retries=0)
        }
    )
    service = AgentService(store, settings)
    await service.create({"name": "echo", "model": "fake/gpt-4o-mini"})
    seen: list[tuple[str, str, str]] = []
    process_hooks().register(
        "AfterAgentShutdown", lambda c: seen.append((c.data["agent"], c.data["reason"], c.data["state"]))
    )
    assert (await service.execute("echo", "hi"))["text"] == "Echo: hi"
    assert seen == [("echo", "request_end", "terminated")]


async def test_stored_agents_deleted_or_replaced_fire_shutdown(store: Store) -> None:
    from llmspell.runtime.definitions import AgentService

    service = AgentService(store, Settings())
    seen: list[tuple[str, str, str]] = []

    def record(ctx: HookContext) -> HookResult | None:
        seen.append((ctx.point, ctx.data["agent"], ctx.data["reason"]))
        if ctx.point == "BeforeAgentShutdown" and ctx.data["agent"] == "pinned":
            return HookResult.cancel("pinned agents stay")
        return None

    process_hooks().register("BeforeAgentShutdown", record)
    process_hooks().register("AfterAgentShutdown", record)
    await service.create({"name": "helper", "model": "openai/gpt-4o-mini"})
    assert seen == []  # a new agent replaces nothing
    replaced = await service.create({"name": "helper", "model": "openai/gpt-4o", "description": "v2"})
    assert replaced["version"] == 2
    await service.create({"name": "pinned", "model": "openai/gpt-4o-mini"})
    with pytest.raises(HookCancelled, match="pinned agents stay"):
        await service.delete("pinned")
    assert (await service.get("pinned"))["name"] == "pinned"
    await service.delete("helper")
    assert seen == [
        ("BeforeAgentShutdown", "helper", "replaced"),
        ("AfterAgentShutdown", "helper", "replaced"),
        ("BeforeAgentShutdown", "pinned", "deleted"),
        ("BeforeAgentShutdown", "helper", "deleted"),
        ("AfterAgentShutdown", "helper", "deleted"),
    ]
