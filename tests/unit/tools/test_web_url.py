"""url-analyzer: parsing and normalisation, and header fetches from 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakes.web_servers import WebServer, loopback_context, running_web_server, web_registry
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import SandboxViolation, ValidationError
from llmspell.tools.builtin.web_url import normalize_url
from llmspell.tools.registry import ToolRegistry


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    with running_web_server() as server:
        yield server


@pytest.fixture
def ctx() -> ExecutionContext:
    return loopback_context()


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    return web_registry()


async def test_parse_parts(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    envelope = await registry.invoke(
        "url-analyzer",
        {"url": "HTTPS://user:pw@Docs.Example.CO.uk:443/a/./b/../report.PDF?q=1&q=2&utm_source=x&empty=#sec"},
        ctx,
    )
    assert envelope["success"] is True and envelope["operation"] == "analyze"
    info = envelope["result"]
    assert info["scheme"] == "https"
    assert info["host"] == "docs.example.co.uk"
    assert info["port"] == 443 and info["effective_port"] == 443
    assert info["path_segments"] == ["a", ".", "b", "..", "report.PDF"]
    assert info["file_extension"] == "pdf"
    assert info["query_params"] == {"q": ["1", "2"], "utm_source": ["x"], "empty": [""]}
    assert info["fragment"] == "sec"
    assert info["has_credentials"] is True and info["username"] == "user"
    assert info["is_ip"] is False and info["ip_kind"] is None
    assert info["tld"] == "uk"
    assert info["tracking_params"] == ["utm_source"]
    assert info["is_secure"] is True
    assert (
        info["normalized"]
        == "https://user:pw@docs.example.co.uk/a/report.PDF?q=1&q=2&utm_source=x&empty=#sec"
    )
    assert "fetch" not in info


async def test_normalisation_options(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    envelope = await registry.invoke(
        "url-analyzer",
        {
            "url": "http://Example.com:80/%7Euser/a%2fb?z=1&gclid=abc&a=2&utm_medium=m#frag",
            "sort_query": True,
            "strip_fragment": True,
            "strip_tracking": True,
        },
        ctx,
    )
    assert envelope["result"]["normalized"] == "http://example.com/~user/a%2Fb?a=2&z=1"


def test_normalize_url_cases() -> None:
    assert normalize_url("http://EXAMPLE.com") == "http://example.com/"
    assert normalize_url("https://example.com:8443/x/") == "https://example.com:8443/x/"
    assert normalize_url("http://bücher.example/ä") == "http://xn--bcher-kva.example/%C3%A4"
    assert normalize_url("http://[::1]:80/a/../b") == "http://[::1]/b"
    assert normalize_url("http://h/a%20b?x=%7e") == "http://h/a%20b?x=~"


async def test_ip_hosts_and_relative_urls(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    cases = {
        "http://10.1.2.3/": "private",
        "http://127.0.0.1:8080/": "loopback",
        "http://169.254.169.254/": "link_local",
        "http://[::1]/": "loopback",
        "http://8.8.8.8/": "public",
    }
    for url, kind in cases.items():
        info = (await registry.invoke("url-analyzer", {"url": url}, ctx))["result"]
        assert info["is_ip"] is True and info["ip_kind"] == kind, url
    rel = await registry.invoke(
        "url-analyzer", {"url": "../img/x.png?s=1", "base_url": "https://a.b/c/d/e"}, ctx
    )
    assert rel["result"]["url"] == "https://a.b/c/img/x.png?s=1"
    assert rel["result"]["subdomain"] is None


async def test_fetch_headers(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    envelope = await registry.invoke("url-analyzer", {"url": web.url("/page"), "fetch": True}, ctx)
    fetched = envelope["result"]["fetch"]
    assert envelope["operation"] == "fetch"
    assert fetched["status"] == 200
    assert fetched["content_type"] == "text/html; charset=utf-8"
    assert fetched["headers"]["x-test"] == "page"
    assert fetched["redirected"] is False
    moved = await registry.invoke(
        "url-analyzer", {"url": web.url("/redirect?to=/json"), "fetch": True, "method": "GET"}, ctx
    )
    assert moved["result"]["fetch"]["redirected"] is True
    assert moved["result"]["fetch"]["final_url"] == web.url("/json")
    assert moved["result"]["fetch"]["content_length"] > 0


async def test_schema_and_validation(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    with pytest.raises(ValidationError, match="url"):
        await registry.invoke("url-analyzer", {}, ctx)
    with pytest.raises(ValidationError, match="not absolute"):
        await registry.invoke("url-analyzer", {"url": "just/a/path"}, ctx)
    with pytest.raises(ValidationError, match="invalid URL"):
        await registry.invoke("url-analyzer", {"url": "http://host:99999/"}, ctx)
    with pytest.raises(ValidationError):
        await registry.invoke("url-analyzer", {"url": "http://x/", "method": "POST"}, ctx)
    with pytest.raises(ValidationError, match="fetch needs an http"):
        await registry.invoke("url-analyzer", {"url": "ftp://x/file", "fetch": True}, ctx)


async def test_sandbox_refusal_only_when_fetching(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    parsed = await registry.invoke("url-analyzer", {"url": "http://169.254.169.254/latest"}, ctx)
    assert parsed["success"] is True
    with pytest.raises(SandboxViolation):
        await registry.invoke("url-analyzer", {"url": "http://169.254.169.254/latest", "fetch": True}, ctx)
    with pytest.raises(SandboxViolation):
        await registry.invoke("url-analyzer", {"url": "http://10.0.0.1/", "fetch": True}, ctx)
