"""file-watcher: report created/modified/deleted entries under a path during a bounded wait.

Polling with ``os.scandir``/``stat`` keeps it dependency-free and identical on every
platform; a snapshot is ``{relative path: (mtime_ns, size, inode)}``.
"""

from __future__ import annotations

import asyncio
import stat
import time
from pathlib import Path
from typing import Any

from llmspell.core.context import ExecutionContext
from llmspell.core.errors import LimitExceeded
from llmspell.tools.base import BaseTool, ToolOutput
from llmspell.tools.builtin.filesystem import walk
from llmspell.tools.sandbox import resolve_path

__all__ = ["FileWatcherTool", "diff_snapshots", "snapshot"]

Snapshot = dict[str, tuple[int, int, int]]

_MAX_WATCH_ENTRIES = 20_000
_MAX_WAIT_S = 300.0


def snapshot(target: Path, *, recursive: bool, limit: int = _MAX_WATCH_ENTRIES) -> Snapshot:
    """The state of ``target`` (a file or a directory tree), keyed by relative path."""
    if not target.exists():
        return {}
    if not target.is_dir() or target.is_symlink():
        st = target.lstat()
        return {target.name: (st.st_mtime_ns, st.st_size, st.st_ino)}
    state: Snapshot = {}
    for path, st in walk(target, recursive=recursive, include_hidden=True):
        if len(state) >= limit:
            raise LimitExceeded(f"watched path has more than {limit} entries; watch a narrower path")
        key = path.relative_to(target).as_posix() + ("/" if stat.S_ISDIR(st.st_mode) else "")
        state[key] = (st.st_mtime_ns, st.st_size, st.st_ino)
    return state


def diff_snapshots(before: Snapshot, after: Snapshot) -> list[dict[str, str]]:
    """Events turning ``before`` into ``after``, sorted by path within each kind."""
    events = [{"type": "created", "path": p} for p in sorted(after.keys() - before.keys())]
    events += [{"type": "deleted", "path": p} for p in sorted(before.keys() - after.keys())]
    events += [
        {"type": "modified", "path": p}
        for p in sorted(before.keys() & after.keys())
        # A directory's mtime changes whenever a child does; the child's own event says it.
        if before[p] != after[p] and not p.endswith("/")
    ]
    return events


class FileWatcherTool(BaseTool):
    """Watch a file or directory for a bounded time and return what changed."""

    name = "file-watcher"
    category = "filesystem"
    description = (
        "Watch a file or directory for up to timeout_s seconds and return created, modified and "
        "deleted events (stops at the first change unless wait_full is true)."
    )
    security_level = "restricted"
    timeout_s = _MAX_WAIT_S + 10.0
    schema = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "minLength": 1, "description": "File or directory to watch."},
            "timeout_s": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": _MAX_WAIT_S,
                "default": 5,
                "description": "How long to watch.",
            },
            "recursive": {"type": "boolean", "default": True},
            "wait_full": {
                "type": "boolean",
                "default": False,
                "description": "Keep watching until timeout_s instead of returning at the first change.",
            },
            "poll_interval_ms": {"type": "integer", "minimum": 20, "maximum": 10_000, "default": 100},
            "max_events": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 1000},
        },
        "required": ["path"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        target = resolve_path(params["path"], ctx.policy)
        recursive: bool = params.get("recursive", True)
        wait = float(params.get("timeout_s", 5))
        remaining = ctx.remaining()
        if remaining is not None:
            wait = min(wait, remaining)
        interval = params.get("poll_interval_ms", 100) / 1000
        cap: int = params.get("max_events", 1000)
        started = time.monotonic()
        deadline = started + wait
        current = await asyncio.to_thread(snapshot, target, recursive=recursive)
        events: list[dict[str, str]] = []
        while True:
            if ctx.cancel_token.cancelled:
                ctx.check()
            now = time.monotonic()
            if now >= deadline:
                break
            await asyncio.sleep(min(interval, deadline - now))
            latest = await asyncio.to_thread(snapshot, target, recursive=recursive)
            events.extend(diff_snapshots(current, latest))
            current = latest
            if len(events) >= cap or (events and not params.get("wait_full", False)):
                break
        truncated = len(events) > cap
        events = events[:cap]
        elapsed_ms = round((time.monotonic() - started) * 1000)
        return ToolOutput(
            operation="watch",
            result={
                "events": events,
                "count": len(events),
                "truncated": truncated,
                "elapsed_ms": elapsed_ms,
                "exists": target.exists(),
            },
            message=f"{len(events)} events in {elapsed_ms} ms",
        )
