"""api-tester against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fakes.web_servers import WebServer, loopback_context, running_web_server, web_registry
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import SandboxViolation, ToolError, ValidationError
from llmspell.tools.builtin.web_common import json_path_get
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


async def run(registry: ToolRegistry, ctx: ExecutionContext, **params: Any) -> dict[str, Any]:
    envelope = await registry.invoke("api-tester", params, ctx)
    assert envelope["success"] is True
    result: dict[str, Any] = envelope["result"]
    return result


async def test_all_assertions_pass(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    result = await run(
        registry,
        ctx,
        url=web.url("/json"),
        expect={
            "status": 200,
            "headers": {"Content-Type": "application/json", "content-length": "*"},
            "json": [
                {"path": "$.ok", "equals": True},
                {"path": "data.items[1].name", "equals": "b", "type": "string"},
                {"path": "$.data.items", "type": "array", "length": 2},
                {"path": "data.items.0.n", "gt": 0, "lt": 2},
                {"path": "$.data.missing", "exists": False},
                {"path": "$.data.items[0].name", "contains": "a", "not_equals": "z"},
            ],
            "body_contains": ['"items"', "name"],
            "max_latency_ms": 5000,
            "json_schema": {"type": "object", "required": ["data", "ok"]},
        },
    )
    assert result["passed"] is True, result["checks"]
    assert result["failed"] == 0
    assert len(result["checks"]) == 17
    assert result["body"]["ok"] is True


async def test_failed_assertions_are_reported(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer
) -> None:
    envelope = await registry.invoke(
        "api-tester",
        {
            "url": web.url("/json"),
            "expect": {
                "status": [201, 204],
                "headers": {"x-missing": "*"},
                "json": [{"path": "$.data.items[5]"}, {"path": "$.ok", "type": "number"}],
                "body_contains": "nope",
                "max_latency_ms": 0.000001,
                "json_schema": {"type": "object", "required": ["absent"]},
            },
        },
        ctx,
    )
    result = envelope["result"]
    assert result["passed"] is False
    assert result["failed"] == 7
    assert envelope["message"] == "0/7 checks passed"
    by_name = {c["check"]: c for c in result["checks"]}
    assert by_name["status"]["actual"] == 200
    assert by_name["json $.ok type"]["actual"] == "boolean"
    assert "absent" in by_name["json_schema"]["actual"]


async def test_default_expectation_and_fail_on_assertion(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer
) -> None:
    ok = await run(registry, ctx, url=web.url("/page"))
    assert ok["passed"] is True and ok["checks"][0]["expected"] == "2xx"
    bad = await run(registry, ctx, url=web.url("/status/503"))
    assert bad["passed"] is False
    with pytest.raises(ToolError, match="first failure: status") as info:
        await registry.invoke(
            "api-tester",
            {"url": web.url("/status/404"), "expect": {"status": 200}, "fail_on_assertion": True},
            ctx,
        )
    assert info.value.details["status"] == 404
    not_json = await run(registry, ctx, url=web.url("/page"), expect={"json": [{"path": "a"}]})
    assert not_json["checks"][0] == {
        "check": "json a",
        "passed": False,
        "expected": "a JSON body",
        "actual": "text",
    }


async def test_schema_violations(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    with pytest.raises(ValidationError):
        await registry.invoke("api-tester", {"url": web.url("/json"), "expect": {"status": 99}}, ctx)
    with pytest.raises(ValidationError):
        await registry.invoke("api-tester", {"url": web.url("/json"), "expect": {"unknown": 1}}, ctx)
    with pytest.raises(ValidationError):
        await registry.invoke(
            "api-tester", {"url": web.url("/json"), "expect": {"json": [{"equals": 1}]}}, ctx
        )
    with pytest.raises(ValidationError, match="JSON path"):
        await registry.invoke(
            "api-tester", {"url": web.url("/json"), "expect": {"json": [{"path": "a..b"}]}}, ctx
        )
    with pytest.raises(ValidationError, match="json_schema"):
        await registry.invoke(
            "api-tester", {"url": web.url("/json"), "expect": {"json_schema": {"type": "bogus"}}}, ctx
        )


async def test_sandbox_refusal(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    with pytest.raises(SandboxViolation):
        await registry.invoke("api-tester", {"url": "http://10.0.0.1/health"}, ctx)
    with pytest.raises(SandboxViolation):
        await registry.invoke("api-tester", {"url": web.url("/json")}, loopback_context(allow=()))


def test_json_path_forms() -> None:
    doc = {"a": {"b.c": [10, {"d": None}]}, "list": [1, 2, 3]}
    assert json_path_get(doc, "$") == (True, doc)
    assert json_path_get(doc, 'a["b.c"][0]') == (True, 10)
    assert json_path_get(doc, "$.a['b.c'][1].d") == (True, None)
    assert json_path_get(doc, "list[-1]") == (True, 3)
    assert json_path_get(doc, "list.1") == (True, 2)
    assert json_path_get(doc, "list[3]") == (False, None)
    assert json_path_get(doc, "list.x") == (False, None)
    assert json_path_get(doc, "a.zzz") == (False, None)
