"""State, Session and Artifact globals from Lua, on every backend, as the CLI runs them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from llmspell.core.config import Settings, load_settings
from llmspell.core.context import ExecutionContext
from llmspell.runtime.runner import RunOutcome, execute_script


@pytest.fixture
def settings(store_url: str, tmp_path: Path) -> Settings:
    return load_settings(database_url=store_url, data_dir=str(tmp_path / "data"))


async def run(source: str, settings: Settings, *, session_id: str | None = None) -> RunOutcome:
    outcome = await execute_script(
        source, settings_loader=lambda: settings, ctx=ExecutionContext(session_id=session_id)
    )
    return outcome


def ok(outcome: RunOutcome) -> Any:
    assert outcome.error is None, outcome.error
    return outcome.result


async def test_state_survives_runs_and_isolates_scopes(settings: Settings) -> None:
    ok(
        await run(
            """
            State.save("global", "counter", 1)
            State.set("user:alice", "prefs", {theme = "dark", sizes = {1, 2}})
            State.save("user:bob", "prefs", {theme = "light"})
            """,
            settings,
        )
    )
    result = ok(
        await run(
            """
            local prefs = State.load("user:alice", "prefs")
            return {
              counter = State.get("global", "counter"),
              theme = prefs.theme, second = prefs.sizes[2],
              bob = State.load("user:bob", "prefs").theme,
              missing = State.load("user:carol", "prefs"),
              keys = State.list_keys("user:alice"),
              deleted = State.delete("user:alice", "prefs"),
              after = State.load("user:alice", "prefs"),
            }
            """,
            settings,
        )
    )
    assert result == {
        "counter": 1,
        "theme": "dark",
        "second": 2,
        "bob": "light",
        "keys": ["prefs"],
        "deleted": True,
    }


async def test_state_versions_conflicts_and_atomic_updates(settings: Settings) -> None:
    result = ok(
        await run(
            """
            local v1 = State.save("custom:c", "k", "a")
            local ok1, err = pcall(State.save, "custom:c", "k", "b", {expected_version = v1 + 1})
            local v2 = State.save("custom:c", "k", "b", {expected_version = v1})
            local ok2, err2 = pcall(State.update, {
              {scope = "custom:c", key = "x", value = 1},
              {scope = "custom:c", key = "k", value = "c", expected_version = 99},
            })
            local versions = State.update({
              {scope = "custom:c", key = "x", value = 1},
              {scope = "custom:c", key = "k", delete = true},
            })
            local ok3, err3 = pcall(State.save, "bogus", "k", 1)
            return {v1 = v1, v2 = v2, ok1 = ok1, code = err.code, ok2 = ok2, code2 = err2.code,
                    x = versions[1], entry = State.entry("custom:c", "x").version,
                    k = State.load("custom:c", "k"), code3 = err3.code}
            """,
            settings,
        )
    )
    assert result == {
        "v1": 1,
        "v2": 2,
        "ok1": False,
        "code": "CONFLICT",
        "ok2": False,
        "code2": "CONFLICT",
        "x": 1,
        "entry": 1,
        "code3": "VALIDATION",
    }


async def test_sessions_artifacts_and_current_session(settings: Settings) -> None:
    made = ok(
        await run(
            """
            local id = Session.create{name = "research", description = "d", tags = {"a", "b"}}
            Session.set_current(id)
            State.save("session", "note", "hello")
            local first = Artifact.store(nil, "text", "report.md", "# v1", {author = "me"})
            local second = Artifact.store(id, "text", "report.md", "# v2")
            local same = Artifact.store(id, "text", "copy.md", "# v1")
            local json = Artifact.store(id, "data", "data.json", {n = 1})
            return {id = id, current = Session.get_current(), first = first, second = second,
                    same = same, json = json}
            """,
            settings,
        )
    )
    sid = made["id"]
    assert made["current"] == sid
    assert (made["first"]["version"], made["second"]["version"]) == (1, 2)
    assert made["same"]["content_hash"] == made["first"]["content_hash"]
    assert made["first"]["media_type"] == "text/markdown" and made["json"]["media_type"] == "application/json"

    result = ok(
        await run(
            """
            local latest = Artifact.get(nil, "report.md")
            local old = Artifact.get(nil, "report.md", 1)
            local byid = Artifact.get(nil, latest.id)
            local listed = Artifact.list()
            local s = Session.get()
            local suspended = Session.suspend(s.id).status
            local resumed = Session.resume(s.id).status
            local done = Session.complete(s.id).status
            local okr, err = pcall(Session.resume, s.id)
            return {latest = latest.content, old = old.content, meta = old.metadata.author,
                    byid = byid.version, count = #listed, note = State.load("session", "note"),
                    json = Artifact.get(nil, "data.json").content.n, missing = Artifact.get(nil, "nope"),
                    status = {suspended, resumed, done}, resume_code = err.code,
                    tagged = #Session.list{tags = {"a"}}, untagged = #Session.list{tags = {"zzz"}},
                    completed = #Session.list{status = "completed"}}
            """,
            settings,
            session_id=sid,
        )
    )
    assert result == {
        "latest": "# v2",
        "old": "# v1",
        "meta": "me",
        "byid": 2,
        "count": 4,
        "note": "hello",
        "json": 1,
        "status": ["suspended", "active", "completed"],
        "resume_code": "VALIDATION",
        "tagged": 1,
        "untagged": 0,
        "completed": 1,
    }

    gone = ok(
        await run(
            f"""
            local n = Artifact.delete("{sid}", "report.md")
            Session.delete("{sid}")
            return {{n = n, after = Session.get("{sid}"), current = Session.get_current()}}
            """,
            settings,
            session_id=sid,
        )
    )
    assert gone == {"n": 2}


async def test_errors_without_a_session(settings: Settings) -> None:
    outcome = await run('return Artifact.store(nil, "text", "a.txt", "x")', settings)
    assert outcome.error is not None and outcome.error.code == "VALIDATION"
    assert "no current session" in outcome.error.message
    missing = await run('return Artifact.store("nope", "text", "a.txt", "x")', settings)
    assert missing.error is not None and missing.error.code == "NOT_FOUND"
    scope = await run('return State.load("session", "k")', settings)
    assert scope.error is not None and "needs a current session" in scope.error.message


async def test_a_scripts_own_session_hooks_fire_on_its_session_calls(settings: Settings) -> None:
    # SCRIPT-API.md: registered hooks fire on the calls made by the same script, and
    # SessionStart/SessionEnd are among the points.
    result = ok(
        await run(
            """
            local seen = {}
            Hook.register("SessionStart", function(ctx)
              seen[#seen + 1] = "start " .. ctx.data.name
              return {action = "modified", data = {session_id = ctx.data.session_id,
                name = ctx.data.name, metadata = {by = "hook"}}}
            end)
            Hook.register("SessionEnd", function(ctx)
              seen[#seen + 1] = "end " .. ctx.data.status
            end)
            Hook.register("SessionSave", function(ctx) seen[#seen + 1] = "save" end)
            Hook.register("SessionRestore", function(ctx) seen[#seen + 1] = "restore" end)
            local id = Session.create({name = "hooked"})
            Session.suspend(id)
            Session.resume(id)
            Session.complete(id)
            return {seen = seen, metadata = Session.get(id).metadata}
            """,
            settings,
        )
    )
    assert result == {
        "seen": ["start hooked", "save", "restore", "end completed"],
        "metadata": {"by": "hook"},
    }


async def test_a_scripts_session_start_hook_can_cancel(settings: Settings) -> None:
    outcome = await run(
        """
        Hook.register("SessionStart", function() return {action = "cancel", reason = "no sessions"} end)
        return Session.create({name = "refused"})
        """,
        settings,
    )
    assert outcome.error is not None and outcome.error.code == "CANCELLED"
    assert "no sessions" in outcome.error.message
