"""Hook.* from Lua: hooks run in the script's runtime and act on the script's own calls."""

from __future__ import annotations

from typing import Any

import pytest
from llmspell.core.context import ExecutionContext, Limits
from llmspell.runtime.runner import execute_script


async def run(source: str) -> Any:
    ctx = ExecutionContext(limits=Limits(timeout_s=5, memory_mb=32))
    outcome = await execute_script(source, script_name="t.lua", ctx=ctx)
    assert outcome.error is None, outcome.error
    return outcome.result


async def test_lua_cancel_makes_tool_execute_raise_cancelled() -> None:
    result = await run(
        """
        Hook.register("BeforeToolExecution", function(ctx)
          return {action="cancel", reason="blocked " .. ctx.component.name}
        end)
        local ok, err = pcall(Tool.execute, "calculator", {input="1+1"})
        return {ok=ok, code=err.code, message=err.message}
        """
    )
    assert result == {"ok": False, "code": "CANCELLED", "message": "blocked calculator"}


@pytest.mark.parametrize(
    ("hook_body", "expected"),
    [
        ('return {action="modified", data={tool=ctx.data.tool, params={input="6*7"}}}', 42),
        ('return {action="replace", result={result={value="swapped"}}}', "swapped"),
        ('return "continue"', 2),
        ('return {action="skip"}', 2),
        ("return nil", 2),
    ],
)
async def test_lua_results(hook_body: str, expected: Any) -> None:
    source = f"""
        Hook.register("BeforeToolExecution", function(ctx) {hook_body} end)
        return Tool.execute("calculator", {{input="1+1"}}).result.value
    """
    assert await run(source) == expected


async def test_lua_after_hook_and_retry_and_priorities() -> None:
    result = await run(
        """
        local order = {}
        Hook.register("BeforeToolExecution", function(ctx) table.insert(order, "low") end, "low")
        Hook.register("BeforeToolExecution", function(ctx) table.insert(order, "high") end, 10)
        Hook.register("BeforeToolExecution", function(ctx) table.insert(order, "first") end, -10)
        local tries = 0
        Hook.register("ToolError", function(ctx)
          tries = ctx.attempt
          return {action="retry", delay_ms=1, max_attempts=2}
        end)
        Hook.register("AfterToolExecution", function(ctx)
          local r = ctx.data.result
          r.result.value = r.result.value + 100
          return {action="modified", data={tool=ctx.data.tool, params=ctx.data.params, result=r}}
        end)
        local v = Tool.execute("calculator", {input="1+1"}).result.value
        pcall(Tool.execute, "calculator", {input="1/"})
        return {v=v, order=order, tries=tries}
        """
    )
    assert result["v"] == 102
    assert result["order"][:3] == ["first", "high", "low"]
    assert result["tries"] == 2


async def test_list_unregister_and_context_shape() -> None:
    result = await run(
        """
        local seen
        local h = Hook.register("BeforeToolExecution", function(ctx) seen = ctx end)
        local listed = #Hook.list("BeforeToolExecution")
        Tool.execute("calculator", {input="1+1"})
        local removed = h:unregister()
        local again = Hook.unregister(h)
        return {listed=listed, after=#Hook.list(), removed=removed, again=again,
                point=seen.point, ctype=seen.component.type, cname=seen.component.name,
                input=seen.data.params.input, corr=(seen.correlation_id ~= "")}
        """
    )
    assert result == {
        "listed": 1,
        "after": 0,
        "removed": True,
        "again": False,
        "point": "BeforeToolExecution",
        "ctype": "tool",
        "cname": "calculator",
        "input": "1+1",
        "corr": True,
    }


async def test_bad_registration_is_a_validation_error() -> None:
    result = await run(
        """
        local ok1, e1 = pcall(Hook.register, "NoSuchPoint", function() end)
        local ok2, e2 = pcall(Hook.register, "BeforeToolExecution", 42)
        local ok3, e3 = pcall(Hook.register, "BeforeToolExecution", function() end, "urgent")
        return {e1.code, e2.code, e3.code}
        """
    )
    assert result == ["VALIDATION", "VALIDATION", "VALIDATION"]


async def test_hooks_do_not_leak_between_runs() -> None:
    await run('Hook.register("BeforeToolExecution", function() return {action="cancel"} end) return 1')
    assert await run('return Tool.execute("calculator", {input="2+2"}).result.value') == 4


async def test_custom_point_fired_from_the_script() -> None:
    result = await run(
        """
        Hook.register("custom:greet", function(ctx) return {action="modified", data=ctx.data .. "!"} end)
        return Hook.fire("custom:greet", "hi")
        """
    )
    assert result["data"] == "hi!" and result["action"] == "modified"
