"""Lua runtimes serve several runs on a thread: nothing a run changes reaches the next one,
and a run stopped by a limit retires its runtime."""

from __future__ import annotations

from typing import Any

import pytest
from llmspell.scripting.lua import engine

Runner = Any

TAMPER = """
leaked_global = "from run 1"
string.upper = function() return "tampered" end
table.insert = nil
math.pi = 3
os.time = function() return 0 end
coroutine.wrap = nil
rawset(JSON.null, "leaked", true)
rawset(_G, "print", nil)
local ok, err = pcall(Tool.execute, "no-such-tool", {})
assert(not ok and type(err) == "table")
getmetatable(err).__tostring = function() return "tampered" end
return "tampered"
"""

CHECK = """
local ok, err = pcall(Tool.execute, "no-such-tool", {})
return {
  leaked_global = leaked_global == nil,
  upper = string.upper("a") == "A" and ("a"):upper() == "A",
  insert = type(table.insert) == "function",
  pi = math.pi > 3.14,
  time = os.time() > 0,
  wrap = type(coroutine.wrap) == "function",
  null = rawget(JSON.null, "leaked") == nil,
  print = type(print) == "function",
  error_tostring = tostring(err) ~= "tampered",
}
"""


@pytest.fixture
def shells_created(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    created: list[int] = []
    original = engine._Shell.__init__

    def counting(self: Any, max_memory: int | None) -> None:
        created.append(1)
        original(self, max_memory)

    monkeypatch.setattr(engine._Shell, "__init__", counting)
    monkeypatch.setattr(engine._Shell, "_idle", type(engine._Shell._idle)())  # this test's own idle shells
    return created


async def test_a_reused_runtime_shows_nothing_of_the_previous_run(
    run_lua: Runner, shells_created: list[int]
) -> None:
    first = await run_lua(TAMPER)
    assert first.error is None, first.error
    second = await run_lua(CHECK)
    assert second.error is None, second.error
    assert second.result == dict.fromkeys(second.result, True)
    assert len(second.result) == 9
    assert len(shells_created) == 1  # the second run did run on the first run's runtime


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("while true do end", "TIMEOUT"),
        ("local t = {} while true do t[#t + 1] = string.rep('x', 1024) end", "LIMIT_EXCEEDED"),
    ],
)
async def test_a_run_stopped_by_a_limit_retires_its_runtime(
    run_lua: Runner, shells_created: list[int], source: str, code: str
) -> None:
    stopped = await run_lua(source, timeout_s=0.3, memory_mb=8)
    assert stopped.error is not None and stopped.error.code == code
    after = await run_lua("return 1 + 1", memory_mb=8)
    assert after.error is None and after.result == 2
    assert len(shells_created) == 2


async def test_runtimes_are_kept_per_memory_limit(run_lua: Runner, shells_created: list[int]) -> None:
    for memory_mb in (8, 16, 8, 16):
        outcome = await run_lua("return 1", memory_mb=memory_mb)
        assert outcome.result == 1
    assert len(shells_created) == 2


async def test_runtimes_kept_past_a_burst_are_dropped_after_a_while(
    run_lua: Runner, shells_created: list[int]
) -> None:
    import asyncio
    import time

    # Each script waits on an event that never comes, so the 40 runs hold 40 runtimes at once.
    waits = 'local id = Event.subscribe("nothing.*") local e = Event.receive(id, 50) return e == nil'
    burst = await asyncio.gather(*(run_lua(waits) for _ in range(40)))
    assert all(outcome.error is None and outcome.result is True for outcome in burst)
    assert len(shells_created) == 40
    (idle,) = engine._Shell._idle.shells.values()
    kept = len(idle)
    assert kept > engine._IDLE_SHELLS  # more than the usual idle runtimes stay for the next burst
    again = await asyncio.gather(*(run_lua("return 2") for _ in range(kept)))
    assert all(outcome.error is None for outcome in again)
    created = len(shells_created)
    engine.trim_idle_runtimes(time.monotonic())
    assert len(idle) == kept  # not old yet
    engine.trim_idle_runtimes(time.monotonic() + engine._IDLE_BURST_S + 1)
    assert len(idle) == engine._IDLE_SHELLS
    assert len(shells_created) == created


async def test_namespace_functions_are_wrapped_on_first_use_and_listed_by_pairs() -> None:
    from llmspell.runtime.runner import execute_script

    outcome = await execute_script(
        """
        local before = rawget(Agent, "create")
        local create = Agent.create
        local after = rawget(Agent, "create")
        local names = {}
        for name, value in pairs(Agent) do names[#names + 1] = name .. "=" .. type(value) end
        table.sort(names)
        return {before = before == nil, same = after == create, names = table.concat(names, " "),
                calculator = type(Tool.calculator), unknown = Agent.nope == nil}
        """
    )
    assert outcome.error is None, outcome.error
    result = outcome.result
    assert result["before"] and result["same"] and result["unknown"]
    assert result["calculator"] == "function"
    names = result["names"].split()
    assert "create=function" in names and "new=function" in names and "list=function" in names
