"""file-watcher: snapshot diffs, and real changes made while the tool watches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from llmspell.core.context import ExecutionContext, SandboxPolicy
from llmspell.core.errors import SandboxViolation, ValidationError
from llmspell.tools.builtin.filesystem_watch import FileWatcherTool, diff_snapshots, snapshot
from llmspell.tools.registry import ToolRegistry


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path.resolve()


@pytest.fixture
def ctx(root: Path) -> ExecutionContext:
    return ExecutionContext(policy=SandboxPolicy(file_roots=(str(root),)))


@pytest.fixture
def registry() -> ToolRegistry:
    reg = ToolRegistry()
    reg.register(FileWatcherTool())
    return reg


async def watch_while(
    registry: ToolRegistry, ctx: ExecutionContext, params: dict[str, Any], change: Callable[[int], object]
) -> dict[str, Any]:
    """Run the watcher and keep making changes until it reports (bounded by a deadline)."""
    task = asyncio.create_task(registry.invoke("file-watcher", params, ctx))
    deadline = time.monotonic() + 5
    step = 0
    while not task.done() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        change(step)
        step += 1
    envelope = await task
    assert envelope["success"] is True
    result: dict[str, Any] = envelope["result"]
    return result


def test_snapshot_and_diff(root: Path) -> None:
    (root / "keep.txt").write_text("a")
    (root / "gone.txt").write_text("b")
    (root / "sub").mkdir()
    before = snapshot(root, recursive=True)
    assert set(before) == {"keep.txt", "gone.txt", "sub/"}
    (root / "keep.txt").write_text("changed")
    (root / "gone.txt").unlink()
    (root / "sub" / "new.txt").write_text("c")
    events = diff_snapshots(before, snapshot(root, recursive=True))
    assert events == [
        {"type": "created", "path": "sub/new.txt"},
        {"type": "deleted", "path": "gone.txt"},
        {"type": "modified", "path": "keep.txt"},
    ]
    assert set(snapshot(root, recursive=False)) == {"keep.txt", "sub/"}


async def test_reports_created_file(registry: ToolRegistry, ctx: ExecutionContext, root: Path) -> None:
    result = await watch_while(
        registry,
        ctx,
        {"path": ".", "timeout_s": 5, "poll_interval_ms": 20},
        lambda i: (root / f"f{i}.txt").touch(),
    )
    assert result["events"] and all(e["type"] == "created" for e in result["events"])
    assert result["events"][0]["path"].startswith("f")
    assert result["elapsed_ms"] < 5000


async def test_reports_modified_and_deleted(
    registry: ToolRegistry, ctx: ExecutionContext, root: Path
) -> None:
    target = root / "log.txt"
    target.write_text("")
    result = await watch_while(
        registry, ctx, {"path": "log.txt", "poll_interval_ms": 20}, lambda i: target.write_text("x" * (i + 1))
    )
    assert result["events"][0] == {"type": "modified", "path": "log.txt"}

    for i in range(300):
        (root / f"d{i:03}").write_text("x")
    result = await watch_while(
        registry, ctx, {"path": ".", "poll_interval_ms": 20}, lambda i: (root / f"d{i:03}").unlink()
    )
    assert result["events"][0]["type"] == "deleted"


async def test_times_out_quietly(registry: ToolRegistry, ctx: ExecutionContext, root: Path) -> None:
    started = time.monotonic()
    envelope = await registry.invoke("file-watcher", {"path": ".", "timeout_s": 0.2}, ctx)
    assert envelope["result"]["events"] == []
    assert 0.2 <= time.monotonic() - started < 2


async def test_refusals(registry: ToolRegistry, ctx: ExecutionContext, tmp_path: Path) -> None:
    with pytest.raises(SandboxViolation):
        await registry.invoke("file-watcher", {"path": str(tmp_path)}, ctx)
    with pytest.raises(ValidationError, match="timeout_s"):
        await registry.invoke("file-watcher", {"path": ".", "timeout_s": 10_000}, ctx)
    with pytest.raises(ValidationError, match="path"):
        await registry.invoke("file-watcher", {"timeout_s": 1}, ctx)
