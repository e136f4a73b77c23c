"""ToolRegistry: lookup, aliases, validation, timeouts, envelopes, overlays and the default table."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest
from llmspell.core.context import ExecutionContext, Limits
from llmspell.core.errors import (
    Cancelled,
    ConfigError,
    Conflict,
    NotFound,
    Timeout,
    ToolError,
    ValidationError,
)
from llmspell.tools import BaseTool, ToolOutput, ToolRegistry, default_registry, envelope
from llmspell.tools.builtin import BUILTIN_TOOLS
from prometheus_client import REGISTRY


class Echo(BaseTool):
    name = "echo-tool"
    category = "test"
    description = "Echo the message back in upper case."
    schema = {
        "type": "object",
        "properties": {
            "message": {"type": "string", "maxLength": 20},
            "times": {"type": "integer", "minimum": 1},
        },
        "required": ["message"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        return ToolOutput(
            operation="echo", result=params["message"].upper() * params.get("times", 1), metadata={"n": 1}
        )


class Sleeper(BaseTool):
    name = "sleeper"
    category = "test"
    description = "Sleeps."
    schema = {"type": "object", "properties": {"s": {"type": "number"}}, "additionalProperties": False}
    timeout_s = 0.2

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        await asyncio.sleep(params.get("s", 0))
        return {"slept": params.get("s", 0)}


class Broken(BaseTool):
    name = "broken"
    category = "test"
    description = "Raises a foreign exception."

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        raise KeyError("boom")


@pytest.fixture
def registry() -> ToolRegistry:
    reg = ToolRegistry()
    for tool in (Echo(), Sleeper(), Broken()):
        reg.register(tool)
    return reg


@pytest.fixture
def ctx() -> ExecutionContext:
    return ExecutionContext()


def test_envelope_has_all_six_keys() -> None:
    assert envelope(success=True, result=3) == {
        "success": True,
        "operation": None,
        "result": 3,
        "message": None,
        "error": None,
        "metadata": {},
    }


def test_lookup_by_kebab_and_snake_case(registry: ToolRegistry) -> None:
    assert registry.get("echo-tool") is registry.get("echo_tool")
    assert registry.exists("echo_tool") and not registry.exists("nope")
    assert registry.find("nope") is None
    with pytest.raises(NotFound, match="No tool named 'nope'"):
        registry.get("nope")


def test_register_refuses_duplicates_and_bad_names(registry: ToolRegistry) -> None:
    with pytest.raises(Conflict, match="replace=True"):
        registry.register(Echo())
    replacement = Echo()
    registry.register(replacement, replace=True)
    assert registry.get("echo-tool") is replacement
    bad = Echo()
    bad.name = "Bad_Name"
    with pytest.raises(ValidationError, match="kebab-case"):
        registry.register(bad)
    no_schema = Echo()
    no_schema.name = "no-schema"
    no_schema.schema = {"type": "string"}
    with pytest.raises(ValidationError, match="type 'object'"):
        registry.register(no_schema)
    with pytest.raises(TypeError, match="kebab-case"):
        type("X", (BaseTool,), {"name": "Not Kebab", "invoke": Echo.invoke})


def test_list_categories_search(registry: ToolRegistry) -> None:
    assert [t.name for t in registry.list()] == ["broken", "echo-tool", "sleeper"]
    assert registry.categories() == ["test"]
    assert registry.list("other") == []
    assert [t.name for t in registry.search("ECHO upper")] == ["echo-tool"]
    assert [t.name for t in registry.search("sleep")] == ["sleeper"]
    assert registry.search("echo nothing-like-this") == []


async def test_invoke_returns_success_envelope(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    env = await registry.invoke("echo_tool", {"message": "hi", "times": 2}, ctx)
    assert env["success"] is True and env["result"] == "HIHI" and env["operation"] == "echo"
    assert env["error"] is None
    assert env["metadata"]["tool"] == "echo-tool" and env["metadata"]["n"] == 1
    assert env["metadata"]["duration_ms"] >= 0
    plain = await registry.invoke("sleeper", None, ctx)
    assert plain["result"] == {"slept": 0} and plain["operation"] is None


@pytest.mark.parametrize(
    ("params", "field", "fragment"),
    [
        ({}, "message", "missing required parameter 'message'"),
        ({"message": 5}, "message", "must be string"),
        ({"message": "x" * 21}, "message", "shorter than or equal to 20"),
        ({"message": "x", "times": 0}, "times", "bigger than or equal to 1"),
        ({"message": "x", "extra": 1}, "extra", "unknown parameter 'extra' (allowed: message, times)"),
    ],
)
async def test_schema_violations_name_the_field(
    registry: ToolRegistry, ctx: ExecutionContext, params: dict[str, Any], field: str, fragment: str
) -> None:
    with pytest.raises(ValidationError) as info:
        await registry.invoke("echo-tool", params, ctx)
    assert info.value.details["field"] == field
    assert fragment in info.value.message
    failed = await registry.invoke_envelope("echo-tool", params, ctx)
    assert failed["success"] is False and failed["error"]["code"] == "VALIDATION"
    assert failed["error"]["details"]["field"] == field


async def test_non_object_params_are_refused(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    with pytest.raises(ValidationError, match="must be an object"):
        await registry.invoke("echo-tool", ["x"], ctx)  # type: ignore[arg-type]


async def test_timeout_is_enforced(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(Timeout, match=r"0\.2s timeout"):
        await registry.invoke("sleeper", {"s": 5}, ctx)
    assert loop.time() - started < 2
    failed = await registry.invoke_envelope("sleeper", {"s": 5}, ctx)
    assert failed["error"]["code"] == "TIMEOUT"


async def test_run_deadline_caps_the_tool_timeout(registry: ToolRegistry) -> None:
    ctx = ExecutionContext(limits=Limits(timeout_s=0.05))
    with pytest.raises(Timeout):
        await registry.invoke("sleeper", {"s": 1}, ctx)


async def test_cancelled_run_stops_before_invoking(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    ctx.cancel_token.cancel("user stop")
    with pytest.raises(Cancelled, match="user stop"):
        await registry.invoke_envelope("echo-tool", {"message": "x"}, ctx)


async def test_task_cancellation_propagates(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    task = asyncio.create_task(registry.invoke("sleeper", {"s": 0.15}, ctx))
    await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_foreign_exceptions_become_tool_errors(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    with pytest.raises(ToolError, match="broken failed") as info:
        await registry.invoke("broken", {}, ctx)
    assert isinstance(info.value.__cause__, KeyError)
    failed = await registry.invoke_envelope("broken", {}, ctx)
    assert failed == {
        "success": False,
        "operation": None,
        "result": None,
        "message": failed["error"]["message"],
        "error": {"code": "TOOL_ERROR", "message": "broken failed: 'boom'", "details": {"tool": "broken"}},
        "metadata": {"tool": "broken"},
    }


async def test_unknown_tool_envelope(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    failed = await registry.invoke_envelope("missing_tool", {}, ctx)
    assert failed["error"]["code"] == "NOT_FOUND" and failed["metadata"]["tool"] == "missing-tool"


async def test_invocations_are_counted(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    def count(status: str) -> float:
        return (
            REGISTRY.get_sample_value(
                "llmspell_tool_invocations_total", {"tool": "echo-tool", "status": status}
            )
            or 0.0
        )

    ok, bad = count("success"), count("validation")
    await registry.invoke("echo-tool", {"message": "a"}, ctx)
    await registry.invoke_envelope("echo-tool", {}, ctx)
    assert count("success") == ok + 1 and count("validation") == bad + 1


async def test_overlay_registry_falls_back_to_parent(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    overlay = ToolRegistry(parent=registry)
    local = Echo()
    local.name = "local-echo"
    overlay.register(local)
    assert overlay.get("echo-tool") is registry.get("echo-tool")
    assert not registry.exists("local-echo")
    assert {t.name for t in overlay.list()} == {"broken", "echo-tool", "sleeper", "local-echo"}
    assert (await overlay.invoke("local_echo", {"message": "x"}, ctx))["result"] == "X"
    overlay.unregister("local-echo")
    assert not overlay.exists("local-echo")
    with pytest.raises(NotFound):
        overlay.unregister("local-echo")


def test_lazy_entries_load_on_first_use() -> None:
    reg = ToolRegistry(lazy={"calculator": "llmspell.tools.builtin.utility_calc:CalculatorTool"})
    assert reg.exists("calculator")
    assert type(reg.get("calculator")).__name__ == "CalculatorTool"
    broken = ToolRegistry(lazy={"ghost": "llmspell.tools.builtin.no_such_module:Ghost"})
    with pytest.raises(ConfigError, match="cannot be loaded"):
        broken.get("ghost")
    misnamed = ToolRegistry(lazy={"other-name": "llmspell.tools.builtin.utility_calc:CalculatorTool"})
    with pytest.raises(ConfigError, match="registered as 'other-name'"):
        misnamed.get("other-name")


def test_invalid_schema_is_a_config_error(ctx: ExecutionContext) -> None:
    reg = ToolRegistry()
    tool = Echo()
    tool.schema = {"type": "object", "properties": {"x": {"type": "no-such-type"}}}
    reg.register(tool)
    with pytest.raises(ConfigError, match="invalid parameter schema"):
        reg.validate("echo-tool", {})


def test_default_registry_holds_every_builtin() -> None:
    reg = default_registry()
    assert reg is default_registry()
    assert set(BUILTIN_TOOLS) <= set(reg.names())
    for name in ("calculator", "json-processor", "yaml-processor", "text-analyzer"):
        tool = reg.get(name)
        assert tool.name == name
        assert tool.schema.get("additionalProperties") is False
        assert tool.description and tool.category in ("utility", "data")


def test_default_registry_start_imports_no_tool_module() -> None:
    code = (
        "import sys\n"
        "from llmspell.tools import default_registry\n"
        "r = default_registry(); r.exists('calculator'); r.get('calculator')\n"
        "heavy = [m for m in ('jsonschema', 'fastjsonschema', 'prometheus_client', 'httpx', 'yaml', 'jinja2',"
        " 'jmespath', 'defusedxml', 'llmspell.tools.builtin.data_markup') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""


def test_public_surface() -> None:
    import llmspell.tools as tools
    import llmspell.tools.sandbox as sandbox

    assert sorted(tools.__all__) == [
        "BaseTool",
        "ToolOutput",
        "ToolRegistry",
        "canonical_name",
        "default_registry",
        "envelope",
    ]
    assert {
        "HttpResult",
        "ProcessResult",
        "SafeHttp",
        "check_size",
        "check_url",
        "resolve_path",
        "run_process",
    } <= set(sandbox.__all__)
