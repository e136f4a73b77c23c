"""http-requester and graphql-query against a real HTTP server on 127.0.0.1, plus SSRF refusals."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from fakes.web_servers import WebServer, loopback_context, running_web_server, web_registry
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import LimitExceeded, SandboxViolation, Timeout, ToolError, ValidationError
from llmspell.tools.registry import ToolRegistry
from prometheus_client import REGISTRY


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    with running_web_server() as server:
        yield server


@pytest.fixture
def ctx() -> ExecutionContext:
    return loopback_context()


@pytest.fixture
def closed() -> ExecutionContext:
    """A context whose sandbox allows no private address at all."""
    return loopback_context(allow=())


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    return web_registry()


async def request(registry: ToolRegistry, ctx: ExecutionContext, **params: Any) -> dict[str, Any]:
    envelope = await registry.invoke("http-requester", params, ctx)
    assert envelope["success"] is True
    result: dict[str, Any] = envelope["result"]
    return result


# ----------------------------------------------------------------- http-requester


async def test_get_json_is_decoded(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    envelope = await registry.invoke("http-requester", {"url": web.url("/json")}, ctx)
    assert envelope["operation"] == "get"
    result = envelope["result"]
    assert result["status"] == 200 and result["ok"] is True
    assert result["body_kind"] == "json"
    assert result["body"]["data"]["items"][1] == {"name": "b", "n": 2}
    assert result["headers"]["content-type"] == "application/json"
    assert result["elapsed_ms"] > 0


async def test_post_json_headers_and_query_reach_the_server(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer
) -> None:
    result = await request(
        registry,
        ctx,
        url=web.url("/echo?a=1"),
        method="POST",
        headers={"X-Trace": "abc"},
        query={"b": 2, "flag": True},
        json={"hello": "wörld", "n": [1, 2]},
    )
    echoed = result["body"]
    assert echoed["method"] == "POST"
    assert echoed["query"] == {"a": "1", "b": "2", "flag": "true"}
    assert echoed["headers"]["x-trace"] == "abc"
    assert echoed["headers"]["content-type"] == "application/json"
    assert echoed["body"] == '{"hello":"wörld","n":[1,2]}'


async def test_form_and_raw_bodies(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    form = await request(registry, ctx, url=web.url("/echo"), method="PUT", form={"a": "x y", "b": 1})
    assert form["body"]["body"] == "a=x+y&b=1"
    assert form["body"]["headers"]["content-type"] == "application/x-www-form-urlencoded"
    raw = await request(registry, ctx, url=web.url("/echo"), method="PATCH", body="plain text")
    assert raw["body"]["body"] == "plain text"


async def test_response_modes(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    text = await request(registry, ctx, url=web.url("/json"), response_as="text")
    assert isinstance(text["body"], str) and text["body"].startswith('{"data"')
    binary = await request(registry, ctx, url=web.url("/binary"))
    assert binary["body_kind"] == "base64"
    assert base64.b64decode(binary["body"]) == bytes(range(256))
    latin = await request(registry, ctx, url=web.url("/latin1"))
    assert latin["body"] == "<p>café</p>"
    with pytest.raises(ToolError, match="not valid JSON"):
        await registry.invoke("http-requester", {"url": web.url("/page"), "response_as": "json"}, ctx)


async def test_error_status_is_a_result_unless_raise_for_status(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer
) -> None:
    result = await request(registry, ctx, url=web.url("/status/404"))
    assert result["status"] == 404 and result["ok"] is False
    with pytest.raises(ToolError, match="HTTP 500") as info:
        await registry.invoke(
            "http-requester", {"url": web.url("/status/500"), "raise_for_status": True}, ctx
        )
    assert info.value.details["status"] == 500


async def test_redirects_are_followed_on_loopback(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer
) -> None:
    result = await request(registry, ctx, url=web.url("/redirect"), query={"to": "/json"})
    assert result["status"] == 200
    assert result["url"].endswith("/json")


async def test_timeout_and_size_cap(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    with pytest.raises(Timeout):
        await registry.invoke("http-requester", {"url": web.url("/slow?s=2"), "timeout_s": 0.2}, ctx)
    with pytest.raises(LimitExceeded):
        await registry.invoke("http-requester", {"url": web.url("/big?n=5000"), "max_bytes": 1000}, ctx)
    ok = await request(registry, ctx, url=web.url("/big?n=1000"), max_bytes=1000)
    assert ok["size"] == 1000


async def test_schema_violations(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    with pytest.raises(ValidationError, match="url"):
        await registry.invoke("http-requester", {"method": "GET"}, ctx)
    with pytest.raises(ValidationError, match="method"):
        await registry.invoke("http-requester", {"url": web.url("/json"), "method": "TRACE"}, ctx)
    with pytest.raises(ValidationError):
        await registry.invoke("http-requester", {"url": web.url("/json"), "bogus": 1}, ctx)
    with pytest.raises(ValidationError, match="only one of json, body or form"):
        await registry.invoke("http-requester", {"url": web.url("/echo"), "json": {}, "body": "x"}, ctx)
    with pytest.raises(ValidationError, match="cannot carry a body"):
        await registry.invoke("http-requester", {"url": web.url("/echo"), "body": "x"}, ctx)
    with pytest.raises(ValidationError, match="absolute http"):
        await registry.invoke("http-requester", {"url": "example.com/x"}, ctx)


# ----------------------------------------------------------------- SSRF


def _violations() -> float:
    value = REGISTRY.get_sample_value("llmspell_sandbox_violations_total", {"kind": "network"})
    return value or 0.0


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata, by IP
        "http://10.0.0.1/admin",  # private network, by IP
        "http://[::ffff:169.254.169.254]/",  # IPv4-mapped IPv6
        "http://2852039166/",  # 169.254.169.254 written as one integer (resolved by name)
        "http://0.0.0.0:1/",  # unspecified
        "file:///etc/passwd",  # not http(s)
    ],
)
async def test_private_addresses_are_refused(registry: ToolRegistry, ctx: ExecutionContext, url: str) -> None:
    before = _violations()
    with pytest.raises(SandboxViolation):
        await registry.invoke("http-requester", {"url": url}, ctx)
    assert _violations() == before + 1


async def test_loopback_refused_by_name_and_ip_unless_allow_listed(
    registry: ToolRegistry, closed: ExecutionContext, ctx: ExecutionContext, web: WebServer
) -> None:
    hits = web.hit_count("/json")
    with pytest.raises(SandboxViolation, match="non-public address"):
        await registry.invoke("http-requester", {"url": f"http://localhost:{web.port}/json"}, closed)
    with pytest.raises(SandboxViolation, match="network_allow"):
        await registry.invoke("http-requester", {"url": web.url("/json")}, closed)
    assert web.hit_count("/json") == hits  # refused before any connection


async def test_redirect_to_private_address_is_refused(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer
) -> None:
    for target in (
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://[fd00::1]/",
        "file:///etc/passwd",
    ):
        with pytest.raises(SandboxViolation) as info:
            await registry.invoke(
                "http-requester", {"url": web.url("/redirect"), "query": {"to": target}}, ctx
            )
        assert info.value.to_dict()["code"] == "SANDBOX_VIOLATION"
    envelope = await registry.invoke_envelope(
        "http-requester", {"url": web.url("/redirect"), "query": {"to": "http://10.0.0.1/"}}, ctx
    )
    assert envelope["success"] is False and envelope["error"]["code"] == "SANDBOX_VIOLATION"


# ----------------------------------------------------------------- graphql-query


async def test_graphql_query_with_variables(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer
) -> None:
    envelope = await registry.invoke(
        "graphql-query",
        {
            "url": web.url("/graphql"),
            "query": "query User($id: ID!) { user(id: $id) { id name } hello }",
            "variables": {"id": "1"},
            "operation_name": "User",
        },
        ctx,
    )
    assert envelope["success"] is True
    assert envelope["message"] == "GraphQL ok"
    data = envelope["result"]["data"]
    assert data == {"hello": "world", "user": {"id": "1", "name": "Ada"}, "operation": "User"}
    assert envelope["result"]["errors"] == []


async def test_graphql_errors_are_surfaced(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer
) -> None:
    partial = await registry.invoke(
        "graphql-query",
        {
            "url": web.url("/graphql"),
            "query": "query($id: ID!) { user(id: $id) { id } hello }",
            "variables": {"id": "9"},
        },
        ctx,
    )
    assert partial["result"]["data"]["hello"] == "world"
    assert partial["result"]["errors"][0]["message"] == "no user 9"
    assert "partial" in partial["message"]
    with pytest.raises(ToolError, match="no user 9"):
        await registry.invoke(
            "graphql-query",
            {
                "url": web.url("/graphql"),
                "query": "query($id: ID!) { user(id: $id) { id } }",
                "variables": {"id": "9"},
                "allow_partial": False,
            },
            ctx,
        )
    with pytest.raises(ToolError, match="Syntax Error") as info:
        await registry.invoke("graphql-query", {"url": web.url("/graphql"), "query": "{ syntaxError"}, ctx)
    assert info.value.details["status"] == 400
    with pytest.raises(ToolError, match="non-JSON"):
        await registry.invoke("graphql-query", {"url": web.url("/page"), "query": "{ hello }"}, ctx)


async def test_graphql_schema_and_sandbox(
    registry: ToolRegistry, ctx: ExecutionContext, closed: ExecutionContext, web: WebServer
) -> None:
    with pytest.raises(ValidationError, match="query"):
        await registry.invoke("graphql-query", {"url": web.url("/graphql")}, ctx)
    with pytest.raises(ValidationError):
        await registry.invoke(
            "graphql-query", {"url": web.url("/graphql"), "query": "{ hello }", "variables": [1]}, ctx
        )
    with pytest.raises(SandboxViolation):
        await registry.invoke("graphql-query", {"url": web.url("/graphql"), "query": "{ hello }"}, closed)
    with pytest.raises(SandboxViolation):
        await registry.invoke(
            "graphql-query", {"url": "http://169.254.169.254/graphql", "query": "{ hello }"}, ctx
        )
