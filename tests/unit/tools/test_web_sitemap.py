"""sitemap-crawler against robots.txt and sitemaps served on 127.0.0.1."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pytest
from fakes.web_servers import WebServer, loopback_context, running_web_server, web_registry
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import SandboxViolation, ToolError, ValidationError
from llmspell.tools.builtin.web_sitemap import parse_sitemap
from llmspell.tools.registry import ToolRegistry


@pytest.fixture
def web() -> Iterator[WebServer]:
    with running_web_server() as server:
        yield server


@pytest.fixture
def ctx() -> ExecutionContext:
    return loopback_context()


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    return web_registry()


async def test_crawl_from_site_root(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    envelope = await registry.invoke("sitemap-crawler", {"url": web.url("/")}, ctx)
    assert envelope["success"] is True
    result = envelope["result"]
    urls = [u["url"] for u in result["urls"]]
    assert urls == [web.url("/page"), web.url("/about")] + [web.url(f"/blog/{i}") for i in range(1, 6)]
    assert result["urls"][0]["lastmod"] == "2026-01-01"
    assert result["sitemaps"] == [
        web.url(p) for p in ("/sitemap.xml", "/sitemap-pages.xml", "/sitemap-blog.xml")
    ]
    assert result["skipped"] == {
        "off_host": 1,  # https://elsewhere.example/p
        "disallowed": 1,  # /private/secret (robots.txt)
        "duplicate": 0,
        "sitemaps_failed": 0,
        "sitemaps_skipped": 1,  # the index's sitemap on another host
    }
    assert result["robots"] == {"found": True, "sitemaps": [web.url("/sitemap.xml")]}
    assert result["truncated"] is False and result["count"] == 7
    assert web.hit_count("/private/secret") == 0


async def test_bounds_and_options(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    limited = (await registry.invoke("sitemap-crawler", {"url": web.url("/"), "max_urls": 3}, ctx))["result"]
    assert limited["count"] == 3 and limited["truncated"] is True
    no_robots = await registry.invoke(
        "sitemap-crawler", {"url": web.url("/sitemap-pages.xml"), "respect_robots": False}, ctx
    )
    assert web.url("/private/secret") in [u["url"] for u in no_robots["result"]["urls"]]
    any_host = await registry.invoke(
        "sitemap-crawler", {"url": web.url("/sitemap-pages.xml"), "same_host": False}, ctx
    )
    assert "https://elsewhere.example/p" in [u["url"] for u in any_host["result"]["urls"]]
    shallow = await registry.invoke("sitemap-crawler", {"url": web.url("/"), "max_depth": 0}, ctx)
    assert shallow["result"]["count"] == 0 and shallow["result"]["skipped"]["sitemaps_skipped"] == 3


async def test_self_referencing_index_stops_at_max_depth(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer
) -> None:
    result = (
        await registry.invoke("sitemap-crawler", {"url": web.url("/sitemap-nested.xml"), "max_depth": 4}, ctx)
    )["result"]
    assert len(result["sitemaps"]) == 5
    assert web.hit_count("/sitemap-nested.xml") == 5


async def test_fetch_pages_and_gzip(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    urlset = (
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{web.url('/page')}</loc></url><url><loc>{web.url('/gone')}</loc></url>"
        f"<url><loc>{web.url('/redirect?to=http://10.0.0.1/')}</loc></url></urlset>"
    )
    web.set_page("/plain-sitemap.xml", urlset, "application/xml")
    envelope = await registry.invoke(
        "sitemap-crawler", {"url": web.url("/plain-sitemap.xml"), "fetch_pages": True}, ctx
    )
    entries = envelope["result"]["urls"]
    assert entries[0]["status"] == 200 and entries[0]["title"] == "Fake Page"
    assert entries[1]["status"] == 404
    assert entries[2]["error"]["code"] == "SANDBOX_VIOLATION"  # one page's refusal, not the crawl's
    # gzip: parse_sitemap sees the inflated document
    from llmspell.tools.builtin.web_sitemap import _inflate

    assert parse_sitemap(_inflate(gzip.compress(urlset.encode()), "x", 10_000))[0] == "urlset"


async def test_broken_sitemaps(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    with pytest.raises(ToolError, match="no sitemap could be read"):
        await registry.invoke("sitemap-crawler", {"url": web.url("/page")}, ctx)
    web.set_page(
        "/bomb.xml", '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><urlset/>', "application/xml"
    )
    with pytest.raises(ToolError, match="DTD"):
        await registry.invoke("sitemap-crawler", {"url": web.url("/bomb.xml")}, ctx)
    web.set_page("/robots.txt", "User-agent: *\nSitemap: /missing.xml\n", "text/plain")
    with pytest.raises(ToolError, match="HTTP 404"):
        await registry.invoke("sitemap-crawler", {"url": web.url("/")}, ctx)


def test_parse_sitemap_shapes() -> None:
    kind, entries = parse_sitemap(
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc> https://a/x </loc>'
        b"<changefreq>daily</changefreq><priority>0.8</priority></url><url><lastmod>2026</lastmod></url></urlset>"
    )
    assert kind == "urlset" and entries == [{"loc": "https://a/x", "changefreq": "daily", "priority": "0.8"}]
    with pytest.raises(ToolError, match="not a sitemap"):
        parse_sitemap(b"<html></html>")
    with pytest.raises(ToolError, match="not well-formed"):
        parse_sitemap(b"<urlset>")


async def test_schema_and_sandbox(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    with pytest.raises(ValidationError, match="url"):
        await registry.invoke("sitemap-crawler", {}, ctx)
    with pytest.raises(ValidationError):
        await registry.invoke("sitemap-crawler", {"url": web.url("/"), "max_urls": 0}, ctx)
    with pytest.raises(ValidationError):
        await registry.invoke("sitemap-crawler", {"url": web.url("/"), "max_depth": 11}, ctx)
    with pytest.raises(SandboxViolation):
        await registry.invoke("sitemap-crawler", {"url": "http://169.254.169.254/"}, ctx)
    with pytest.raises(SandboxViolation):
        await registry.invoke("sitemap-crawler", {"url": web.url("/")}, loopback_context(allow=()))
