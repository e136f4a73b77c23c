"""The webpage-monitor tool: fetch a page and diff it against the previous fetch.

The previous snapshot lives either in an in-process store keyed by URL (default; bounded,
least recently used entries dropped) or, with ``store="file"``, in a JSON state file under
the sandbox's first file root (``.llmspell/webpage-monitor/<hash>.json`` unless
``state_path`` names another file), so a later run or another process sees it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llmspell.core.context import ExecutionContext
from llmspell.core.errors import ToolError, ValidationError
from llmspell.tools.base import BaseTool, ToolOutput
from llmspell.tools.builtin.web_common import (
    HEADERS_SCHEMA,
    TIMEOUT_SCHEMA,
    charset_of,
    fetch,
    lower_headers,
    request_timeout,
    require_http_url,
)

__all__ = ["MemorySnapshots", "WebpageMonitorTool", "page_content"]

_STATE_DIR = ".llmspell/webpage-monitor"


class MemorySnapshots:
    """A bounded, thread-safe LRU map of snapshot key → snapshot dict."""

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: str, snapshot: dict[str, Any]) -> None:
        with self._lock:
            self._items[key] = snapshot
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def delete(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)


_MEMORY = MemorySnapshots()


def page_content(html: str, *, mode: str, selector: str | None) -> str:
    """The part of the page that is compared (blocking: run in a worker thread).

    ``mode="text"`` compares the readable text, ``"html"`` the markup; ``selector`` narrows
    either to the elements a CSS selector matches.
    """
    if mode == "raw" and selector is None:
        return html
    from llmspell.tools.builtin.web_scrape import clean_text, scrape_html, select_values

    if selector is None:
        return str(scrape_html(html, extract=("text",))["text"])
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    parts = select_values(soup, {"selector": selector, "html": mode != "text"}, None)
    return clean_text("\n".join(parts)) if mode == "text" else "\n".join(parts)


def _diff(old: str, new: str, *, context: int, label: str, max_lines: int) -> tuple[str, int, int, bool]:
    import difflib

    lines = list(
        difflib.unified_diff(
            old.splitlines(),
            new.splitlines(),
            f"{label} (previous)",
            f"{label} (current)",
            n=context,
            lineterm="",
        )
    )
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    truncated = len(lines) > max_lines
    return "\n".join(lines[:max_lines]), added, removed, truncated


class WebpageMonitorTool(BaseTool):
    """Report whether a page changed since the last check, with a unified diff."""

    name = "webpage-monitor"
    category = "web"
    description = (
        "Fetch a page, compare its text (or HTML, or a CSS-selected part) with the previous "
        "fetch of the same URL and report first/changed/unchanged with a unified diff. "
        "Snapshots are kept in memory or in a state file under the sandbox root."
    )
    security_level = "restricted"
    timeout_s = 60.0
    schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "minLength": 1},
            "selector": {"type": "string", "minLength": 1, "description": "Only watch this CSS selection."},
            "mode": {"type": "string", "enum": ["text", "html", "raw"], "default": "text"},
            "store": {
                "type": "string",
                "enum": ["memory", "file"],
                "description": "Where the previous snapshot is kept (default memory; file with state_path).",
            },
            "state_path": {"type": "string", "minLength": 1, "description": "State file (store='file')."},
            "ignore_whitespace": {
                "type": "boolean",
                "default": False,
                "description": "Compare with all whitespace removed (like diff -w).",
            },
            "context_lines": {"type": "integer", "minimum": 0, "maximum": 50, "default": 3},
            "max_diff_lines": {"type": "integer", "minimum": 1, "default": 500},
            "reset": {"type": "boolean", "default": False, "description": "Forget the previous snapshot."},
            "headers": HEADERS_SCHEMA,
            "timeout_s": TIMEOUT_SCHEMA,
            "max_bytes": {"type": "integer", "minimum": 1},
        },
        "required": ["url"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        url = require_http_url(params["url"])
        mode = params.get("mode", "text")
        selector = params.get("selector")
        key = hashlib.sha256(json.dumps([url, selector, mode]).encode()).hexdigest()
        store = params.get("store") or ("file" if params.get("state_path") else "memory")
        if store == "memory" and params.get("state_path"):
            raise ValidationError("state_path needs store='file'", details={"field": "state_path"})
        state_file = self._state_file(params, key, ctx) if store == "file" else None
        if params.get("reset"):
            await self._forget(key, state_file)
        result = await fetch(
            ctx,
            "GET",
            url,
            timeout_s=request_timeout(params.get("timeout_s"), 30.0, ctx),
            headers=params.get("headers"),
            max_bytes=params.get("max_bytes"),
        )
        if result.status >= 400:
            raise ToolError(f"GET {url} answered HTTP {result.status}", details={"status": result.status})
        html = result.content.decode(charset_of(lower_headers(result.headers).get("content-type")), "replace")
        content = await self.run_blocking(lambda: page_content(html, mode=mode, selector=selector))
        compared = "".join(content.split()) if params.get("ignore_whitespace") else content
        digest = hashlib.sha256(compared.encode()).hexdigest()
        now = datetime.now(UTC).isoformat()
        previous = await self._load(key, state_file)
        snapshot = {"url": url, "hash": digest, "content": content, "checked_at": now}
        out: dict[str, Any] = {
            "url": url,
            "final_url": result.url,
            "status": result.status,
            "content_hash": digest,
            "checked_at": now,
            "content_length": len(content),
            "previous_hash": None,
            "previous_checked_at": None,
            "diff": "",
            "added_lines": 0,
            "removed_lines": 0,
            "diff_truncated": False,
        }
        if previous is None:
            out.update(state="first", changed=False, first_check=True)
        else:
            changed = previous["hash"] != digest
            out.update(
                state="changed" if changed else "unchanged",
                changed=changed,
                first_check=False,
                previous_hash=previous["hash"],
                previous_checked_at=previous["checked_at"],
            )
            if changed:
                diff, added, removed, truncated = _diff(
                    str(previous["content"]),
                    content,
                    context=int(params.get("context_lines", 3)),
                    label=url,
                    max_lines=int(params.get("max_diff_lines", 500)),
                )
                out.update(diff=diff, added_lines=added, removed_lines=removed, diff_truncated=truncated)
        await self._save(key, state_file, snapshot, ctx)
        return ToolOutput(
            operation="check",
            result=out,
            message=f"{url}: {out['state']}",
            metadata={"store": "file" if state_file else "memory", "state_file": state_file},
        )

    @staticmethod
    def _state_file(params: dict[str, Any], key: str, ctx: ExecutionContext) -> str:
        from llmspell.tools.sandbox import resolve_path

        path = params.get("state_path") or f"{_STATE_DIR}/{key[:32]}.json"
        return str(resolve_path(path, ctx.policy, for_write=True))

    async def _load(self, key: str, state_file: str | None) -> dict[str, Any] | None:
        if state_file is None:
            return _MEMORY.get(key)

        def read() -> dict[str, Any] | None:
            try:
                with open(state_file, encoding="utf-8") as handle:
                    data = json.load(handle)
            except FileNotFoundError:
                return None
            except (OSError, ValueError) as exc:
                raise ToolError(
                    f"cannot read monitor state {state_file}: {exc}; pass reset=true to start over"
                ) from exc
            return data if isinstance(data, dict) and "hash" in data and "content" in data else None

        return await self.run_blocking(read)

    async def _save(
        self, key: str, state_file: str | None, snapshot: dict[str, Any], ctx: ExecutionContext
    ) -> None:
        if state_file is None:
            _MEMORY.put(key, snapshot)
            return
        from llmspell.tools.builtin.filesystem import atomic_write
        from llmspell.tools.sandbox import check_size

        data = json.dumps(snapshot, ensure_ascii=False).encode()
        check_size(len(data), ctx.policy)

        def write() -> None:
            path = Path(state_file)
            os.makedirs(path.parent, exist_ok=True)
            atomic_write(path, data)

        await self.run_blocking(write)

    async def _forget(self, key: str, state_file: str | None) -> None:
        if state_file is None:
            _MEMORY.delete(key)
            return

        def remove() -> None:
            with contextlib.suppress(FileNotFoundError):
                os.remove(state_file)

        await self.run_blocking(remove)
