"""web-scraper against pages served on 127.0.0.1 (and given HTML)."""

from __future__ import annotations

from collections.abc import Iterator

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
def ctx() -> ExecutionContext:
    return loopback_context()


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    return web_registry()


async def test_scrape_page_text_links_and_title(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer
) -> None:
    envelope = await registry.invoke("web-scraper", {"url": web.url("/page")}, ctx)
    assert envelope["success"] is True and envelope["operation"] == "scrape"
    page = envelope["result"]
    assert page["status"] == 200
    assert page["title"] == "Fake Page"
    assert page["text"].splitlines() == [
        "Welcome",
        "Hello",
        "world",
        ".",
        "one",
        "two",
        "three",
        "About us",
        "External",
        "Anchor",
        "Mail",
    ]
    assert "hidden" not in page["text"] and "color" not in page["text"]
    links = {link["url"]: link for link in page["links"]}
    assert links[web.url("/about")] == {
        "url": web.url("/about"),
        "text": "About us",
        "internal": True,
        "scheme": "http",
    }
    assert links["https://example.org/x?y=1"]["internal"] is False
    assert links["mailto:someone@example.org"]["scheme"] == "mailto"
    assert not any(url.endswith("#top") for url in links)  # same-page anchors are dropped


async def test_selectors_meta_images_headings(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer
) -> None:
    envelope = await registry.invoke(
        "web-scraper",
        {
            "url": web.url("/page"),
            "extract": ["meta", "images", "headings"],
            "selectors": {
                "items": "ul.items li",
                "intro": {"selector": "p.intro", "first": True},
                "intro_html": {"selector": "p.intro b", "html": True},
                "hrefs": {"selector": "a", "attribute": "href"},
                "nothing": {"selector": "table td", "first": True},
            },
        },
        ctx,
    )
    page = envelope["result"]
    assert "text" not in page and "links" not in page
    assert page["meta"] == {"description": "A page for tests"}
    assert page["images"] == [{"src": web.url("/logo.png"), "alt": "Logo"}]
    assert page["headings"] == [{"level": 1, "text": "Welcome"}]
    selections = page["selections"]
    assert selections["items"] == ["one", "two", "three"]
    assert selections["intro"] == "Hello world ."
    assert selections["intro_html"] == ["<b>world</b>"]
    assert selections["hrefs"][0] == web.url("/about")
    assert selections["nothing"] is None


async def test_given_html_and_truncation(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    html = "<html><body><p>" + "word " * 100 + "</p><a href='rel/x'>x</a></body></html>"
    envelope = await registry.invoke("web-scraper", {"html": html, "max_text_chars": 20}, ctx)
    page = envelope["result"]
    assert page["truncated"] is True and len(page["text"]) == 20 and page["text_length"] == 501
    assert page["links"][0]["url"] == "rel/x"  # no base URL to resolve against
    assert page["title"] is None


async def test_charset_from_header(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    envelope = await registry.invoke("web-scraper", {"url": web.url("/latin1")}, ctx)
    assert envelope["result"]["text"] == "café"


async def test_errors(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    with pytest.raises(ToolError, match="HTTP 404"):
        await registry.invoke("web-scraper", {"url": web.url("/nope")}, ctx)
    with pytest.raises(ToolError, match="not HTML"):
        await registry.invoke("web-scraper", {"url": web.url("/json")}, ctx)
    with pytest.raises(ValidationError, match="invalid CSS selector"):
        await registry.invoke("web-scraper", {"html": "<p>x</p>", "selectors": {"bad": "p[["}}, ctx)


async def test_schema_violations(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    with pytest.raises(ValidationError, match="exactly one of url or html"):
        await registry.invoke("web-scraper", {}, ctx)
    with pytest.raises(ValidationError, match="exactly one of url or html"):
        await registry.invoke("web-scraper", {"url": web.url("/page"), "html": "<p/>"}, ctx)
    with pytest.raises(ValidationError):
        await registry.invoke("web-scraper", {"html": "<p/>", "extract": ["everything"]}, ctx)
    with pytest.raises(ValidationError):
        await registry.invoke("web-scraper", {"html": "<p/>", "selectors": {"a": {"attribute": "x"}}}, ctx)


async def test_sandbox_refusal(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    with pytest.raises(SandboxViolation):
        await registry.invoke("web-scraper", {"url": "http://10.0.0.1/"}, ctx)
    with pytest.raises(SandboxViolation):
        await registry.invoke(
            "web-scraper", {"url": web.url("/redirect?to=http%3A%2F%2F169.254.169.254%2F")}, ctx
        )
