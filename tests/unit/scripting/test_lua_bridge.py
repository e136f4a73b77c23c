"""The Lua bridge: value conversion, reused script threads, hooks run in the script's runtime."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import ValidationError
from llmspell.hooks import HookRegistry, HookResult
from llmspell.scripting.api.hook import _ScriptHook
from llmspell.scripting.api.surface import ApiObject, ScriptEnv, ScriptFunction
from llmspell.scripting.lua.engine import LuaRun
from llmspell.tools import BaseTool, default_registry

Runner = Any  # the run_lua fixture of conftest.py


@pytest.fixture
def run() -> Iterator[LuaRun]:
    lua = LuaRun(ScriptEnv(), ExecutionContext())
    yield lua
    lua.close()


class Thing(ApiObject):
    api_type = "thing"
    api_methods = {"name": "name"}

    def name(self) -> str:
        return "thing"


def test_tables_come_out_as_plain_python(run: LuaRun) -> None:
    conv, lua = run.conv, run.runtime.eval
    assert conv.from_lua(lua('{input="x+1", variables={x=1, y=2.5}, tags={"a", "b"}, ok=true}')) == {
        "input": "x+1",
        "variables": {"x": 1, "y": 2.5},
        "tags": ["a", "b"],
        "ok": True,
    }
    assert conv.from_lua(lua("{}")) == {}
    assert conv.from_lua(conv.to_lua([])) == []  # an empty array stays an array
    assert conv.from_lua(lua("{[1]='a', [3]='c'}")) == {"1": "a", "3": "c"}  # not a sequence
    holes = run.kernel.mark_array(lua("{[1]='a', [3]='c'}"))
    assert conv.from_lua(holes) == ["a", "c"]  # an array with holes: values in key order
    assert conv.from_lua(lua("{[2.0]='two', [true]=1}")) == {"2": "two", "True": 1}
    assert conv.from_lua(run.conv.null) is None
    assert conv.from_lua(lua("{1, 2, nil}")) == [1, 2]
    assert isinstance(conv.from_lua(lua("function() end")), ScriptFunction)
    thing = Thing()
    assert conv.from_lua(lua("{t=...}", conv.to_lua(thing))) == {"t": thing}
    assert conv.from_lua(conv.to_lua({"s": ["x", None]}, null=True)) == {"s": ["x", None]}


def test_big_and_deep_tables(run: LuaRun) -> None:
    conv = run.conv
    big = conv.to_lua(list(range(5000)))
    assert conv.from_lua(big) == list(range(5000))
    wide = {f"k{i}": i for i in range(5000)}
    assert conv.from_lua(conv.to_lua(wide)) == wide
    deep: Any = "bottom"
    for _ in range(70):
        deep = {"d": deep}
    with pytest.raises(ValidationError, match="nested deeper"):
        conv.to_lua(deep)
    cyclic = run.runtime.eval("(function() local t = {} t.self = t return t end)()")
    with pytest.raises(ValidationError, match="nested deeper"):
        conv.from_lua(cyclic)


def test_values_round_trip(run: LuaRun) -> None:
    value = {
        "success": True,
        "operation": "evaluate",
        "result": {"value": 3, "expression": "x+1", "list": [1, "two", 3.5, [], {}]},
        "message": None,  # None in a table: the key is absent
        "metadata": {"tool": "calculator", "duration_ms": 0.012},
    }
    back = run.conv.from_lua(run.conv.to_lua(value))
    assert back == {k: v for k, v in value.items() if v is not None}


def test_lua_hook_answers_synchronously_when_it_does_not_await(run: LuaRun) -> None:
    fn = run.script_function(
        run.runtime.eval("function(c) return {action='modified', data=c.data.n + 1} end")
    )
    reg = HookRegistry()
    handle = reg.register("BeforeToolExecution", _ScriptHook(fn, "t"))
    assert not handle.is_async
    outcome = reg.dispatch("BeforeToolExecution", ("tool", "calculator"), {"n": 1})
    assert isinstance(outcome, HookResult) and (outcome.kind, outcome.data) == ("modified", 2)


class Nap(BaseTool):
    name = "nap-test"
    category = "test"
    description = "Sleeps a little, then answers."
    schema = {"type": "object", "properties": {"s": {"type": "number"}}}

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        await asyncio.sleep(params.get("s", 0.001))
        return {"napped": True}


@pytest.fixture
def nap() -> Iterator[None]:
    default_registry().register(Nap(), replace=True)
    yield
    default_registry().unregister("nap-test")


async def test_hooks_reuse_threads_across_errors_yields_and_awaits(run_lua: Runner, nap: None) -> None:
    outcome = await run_lua(
        """
        local n, napped = 0, 0
        Hook.register("BeforeToolExecution", function(ctx)
          if ctx.component.name ~= "calculator" then return end
          n = n + 1
          if n % 4 == 1 then error("odd failure") end
          if n % 4 == 2 then coroutine.yield(1) end
          if n % 4 == 3 then
            napped = napped + (Tool.execute("nap-test", {}).result.napped and 1 or 0)
          end
        end)
        local sum = 0
        for i = 1, 12 do sum = sum + Tool.execute("calculator", {input="x", variables={x=i}}).result.value end
        return {sum=sum, n=n, napped=napped}
        """
    )
    assert outcome.error is None, outcome.error
    # failing hooks are skipped (the breaker opens after 5 failures in a row; they are not)
    assert outcome.result == {"sum": 78, "n": 12, "napped": 3}


async def test_hook_context_data_is_read_when_needed(run_lua: Runner) -> None:
    outcome = await run_lua(
        """
        local before, keys, kept, replaced
        Hook.register("BeforeToolExecution", function(ctx)
          before = rawget(ctx, "data") == nil  -- not converted yet
          keys = {}
          for k in pairs(ctx) do keys[#keys + 1] = k end  -- pairs sees data
          table.sort(keys)
          kept = ctx
        end, "high")
        Hook.register("BeforeToolExecution", function(ctx)
          ctx.data = {tool="calculator", params={input="40+2"}}  -- set before any read
          return {action="modified", data=ctx.data}
        end)
        local v = Tool.execute("calculator", {input="1+1"}).result.value
        Hook.register("custom:echo", function(ctx) return {action="replace", result=ctx} end)
        replaced = Hook.fire("custom:echo", {deep={1, 2}}).result
        return {v=v, before=before, keys=keys, input=kept.data.params.input,
                fired=replaced.data, point=replaced.point,
                plain=Hook.fire("custom:echo", "hi").result.data}
        """
    )
    assert outcome.error is None, outcome.error
    assert outcome.result == {
        "v": 42,
        "before": True,
        "keys": ["attempt", "component", "correlation_id", "data", "point", "run_id"],
        "input": "1+1",
        "fired": {"deep": [1, 2]},
        "point": "custom:echo",
        "plain": "hi",
    }
