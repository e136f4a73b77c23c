"""Hook points wired into workflows, state and sessions: they fire, and results change behaviour."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llmspell.core.config import Settings
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import Conflict
from llmspell.hooks import HookCancelled, HookContext, HookRegistry, HookResult, process_hooks
from llmspell.sessions.manager import open_persistence
from llmspell.storage.abc import Store
from llmspell.workflows import LocalHost, workflow_from_definition


@pytest.fixture(autouse=True)
def clean_process_hooks() -> Iterator[None]:
    process_hooks().clear()
    yield
    process_hooks().clear()


def run_ctx(registry: HookRegistry) -> ExecutionContext:
    ctx = ExecutionContext()
    ctx.services["hooks"] = registry
    return ctx


def two_steps() -> Any:
    return workflow_from_definition(
        {
            "type": "sequential",
            "name": "pipe",
            "steps": [
                {"name": "first", "fn": lambda c: "one"},
                {"name": "second", "fn": lambda c: "two"},
            ],
        }
    )


async def test_workflow_points_fire_and_act() -> None:
    registry = HookRegistry(parent=process_hooks())
    seen: list[tuple[str, Any]] = []

    def record(ctx: HookContext) -> None:
        seen.append((ctx.point, ctx.data.get("step") or ctx.data.get("to")))

    for point in (
        "BeforeWorkflowStart",
        "BeforeWorkflowStage",
        "WorkflowStageTransition",
        "AfterWorkflowComplete",
    ):
        registry.register(point, record)
    registry.register(
        "AfterWorkflowStage",
        lambda c: HookResult.modified({**c.data, "result": "TWO"}) if c.data["step"] == "second" else None,
    )
    result = await two_steps().execute("in", run_ctx(registry), host=LocalHost())
    assert result["success"] and result["output"] == "TWO" and result["outputs"]["first"] == "one"
    assert seen == [
        ("BeforeWorkflowStart", None),
        ("BeforeWorkflowStage", "first"),
        ("WorkflowStageTransition", "second"),
        ("BeforeWorkflowStage", "second"),
        ("AfterWorkflowComplete", None),
    ]


async def test_workflow_cancel_replace_and_error_recovery() -> None:
    registry = HookRegistry()
    registry.register(
        "BeforeWorkflowStage",
        lambda c: HookResult.cancel("no second") if c.data["step"] == "second" else None,
    )
    result = await two_steps().execute(None, run_ctx(registry), host=LocalHost())
    assert not result["success"]
    assert result["errors"][0]["step"] == "second" and result["errors"][0]["code"] == "CANCELLED"

    replaced = HookRegistry()
    replaced.register("BeforeWorkflowStart", lambda c: HookResult.replace("cached answer"))
    assert (await two_steps().execute(None, run_ctx(replaced), host=LocalHost()))["output"] == "cached answer"

    calls: list[int] = []

    def flaky(ctx: dict[str, Any]) -> str:
        calls.append(1)
        if len(calls) < 3:
            from llmspell.core.errors import ToolError

            raise ToolError("transient")
        return "finally"

    wf = workflow_from_definition({"type": "sequential", "name": "f", "steps": [{"name": "s", "fn": flaky}]})
    recovering = HookRegistry()
    recovering.register("WorkflowError", lambda c: HookResult.retry(delay_ms=1, max_attempts=3))
    result = await wf.execute(None, run_ctx(recovering), host=LocalHost())
    assert result["success"] and result["output"] == "finally" and len(calls) == 3


async def test_state_points(store: Store) -> None:
    persistence = open_persistence(store, Settings(), cache=False, redis=False)
    state = persistence.state
    registry = HookRegistry()
    writes: list[dict[str, Any]] = []
    registry.register(
        "BeforeStateWrite",
        lambda c: HookResult.cancel("read-only scope") if c.data["scope"] == "global" else None,
    )
    registry.register(
        "BeforeStateWrite", lambda c: HookResult.modified({**c.data, "value": c.data["value"] * 10})
    )
    registry.register("AfterStateWrite", lambda c: writes.append(dict(c.data)))
    registry.register(
        "AfterStateRead", lambda c: HookResult.modified({**c.data, "value": ("seen", c.data["value"])})
    )
    ctx = run_ctx(registry)
    record = await state.set("user:a", "n", 4, ctx=ctx)
    assert record.value == 40 and writes == [{"scope": "user:a", "key": "n", "value": 40, "version": 1}]
    assert await state.get("user:a", "n", ctx=ctx) == ("seen", 40)
    assert await state.get("user:a", "n") == 40  # no hooks without the run's context
    with pytest.raises(HookCancelled, match="read-only scope"):
        await state.set("global", "x", 1, ctx=ctx)
    assert await state.get("global", "x") is None

    conflicts = HookRegistry()
    conflicts.register("StateConflict", lambda c: HookResult.retry(max_attempts=2))
    with pytest.raises(Conflict):
        await state.set("user:a", "n", 5, expected_version=0)
    again = await state.set("user:a", "n", 5, expected_version=0, ctx=run_ctx(conflicts))
    assert again.version == 2 and again.value == 5

    reads = HookRegistry()
    reads.register("BeforeStateRead", lambda c: HookResult.replace("from hook"))
    assert await state.get("user:a", "missing", ctx=run_ctx(reads)) == "from hook"


async def test_session_points(store: Store, tmp_path: Path) -> None:
    persistence = open_persistence(store, Settings(data_dir=str(tmp_path)), cache=False, redis=False)
    sessions = persistence.sessions
    seen: list[str] = []
    process_hooks().register(
        "SessionStart", lambda c: HookResult.modified({**c.data, "metadata": {"by": "hook"}})
    )
    for point in ("SessionEnd", "SessionSave", "SessionCheckpoint"):
        process_hooks().register(point, lambda c: seen.append(f"{c.point}:{c.data.get('status', '')}"))
    process_hooks().register("SessionRestore", lambda c: HookResult.cancel("sessions stay suspended"))
    session = await sessions.create("s", metadata={"by": "caller"})
    assert session.metadata == {"by": "hook"}
    await sessions.suspend(session.id)
    with pytest.raises(HookCancelled, match="stay suspended"):
        await sessions.resume(session.id)
    assert (await sessions.get(session.id)).status == "suspended"
    await sessions.export(session.id)
    await sessions.complete(session.id)
    assert seen == ["SessionSave:suspended", "SessionCheckpoint:", "SessionEnd:completed"]
    process_hooks().register("SessionStart", lambda c: HookResult.cancel("no new sessions"))
    with pytest.raises(HookCancelled):
        await sessions.create("t")
