"""webpage-monitor against a page on 127.0.0.1 whose content the test changes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.web_servers import WebServer, loopback_context, running_web_server, web_registry
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import SandboxViolation, ToolError, ValidationError
from llmspell.tools.registry import ToolRegistry


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    with running_web_server() as server:
        yield server


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path.resolve()


@pytest.fixture
def ctx(root: Path) -> ExecutionContext:
    return loopback_context(str(root))


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    return web_registry()


@pytest.fixture
def page(web: WebServer) -> str:
    """A fresh path per test, so the in-process store starts empty for it."""
    path = f"/watched-{uuid.uuid4().hex}"
    web.set_page(path, "<html><body><h1>News</h1><p id='a'>one</p><p id='b'>two</p></body></html>")
    return path


async def check(
    registry: ToolRegistry, ctx: ExecutionContext, url: str, **params: object
) -> dict[str, object]:
    envelope = await registry.invoke("webpage-monitor", {"url": url, **params}, ctx)
    assert envelope["success"] is True
    result: dict[str, object] = envelope["result"]
    return result


async def test_first_unchanged_changed_in_memory(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer, page: str
) -> None:
    url = web.url(page)
    first = await check(registry, ctx, url)
    assert first["state"] == "first" and first["first_check"] is True and first["changed"] is False
    same = await check(registry, ctx, url)
    assert same["state"] == "unchanged" and same["previous_hash"] == first["content_hash"]
    web.set_page(
        page, "<html><body><h1>News</h1><p id='a'>one</p><p id='b'>TWO!</p><p>three</p></body></html>"
    )
    changed = await check(registry, ctx, url)
    assert changed["state"] == "changed" and changed["changed"] is True
    assert changed["added_lines"] == 2 and changed["removed_lines"] == 1
    diff = str(changed["diff"])
    assert "-two" in diff and "+TWO!" in diff and "+three" in diff
    assert diff.startswith(f"--- {url} (previous)\n+++ {url} (current)")
    assert changed["previous_checked_at"] == same["checked_at"]


async def test_selector_ignores_changes_elsewhere(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer, page: str
) -> None:
    url = web.url(page)
    await check(registry, ctx, url, selector="#a")
    web.set_page(page, "<html><body><h1>Other</h1><p id='a'>one</p><p id='b'>changed</p></body></html>")
    assert (await check(registry, ctx, url, selector="#a"))["state"] == "unchanged"
    web.set_page(page, "<html><body><p id='a'>uno</p></body></html>")
    html_mode = await check(registry, ctx, url, selector="#a", mode="html")
    assert html_mode["state"] == "first"  # another mode is another snapshot
    result = await check(registry, ctx, url, selector="#a")
    assert result["state"] == "changed" and "+uno" in str(result["diff"])


async def test_ignore_whitespace_and_reset(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer, page: str
) -> None:
    url = web.url(page)
    await check(registry, ctx, url, mode="raw", ignore_whitespace=True)
    web.set_page(page, "<html><body>  <h1>News</h1>\n\n<p id='a'>one</p> <p id='b'>two</p></body></html>")
    assert (await check(registry, ctx, url, mode="raw", ignore_whitespace=True))["state"] == "unchanged"
    assert (await check(registry, ctx, url, mode="raw", reset=True, ignore_whitespace=True))[
        "state"
    ] == "first"


async def test_file_store_survives_the_process_store(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer, page: str, root: Path
) -> None:
    url = web.url(page)
    envelope = await registry.invoke("webpage-monitor", {"url": url, "store": "file"}, ctx)
    state_file = Path(envelope["metadata"]["state_file"])
    assert state_file.parent == root / ".llmspell" / "webpage-monitor"
    saved = json.loads(state_file.read_text())
    assert saved["url"] == url and saved["hash"] == envelope["result"]["content_hash"]
    # A different registry (fresh tool instances) sees the snapshot through the file.
    web.set_page(page, "<p>replaced</p>")
    other = web_registry()
    again = await other.invoke("webpage-monitor", {"url": url, "store": "file"}, ctx)
    assert again["result"]["state"] == "changed"
    custom = await check(registry, ctx, url, state_path="monitors/one.json")  # implies store="file"
    assert custom["state"] == "first" and (root / "monitors" / "one.json").is_file()
    (root / "monitors" / "one.json").write_text("{not json")
    with pytest.raises(ToolError, match="reset=true"):
        await registry.invoke(
            "webpage-monitor", {"url": url, "store": "file", "state_path": "monitors/one.json"}, ctx
        )
    fixed = await check(registry, ctx, url, store="file", state_path="monitors/one.json", reset=True)
    assert fixed["state"] == "first"


async def test_http_errors_are_failures(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer
) -> None:
    with pytest.raises(ToolError, match="HTTP 404"):
        await registry.invoke("webpage-monitor", {"url": web.url("/missing")}, ctx)


async def test_schema_violations(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    with pytest.raises(ValidationError, match="url"):
        await registry.invoke("webpage-monitor", {}, ctx)
    with pytest.raises(ValidationError):
        await registry.invoke("webpage-monitor", {"url": web.url("/page"), "store": "redis"}, ctx)
    with pytest.raises(ValidationError):
        await registry.invoke("webpage-monitor", {"url": web.url("/page"), "context_lines": -1}, ctx)
    with pytest.raises(ValidationError, match="state_path needs store='file'"):
        await registry.invoke(
            "webpage-monitor", {"url": web.url("/page"), "store": "memory", "state_path": "x.json"}, ctx
        )


async def test_sandbox_refusals(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer, root: Path
) -> None:
    with pytest.raises(SandboxViolation):
        await registry.invoke("webpage-monitor", {"url": "http://10.0.0.1/status"}, ctx)
    with pytest.raises(SandboxViolation, match="outside the sandbox"):
        await registry.invoke(
            "webpage-monitor", {"url": web.url("/page"), "store": "file", "state_path": "../escape.json"}, ctx
        )
    with pytest.raises(SandboxViolation, match="no sandbox file roots"):
        await registry.invoke(
            "webpage-monitor", {"url": web.url("/page"), "store": "file"}, loopback_context()
        )
    assert not (root.parent / "escape.json").exists()
