"""Hostile scripts: each is stopped with SANDBOX_VIOLATION, LIMIT_EXCEEDED or TIMEOUT
within its budget, and the next run in the same process works."""

from __future__ import annotations

import time
from typing import Any

import pytest

Runner = Any

STOP_CODES = {"SANDBOX_VIOLATION", "LIMIT_EXCEEDED", "TIMEOUT"}

HOSTILE: dict[str, str] = {
    "io_open": 'local f = io.open("/etc/passwd") return f:read("*a")',
    "io_popen": 'return io.popen("id"):read("*a")',
    "os_execute": 'return os.execute("id")',
    "os_exit": "os.exit(1)",
    "os_getenv": 'return os.getenv("HOME")',
    "os_remove": 'return os.remove("/tmp/x")',
    "require": 'return require("os")',
    "package_loadlib": 'return package.loadlib("libc.so.6", "system")',
    "dofile": 'return dofile("/etc/passwd")',
    "loadfile": 'return loadfile("/etc/passwd")',
    "load_binary_chunk": 'return load(string.char(27) .. "LuaT\\0\\25\\147\\r\\n\\26\\n")',
    "load_binary_mode": 'return load("return 1", "x", "b")',
    "string_dump": "return string.dump(function() end)",
    "string_dump_method": 'return ("x").dump(print)',
    "debug_sethook": "debug.sethook()",
    "debug_getregistry": "return debug.getregistry()",
    "python_global": 'return python.eval("1")',
    "python_builtins": "return python.builtins.open",
    "getmetatable_string": 'getmetatable("").__index = {}',
    "collectgarbage": 'collectgarbage("stop")',
    "infinite_loop": "while true do end",
    "pcall_swallowed_timeout": "while true do pcall(function() while true do end end) end",
    "xpcall_handler_swallow": "while true do xpcall(function() while true do end end, function() return 1 end) end",
    "coroutine_hidden_loop": "local co = coroutine.create(function() while true do end end) coroutine.resume(co)",
    "coroutine_wrap_loop": "coroutine.wrap(function() while true do end end)()",
    "gc_finalizer_loop": (
        "for i = 1, 100 do setmetatable({}, {__gc = function() while true do end end}) end "
        "local t = {} while true do t[#t % 100 + 1] = {} end"
    ),
    "memory_bomb_table": "local t = {} for i = 1, 1e9 do t[i] = i end",
    "memory_bomb_string_concat": 'local s = "x" while true do s = s .. s end',
    "string_rep_bomb": 'return string.rep("x", 1e10)',
    "string_rep_sep_bomb": 'return ("x"):rep(1e8, ("y"):rep(1000))',
    "pattern_blowup": 'return string.find(string.rep("a", 5000), ".-.-.-.-.-b")',
    "gsub_pattern_blowup": 'return (string.rep("a", 4000)):gsub("(.-)(.-)(.-)b", "%1")',
    "deep_recursion": "local function f(n) return 1 + f(n + 1) end return f(1)",
    "huge_output": 'for i = 1, 1e7 do print(("x"):rep(100)) end',
    "format_bomb": 'local s = ("x"):rep(1e7) return string.format("%s%s%s", s, s, s)',
    "concat_bomb": 'local t = {} for i = 1, 100 do t[i] = ("x"):rep(1e6) end return table.concat(t, ("y"):rep(1e6))',
    "pcall_memory_swallow": "while true do pcall(function() local t = {} for i = 1, 1e9 do t[i] = i end end) end",
    "sort_comparator_loop": "table.sort({3, 2, 1, 5, 4}, function(a, b) while true do end end)",
    "gsub_callback_loop": 'return ("abc"):gsub(".", function(c) while true do end end)',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
async def test_hostile_script_is_stopped(run_lua: Runner, name: str) -> None:
    budget_s = 1.0
    started = time.monotonic()
    outcome = await run_lua(HOSTILE[name], timeout_s=budget_s, memory_mb=24)
    elapsed = time.monotonic() - started
    assert outcome.error is not None, f"{name} was not stopped: {outcome.result!r}"
    assert outcome.error.code in STOP_CODES, f"{name}: {outcome.error}"
    assert elapsed < budget_s + 1.5, f"{name} took {elapsed:.2f}s"
    # The next run in the same process is unaffected.
    follow_up = await run_lua('return "ok"')
    assert follow_up.error is None and follow_up.result == "ok"


async def test_at_least_25_hostile_scripts() -> None:
    assert len(HOSTILE) >= 25


async def test_global_pollution_does_not_cross_runs(run_lua: Runner) -> None:
    first = await run_lua(
        "leaked = 42; string.upper = nil; table.insert = nil; JSON.parse = nil; return leaked"
    )
    assert first.result == 42
    second = await run_lua(
        'return {leaked = leaked == nil, upper = ("a"):upper(), n = #JSON.parse("[1,2]"),'
        " ins = table.insert ~= nil}"
    )
    assert second.error is None
    assert second.result == {"leaked": True, "upper": "A", "n": 2, "ins": True}


async def test_removed_names_are_reported_at_their_line(run_lua: Runner) -> None:
    outcome = await run_lua("local x = 1\nlocal f = io.open('x')")
    assert outcome.error is not None and outcome.error.code == "SANDBOX_VIOLATION"
    assert outcome.error.details["line"] == 2


async def test_instruction_budget_is_enforced() -> None:
    from llmspell.core.context import ExecutionContext, Limits
    from llmspell.runtime.runner import execute_script

    ctx = ExecutionContext(limits=Limits(timeout_s=10, instruction_budget=1_000_000))
    outcome = await execute_script("local n = 0 for i = 1, 1e9 do n = n + i end", ctx=ctx)
    assert outcome.error is not None and outcome.error.code == "LIMIT_EXCEEDED"
    assert "instruction budget" in outcome.error.message


async def test_error_objects_are_never_stringified_by_the_host(run_lua: Runner) -> None:
    outcome = await run_lua("error(setmetatable({}, {__tostring = function() while true do end end}))")
    assert outcome.error is not None and outcome.error.code == "SCRIPT_ERROR"


async def test_cancel_token_stops_a_cpu_loop() -> None:
    import threading

    from llmspell.core.context import ExecutionContext, Limits
    from llmspell.runtime.runner import execute_script

    ctx = ExecutionContext(limits=Limits(timeout_s=10))
    # Cancellation arrives from another thread (the API's), as in the daemon.
    timer = threading.Timer(0.2, ctx.cancel_token.cancel, ("stop requested",))
    timer.start()
    started = time.monotonic()
    outcome = await execute_script("while true do end", ctx=ctx)
    assert outcome.status == "cancelled"
    assert outcome.error is not None and outcome.error.message == "stop requested"
    assert time.monotonic() - started < 1.5


async def test_allowed_library_functions_work(run_lua: Runner) -> None:
    source = """
    local ok, err = pcall(error, {code = "X", message = "caught"})
    local co = coroutine.wrap(function(a) local b = coroutine.yield(a + 1) return b * 2 end)
    local first, second = co(1), co(10)
    local f = load("return 1 + 1")
    return {
      pcall = (not ok) and err.message,
      co = {first, second},
      load = f(),
      fmt = string.format("%05.1f", 3.14159),
      gsub = ("a-b-c"):gsub("-", "+"),
      utf8 = utf8.len("héllo"),
      time = type(os.time()),
      sort = (function() local t = {3, 1, 2} table.sort(t) return t end)(),
    }
    """
    outcome = await run_lua(source)
    assert outcome.error is None, outcome.error
    assert outcome.result == {
        "pcall": "caught",
        "co": [2, 20],
        "load": 2,
        "fmt": "003.1",
        "gsub": "a+b+c",
        "utf8": 5,
        "time": "number",
        "sort": [1, 2, 3],
    }
