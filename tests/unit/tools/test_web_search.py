"""web-searcher: each provider against a local fake of its documented response shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fakes.web_servers import (
    GOOGLE_CX,
    SEARCH_KEYS,
    WebServer,
    loopback_context,
    running_web_server,
    web_registry,
)
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import ConfigError, SandboxViolation, ToolError, ValidationError
from llmspell.tools.builtin.web_search import PROVIDERS, provider_settings
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


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROVIDERS:
        for suffix in ("API_KEY", "BASE_URL", "CX", "MODE", "ENGINE"):
            monkeypatch.delenv(f"LLMSPELL_SEARCH_{name.upper()}_{suffix}", raising=False)


def config(web: WebServer, *, keys: bool = True) -> dict[str, dict[str, Any]]:
    """provider_config pointing every provider at its fake on the test server."""
    out: dict[str, dict[str, Any]] = {
        "google": {"base_url": web.url("/google"), "cx": GOOGLE_CX},
        "brave": {"base_url": web.url("/brave")},
        "serpapi": {"base_url": web.url("/serpapi")},
        "serperdev": {"base_url": web.url("/serper")},
        "tavily": {"base_url": web.url("/tavily")},
        "duckduckgo": {"base_url": web.url("/ddg")},
    }
    if keys:
        for name, key in SEARCH_KEYS.items():
            out[name]["api_key"] = key
    return out


@pytest.mark.parametrize("provider", ["google", "brave", "serpapi", "serperdev", "tavily"])
async def test_keyed_provider_shapes(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer, provider: str
) -> None:
    envelope = await registry.invoke(
        "web-searcher",
        {"query": "llm spell", "provider": provider, "max_results": 3, "provider_config": config(web)},
        ctx,
    )
    assert envelope["success"] is True
    result = envelope["result"]
    assert result["provider"] == provider
    assert [r["title"] for r in result["results"]] == [f"Result {i} for llm spell" for i in (1, 2, 3)]
    first = result["results"][0]
    assert first == {
        "title": "Result 1 for llm spell",
        "url": "https://example.com/1?q=llm%20spell",
        "snippet": "Snippet 1",
        "rank": 1,
        "provider": provider,
    }


async def test_duckduckgo_html(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    envelope = await registry.invoke(
        "web-searcher", {"query": "python", "provider": "duckduckgo", "provider_config": config(web)}, ctx
    )
    results = envelope["result"]["results"]
    assert [(r["title"], r["url"]) for r in results] == [
        ("Python Docs", "https://docs.python.org/3/"),  # unwrapped from the /l/?uddg= redirector
        ("Python.org", "https://www.python.org/"),
    ]  # the ad is skipped
    assert results[0]["snippet"] == "The official docs ."


async def test_duckduckgo_instant_answer_from_environment(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMSPELL_SEARCH_DUCKDUCKGO_MODE", "instant")
    monkeypatch.setenv("LLMSPELL_SEARCH_DUCKDUCKGO_BASE_URL", web.url("/ddg-api"))
    envelope = await registry.invoke("web-searcher", {"query": "python", "provider": "duckduckgo"}, ctx)
    results = envelope["result"]["results"]
    assert [r["url"] for r in results] == [
        "https://en.wikipedia.org/wiki/Python_(programming_language)",
        "https://www.python.org/",
        "https://duckduckgo.com/Guido",
        "https://duckduckgo.com/CPython",
    ]
    assert results[0]["title"] == "Python (programming language)"
    assert results[2]["title"] == "Guido van Rossum"


async def test_keys_from_environment(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMSPELL_SEARCH_BRAVE_API_KEY", SEARCH_KEYS["brave"])
    monkeypatch.setenv("LLMSPELL_SEARCH_BRAVE_BASE_URL", web.url("/brave/"))
    envelope = await registry.invoke("web-searcher", {"query": "q", "providers": ["tavily", "brave"]}, ctx)
    assert envelope["result"]["provider"] == "brave"
    attempts = envelope["metadata"]["attempts"]
    assert attempts[0]["provider"] == "tavily" and "LLMSPELL_SEARCH_TAVILY_API_KEY" in attempts[0]["skipped"]
    assert attempts[1] == {"provider": "brave", "results": 10}
    settings = provider_settings("brave")
    assert settings.base_url == web.url("/brave") and settings.api_key == SEARCH_KEYS["brave"]


async def test_fallback_chain_skips_unkeyed_and_failing_providers(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer
) -> None:
    cfg = config(web, keys=False)
    cfg["tavily"]["api_key"] = "wrong-key"  # answers 401
    cfg["serpapi"]["api_key"] = SEARCH_KEYS["serpapi"]
    envelope = await registry.invoke(
        "web-searcher",
        {"query": "fallback", "max_results": 2, "provider_config": cfg},
        ctx,
    )
    assert envelope["result"]["provider"] == "serpapi"
    attempts = envelope["metadata"]["attempts"]
    assert [a["provider"] for a in attempts] == ["tavily", "brave", "serperdev", "serpapi"]
    assert attempts[0]["error"]["code"] == "TOOL_ERROR"
    assert "LLMSPELL_SEARCH_TAVILY_API_KEY" in attempts[0]["error"]["message"]
    assert "skipped" in attempts[1] and "skipped" in attempts[2]
    assert len(envelope["result"]["results"]) == 2


async def test_duckduckgo_is_the_keyless_last_resort(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer
) -> None:
    envelope = await registry.invoke(
        "web-searcher", {"query": "anything", "provider_config": config(web, keys=False)}, ctx
    )
    assert envelope["result"]["provider"] == "duckduckgo"
    assert [a["provider"] for a in envelope["metadata"]["attempts"]][-1] == "duckduckgo"


async def test_all_failing_and_unconfigured(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer
) -> None:
    cfg = config(web, keys=False)
    cfg["brave"]["api_key"] = "bad"
    cfg["google"]["api_key"] = "bad"
    with pytest.raises(ToolError, match=r"every search provider failed: brave: .*; google: ") as info:
        await registry.invoke(
            "web-searcher", {"query": "x", "providers": ["brave", "google"], "provider_config": cfg}, ctx
        )
    assert len(info.value.details["attempts"]) == 2
    with pytest.raises(ConfigError, match="no web search provider is configured"):
        await registry.invoke("web-searcher", {"query": "x", "providers": ["tavily", "serpapi"]}, ctx)
    # google needs its engine id as well as a key
    with pytest.raises(ConfigError):
        await registry.invoke(
            "web-searcher",
            {"query": "x", "provider": "google", "provider_config": {"google": {"api_key": "k"}}},
            ctx,
        )


async def test_api_keys_are_redacted_from_errors(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    with running_web_server() as gone:
        base = gone.url("/serpapi")
    envelope = await registry.invoke_envelope(
        "web-searcher",
        {
            "query": "x",
            "provider": "serpapi",
            "provider_config": {"serpapi": {"api_key": "TOPSECRET", "base_url": base}},
        },
        ctx,
    )
    assert envelope["success"] is False
    assert envelope["error"]["code"] == "TOOL_ERROR"
    assert "TOPSECRET" not in str(envelope["error"])
    assert "api_key=***" in envelope["error"]["message"]


async def test_schema_violations(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    with pytest.raises(ValidationError, match="query"):
        await registry.invoke("web-searcher", {"provider": "brave"}, ctx)
    with pytest.raises(ValidationError):
        await registry.invoke("web-searcher", {"query": "x", "provider": "bing"}, ctx)
    with pytest.raises(ValidationError):
        await registry.invoke("web-searcher", {"query": "x", "max_results": 0}, ctx)
    with pytest.raises(ValidationError):
        await registry.invoke(
            "web-searcher", {"query": "x", "provider_config": {"brave": {"token": "k"}}}, ctx
        )
    with pytest.raises(ValidationError, match="not both"):
        await registry.invoke(
            "web-searcher", {"query": "x", "provider": "brave", "providers": ["brave"]}, ctx
        )
    with pytest.raises(ValidationError, match="blank"):
        await registry.invoke("web-searcher", {"query": "   "}, ctx)


async def test_sandbox_refusal(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    cfg = {"brave": {"api_key": "k", "base_url": "http://169.254.169.254"}}
    with pytest.raises(SandboxViolation):
        await registry.invoke(
            "web-searcher", {"query": "x", "provider": "brave", "provider_config": cfg}, ctx
        )
    closed = loopback_context(allow=())
    with pytest.raises(SandboxViolation):
        await registry.invoke(
            "web-searcher", {"query": "x", "provider": "duckduckgo", "provider_config": config(web)}, closed
        )
