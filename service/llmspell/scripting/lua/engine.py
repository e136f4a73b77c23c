"""The Lua engine: PUC Lua 5.4 through lupa, fresh sandboxed globals per run (runtimes are
reused between runs on a thread, see :class:`_Shell`).

Runtime model: the script's main chunk runs as a Lua coroutine driven by :meth:`LuaRun.call`
on the caller's event loop. A call into Python either completes at once (the async
function is stepped eagerly and finished without suspending) or parks its awaitable and
yields a ticket up to the driver, which awaits it and resumes the script with the
result. N scripts waiting on I/O therefore cost one latency, not N threads.

Hook points fired here (only when hooks are registered): SecurityViolation when the sandbox
refuses something (the prelude asks the host before raising), ResourceLimitExceeded when
the run stops on one of its limits (instructions, memory, output, string size, deadline),
MemoryUsageHigh once the script's memory passes ``limits.memory_high_fraction``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from functools import cache
from importlib import resources
from itertools import count
from typing import TYPE_CHECKING, Any

from lupa import lua54

from ...core.aio import Resumed
from ...core.context import ExecutionContext
from ...core.errors import (
    Cancelled,
    LimitExceeded,
    LLMSpellError,
    SandboxViolation,
    ScriptError,
    ScriptSyntaxError,
    Timeout,
    ValidationError,
    error_from_code,
)
from ..abc import EngineCapabilities, ScriptEngineBridge, ScriptResult
from ..api import builder_of, eager_builders, lazy_globals
from ..api.surface import ApiNamespace, ScriptEnv, ScriptFunction
from .convert import _PLAIN, LuaConverter

if TYPE_CHECKING:
    from ...hooks.abc import HookContext

__all__ = ["LuaEngine", "LuaRun"]

log = logging.getLogger("llmspell.scripting.lua")

_PRELUDE = resources.files(__package__).joinpath("prelude.lua").read_text(encoding="utf-8")
_MB = 1024 * 1024
_PATTERN_WORK = 1e8
_LOCATION = re.compile(r"^(?P<file>[^\n]*?):(?P<line>\d+): (?P<message>.*)$", re.DOTALL)
_FATAL_CODES = frozenset({"TIMEOUT", "CANCELLED", "LIMIT_EXCEEDED"})
_REPORTED = "_llmspell_hook_reported"  # set by llmspell.hooks._fire on errors already reported
_lua_type = lua54.lua_type
_SHELL_RUNS = 1000  # runs served by one runtime before it is retired
_SHELL_GROWTH = 4 * _MB  # live memory a runtime may gain over its first run's start
_IDLE_SHELLS = 16  # idle runtimes kept per thread and memory limit
# After a burst of concurrent runs, up to this many more stay idle for _IDLE_BURST_S (a
# runtime costs ~0.24 ms to create and ~84 KB to keep): the next burst reuses them.
_IDLE_BURST = 1024
_IDLE_BURST_S = 30.0


def _deny_attributes(obj: object, name: str, is_setting: bool) -> str:
    raise AttributeError("Python attributes are not reachable from scripts")


@cache
def _prelude_bytecode() -> bytes:
    """The prelude compiled once per process (loading bytecode is 5x faster than source)."""
    boot = lua54.LuaRuntime(register_eval=False, register_builtins=False, encoding=None)
    dump = boot.eval("function(s) return string.dump(assert(load(s, '=prelude', 't')), true) end")
    code: bytes = dump(_PRELUDE.encode("utf-8"))
    return code


def _new_runtime(max_memory: int | None) -> Any:
    kwargs: dict[str, Any] = {}
    if max_memory:
        kwargs["max_memory"] = max_memory
    return lua54.LuaRuntime(
        register_eval=False,
        register_builtins=False,
        unpack_returned_tuples=True,
        attribute_filter=_deny_attributes,
        **kwargs,
    )


class _Shell:
    """A Lua runtime with the sandbox kernel loaded, serving runs one after another.

    Creating a runtime and running the prelude cost more than a short script itself, so a
    runtime that ended a run cleanly (no limit hit, no thread left suspended) is kept for
    the next run on the same thread (lupa runtimes are not shared between threads). Each
    run gets fresh globals and library tables from ``open_run``; ``close_run`` drops them,
    so nothing a script could reach survives it. A runtime is retired after
    ``_SHELL_RUNS`` runs or when its memory grew past ``_SHELL_GROWTH`` bytes.
    """

    __slots__ = (
        "baseline",
        "close_run",
        "converter_functions",
        "driver",
        "idle_since",
        "kernel",
        "max_memory",
        "open_run",
        "references",
        "runs",
        "runtime",
    )

    _idle = threading.local()

    def __init__(self, max_memory: int | None) -> None:
        self.max_memory = max_memory
        self.runtime = _new_runtime(max_memory)
        try:
            self.kernel = self.runtime.globals().load(_prelude_bytecode(), "=prelude", "b")()
        except lua54.LuaMemoryError as exc:
            raise LimitExceeded("memory limit too small to start the Lua runtime") from exc
        kernel = self.kernel
        self.open_run = kernel.open_run
        self.close_run = kernel.close_run
        # Looked up once: lupa's table access from Python is unreliable while a script
        # coroutine is suspended in a callback (a hook run from inside an API call).
        self.driver = (
            kernel.step,
            kernel.start,
            kernel.start_hook,
            kernel.spawn,
            kernel.fatal,
            kernel.make_namespace,
        )
        # Each lookup makes a new Python wrapper: per runtime, not per run.
        self.converter_functions = (
            kernel.classify,
            kernel.explode,
            kernel.hook_context,
            kernel.mark_array,
            kernel.make_object,
            kernel.make_iterator,
            kernel.bridge,
        )
        self.runs = 0
        self.baseline = self.runtime.get_memory_used()
        self.references = sys.getrefcount(self.runtime)

    @classmethod
    def take(cls, max_memory: int | None) -> _Shell:
        idle: dict[int | None, list[_Shell]] | None = getattr(cls._idle, "shells", None)
        if idle:
            shells = idle.get(max_memory)
            if shells:
                return shells.pop()
        return cls(max_memory)

    def give_back(self, clean: bool) -> None:
        try:
            clean = bool(self.close_run()) and clean
        except lua54.LuaError:
            clean = False
        self.runs += 1
        if not clean or self.runs >= _SHELL_RUNS:
            return
        if sys.getrefcount(self.runtime) != self.references:
            # A Lua value of the run is still held in Python (each holds the runtime): it
            # must never see another run's state, and lupa frees it through the Lua thread
            # it came from, which a reused runtime may have collected.
            return
        if self.runtime.get_memory_used() - self.baseline > _SHELL_GROWTH:
            self.runtime.gccollect()
            if self.runtime.get_memory_used() - self.baseline > _SHELL_GROWTH:
                return
        idle: dict[int | None, list[_Shell]] | None = getattr(self._idle, "shells", None)
        if idle is None:
            idle = self._idle.shells = {}
        shells = idle.setdefault(self.max_memory, [])
        now = time.monotonic()
        _trim(shells, now)
        if len(shells) < _IDLE_SHELLS + _IDLE_BURST:
            self.idle_since = now
            shells.append(self)  # taken last in, first out: the oldest idle are trimmed first


def _trim(shells: list[_Shell], now: float) -> None:
    expired = 0
    limit = len(shells) - _IDLE_SHELLS
    while expired < limit and now - shells[expired].idle_since > _IDLE_BURST_S:
        expired += 1
    if expired:
        del shells[:expired]


def trim_idle_runtimes(now: float | None = None) -> None:
    """Drop this thread's idle runtimes kept past a burst (runtime threads call it
    periodically, so an idle daemon gives their memory back)."""
    idle: dict[int | None, list[_Shell]] | None = getattr(_Shell._idle, "shells", None)
    for shells in (idle or {}).values():
        _trim(shells, time.monotonic() if now is None else now)


class LuaFunction(ScriptFunction):
    """A Lua function handed to Python; calling it runs it on a new script coroutine."""

    __slots__ = ("_fn", "_run")

    def __init__(self, run: LuaRun, fn: Any) -> None:
        self._run = run
        self._fn = fn

    def __call__(self, *args: Any) -> Coroutine[Any, Any, Any]:  # the driver's coroutine itself
        return self._run.call(self._fn, *args)

    def call_hook(self, hctx: HookContext) -> tuple[bool, Any]:
        """Synchronous fast path for hooks (see :meth:`LuaRun.call_hook`)."""
        return self._run.call_hook(self._fn, hctx)


class LuaRun:
    """One execution: a fresh runtime with the sandbox prelude, the API, and the driver."""

    _violation_bridge: Callable[..., tuple[str, Any]]
    closed = False
    _spent = False

    def __init__(self, env: ScriptEnv, ctx: ExecutionContext) -> None:
        self.env = env
        self.ctx = ctx
        limits = ctx.limits
        self._output_bytes = 0
        self._loaded_modules: set[str] = set()
        self._tickets = count(1)
        self._parked: dict[int, Any] = {}
        # A hook point waiting for the script's next call into Python (the count hook cannot await).
        self._pending: tuple[str, dict[str, Any]] | None = None
        fraction = limits.memory_high_fraction
        # Bytes past which MemoryUsageHigh fires (None: off, or fired already).
        self._memory_mark = int(limits.memory_mb * _MB * fraction) if limits.memory_mb and fraction else None
        shell = self._shell = _Shell.take(limits.memory_mb * _MB if limits.memory_mb else None)
        self.runtime = runtime = shell.runtime
        self.kernel = shell.kernel
        host = runtime.table_from(
            {
                "check": self._check,
                "print": self._print,
                "load_global": self._load_global,
                "violation": lambda *args: self._violation_bridge(*args),
                "hook_data": self._hook_data,
                "lazy_globals": runtime.table_from(dict.fromkeys(lazy_globals(), True)),
                "max_string": limits.max_string_bytes,
                "pattern_work": _PATTERN_WORK,
                **(
                    {"max_steps": max(1, limits.instruction_budget // 1000)}
                    if limits.instruction_budget
                    else {}
                ),
            }
        )
        try:
            self.null = shell.open_run(host)
        except lua54.LuaMemoryError as exc:
            raise LimitExceeded("memory limit too small to start the Lua runtime") from exc
        self.conv = LuaConverter(self, shell.converter_functions)
        self._violation_bridge = self.wrap_callable(self._violation)
        (
            self._step,
            self._start,
            self._start_hook,
            self._spawn,
            self._fatal,
            self._make_namespace,
        ) = shell.driver

    # Host callbacks (called from Lua) ----------------------------------------------------

    def _check(self) -> tuple[str, str] | None:
        try:
            self.ctx.check()
        except LLMSpellError as exc:
            return exc.code, exc.message
        mark = self._memory_mark
        if mark is not None and self.runtime.get_memory_used() > mark:
            self._memory_high()
        return None

    def _hooks(self) -> Any:
        from ...hooks.registry import hooks_for

        return hooks_for(self.ctx)

    def _memory_high(self) -> None:
        """Queue MemoryUsageHigh (once): it fires at the script's next call into Python."""
        hooks = self._hooks()
        if hooks is None or not hooks.chain("MemoryUsageHigh"):
            return  # checked again later: a hook may be registered meanwhile
        self._memory_mark = None
        self._pending = (
            "MemoryUsageHigh",
            {
                "kind": "script",
                "used_mb": round(self.runtime.get_memory_used() / _MB, 3),
                "limit_mb": self.ctx.limits.memory_mb or 0,
                "fraction": self.ctx.limits.memory_high_fraction,
            },
        )

    async def _fire_pending(self) -> None:
        pending, self._pending = self._pending, None
        hooks = self._hooks()
        if pending is not None and hooks is not None:
            from ...hooks._fire import observe

            await observe(hooks, pending[0], ("script", self.env.script_name), pending[1], self.ctx)

    async def _pending_first(self, fn: Callable[..., Any], args: list[Any]) -> Any:
        await self._fire_pending()
        result = fn(*args)
        if asyncio.iscoroutine(result):
            result = await result
        return result

    async def _violation(self, message: str, file: Any = None, line: Any = None) -> None:
        """The sandbox refused something (called by the prelude before it raises)."""
        hooks = self._hooks()
        if hooks is None:
            return
        from ...hooks._fire import report_error

        details: dict[str, Any] = {"kind": "script"}
        if file is not None:
            details.update(file=file, line=line)
        error = SandboxViolation(message, details=details)
        await report_error(hooks, self.ctx, error, ("script", self.env.script_name))

    def _hook_data(self, source: Any) -> tuple[str, Any]:
        """A hook context's data, converted when the hook first reads it (prelude: load_data)."""
        try:
            return "ok", self.conv.to_lua(source)
        except LLMSpellError as exc:
            return "err", self.error_table(exc)

    def _print(self, text: str | bytes) -> tuple[str, Any]:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        line = text + "\n"
        self._output_bytes += len(line.encode("utf-8", "replace"))
        limit = self.ctx.limits.output_bytes
        if limit is not None and self._output_bytes > limit:
            error = LimitExceeded(
                f"output exceeded {limit} bytes",
                details={"fatal": True, "resource": "output_bytes", "limit": limit},
            )
            return "err", self.error_table(error)
        if self.env.stdout is not None:
            self.env.stdout.write(line)
        return "ok", None

    def _load_global(self, name: str) -> tuple[str, Any]:
        """Build the API module providing global ``name`` (on the script's first use)."""
        module = lazy_globals().get(name)
        if module is None or module in self._loaded_modules:
            return "ok", None
        self._loaded_modules.add(module)
        try:
            self.install(builder_of(module)(self.env, self.ctx))
        except LLMSpellError as exc:
            return "err", self.error_table(exc)
        # Siblings of the same module (``ARGS``/``arg``) are installed now too.
        return "ok", None

    # Wiring --------------------------------------------------------------------------

    def error_table(self, error: LLMSpellError) -> Any:
        """The Lua error table for ``error`` (``{code, message, details}``)."""
        details = dict(error.details)
        if error.code in _FATAL_CODES and isinstance(error, Timeout | Cancelled):
            details["fatal"] = True
        fields = {"code": error.code, "message": error.message, "details": self.conv.to_lua(details)}
        if getattr(error, _REPORTED, False):
            fields["_reported"] = True
        return self.runtime.table_from(fields)

    def wrap_callable(self, fn: Callable[..., Any]) -> Callable[..., tuple[str, Any]]:
        """Wrap a Python callable (sync or async) for the Lua ``bridge``."""
        conv = self.conv

        def call(*args: Any) -> tuple[str, Any]:
            try:
                if self._pending is None:
                    result = fn(*[conv.from_lua(arg) for arg in args])
                else:
                    result = self._pending_first(fn, [conv.from_lua(arg) for arg in args])
                if asyncio.iscoroutine(result):
                    try:
                        first = result.send(None)
                    except StopIteration as stop:
                        result = stop.value
                    else:
                        ticket = next(self._tickets)
                        self._parked[ticket] = Resumed(result, first)
                        return "await", ticket
                return "ok", conv.to_lua(result)
            except LLMSpellError as exc:
                return "err", self.error_table(exc)
            except Exception as exc:
                log.debug("internal error in a script call", exc_info=True)
                return "err", self.error_table(LLMSpellError(f"internal error: {exc}"))

        return call

    def script_function(self, fn: Any) -> LuaFunction:
        """A :class:`ScriptFunction` for the Lua function ``fn``."""
        return LuaFunction(self, fn)

    def install(self, namespaces: Iterable[ApiNamespace]) -> None:
        """Set each namespace as a global of the script environment; its functions are
        wrapped when the script first reads them (``make_namespace`` in the prelude)."""
        make = self._make_namespace
        table_from = self.runtime.table_from
        for ns in namespaces:
            functions, lookup = ns.functions, ns.index

            def index(
                name: str,
                functions: dict[str, Callable[..., Any]] = functions,
                lookup: Callable[[str], Any] | None = lookup,
            ) -> Any:
                found = functions.get(name)
                if found is None and lookup is not None:
                    found = lookup(name)
                return None if found is None else self.wrap_callable(found)

            values = table_from({k: self.conv.to_lua(v) for k, v in ns.values.items()})
            make(ns.name, table_from(list(functions)), values, index)

    # Driver ----------------------------------------------------------------------------

    async def call(self, fn: Any, *args: Any) -> Any:
        """Run Lua function ``fn`` on a script thread, awaiting what it awaits."""
        if self.closed:
            raise _ended_run()
        to_lua = self.conv.to_lua
        done, value = self._outcome(self._start, fn, *[to_lua(arg) for arg in args])
        return value if done else await value

    def call_hook(self, fn: Any, hctx: HookContext) -> tuple[bool, Any]:
        """Run Lua function ``fn`` as a hook now: ``(True, its result)`` when it finished
        without awaiting (no coroutine is created), else ``(False, awaitable of the result)``.

        The context table is built and the function started in one Lua call; ``data`` is
        converted when the function first reads it.
        """
        if self.closed:
            raise _ended_run()
        data = hctx.data
        plain, source = (data, None) if type(data) in _PLAIN else (None, data)
        kind, name = hctx.component
        return self._outcome(
            self._start_hook,
            fn,
            hctx.point,
            kind,
            name,
            plain,
            source,
            hctx.correlation_id,
            hctx.run_id,
            hctx.attempt,
        )

    def _outcome(self, start: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
        try:
            thread, tag, value = start(*args)
        except lua54.LuaMemoryError as exc:
            raise self._memory_error() from exc
        except lua54.LuaError as exc:
            raise self.translate(exc.args[0] if exc.args else str(exc)) from None
        except UnicodeDecodeError as exc:
            raise _not_utf8(exc) from None
        if tag == "done":
            return True, self.conv.from_lua(value)
        if tag == "error":
            raise self.translate(value)
        return False, self._drive(thread, value)

    async def _drive(self, thread: int, ticket: int) -> Any:
        """Go on with a script thread that awaits ``ticket``, until it finishes."""
        while True:
            send = await self._settle(self._parked.pop(ticket))
            try:
                tag, value = self._step(thread, *send)
            except lua54.LuaMemoryError as exc:
                raise self._memory_error() from exc
            except lua54.LuaError as exc:
                raise self.translate(exc.args[0] if exc.args else str(exc)) from None
            except UnicodeDecodeError as exc:
                raise _not_utf8(exc) from None
            if tag == "done":
                return self.conv.from_lua(value)
            if tag == "error":
                raise self.translate(value)
            ticket = value

    def _memory_error(self) -> LimitExceeded:
        return LimitExceeded(
            "memory limit exceeded", details={"resource": "memory_mb", "limit": self.ctx.limits.memory_mb}
        )

    async def _settle(self, awaitable: Any) -> tuple[str, Any]:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        token = self.ctx.cancel_token

        def wake() -> None:
            if task is not None:
                loop.call_soon_threadsafe(task.cancel)

        remove = token.add_callback(wake)
        error: LLMSpellError
        try:
            remaining = self.ctx.remaining()
            if remaining is None:
                result = await awaitable
            else:
                async with asyncio.timeout(remaining):
                    result = await awaitable
            self.ctx.check()
            return "ok", self.conv.to_lua(result)
        except TimeoutError:
            error = Timeout(
                f"deadline of {self.ctx.limits.timeout_s}s exceeded",
                details={"fatal": True, "timeout_s": self.ctx.limits.timeout_s},
            )
        except asyncio.CancelledError:
            if not token.cancelled or task is None:
                raise
            task.uncancel()
            error = Cancelled(token.reason or "run cancelled", details={"fatal": True})
        except LLMSpellError as exc:
            error = exc
        finally:
            remove()
        return "err", self.error_table(error)

    def translate(self, err: Any) -> LLMSpellError:
        """Turn a Lua error value into an ``LLMSpellError`` (no Lua code runs here)."""
        fatal = self._fatal()
        if fatal is not None:
            err = fatal
        if _lua_type(err) == "table":
            code = _plain(err["code"])
            if isinstance(code, str):
                details = _plain(err["details"])
                details = dict(details) if isinstance(details, dict) else {}
                details.pop("fatal", None)
                for key in ("file", "line"):
                    location = _plain(err[key])
                    if location is not None:
                        details[key] = location
                translated = error_from_code(code, str(_plain(err["message"])), details)
                if _plain(err["_reported"]):
                    setattr(translated, _REPORTED, True)
                return translated
            return ScriptError("error object: " + _describe(err))
        if isinstance(err, bytes):
            err = err.decode("utf-8", "replace")
        message = str(err)
        match = _LOCATION.match(message)
        where: dict[str, Any] = {}
        if match:
            where = {"file": match["file"], "line": int(match["line"])}
            message = match["message"]
        if "stack overflow" in message:
            return LimitExceeded(f"stack overflow ({message})", details={**where, "resource": "stack"})
        if message == "not enough memory":
            return LimitExceeded(
                "memory limit exceeded",
                details={**where, "resource": "memory_mb", "limit": self.ctx.limits.memory_mb},
            )
        return ScriptError(message, details=where)

    async def run(self, source: str) -> ScriptResult:
        """Compile and run ``source`` with the API installed."""
        chunk = self.env.script_name
        fn, problem = self.kernel.compile(source, chunk)
        if fn is None:
            raise _syntax_error(problem)
        self.install(ns for builder in eager_builders() for ns in builder(self.env, self.ctx))
        try:
            value = await self.call(fn)
        except asyncio.CancelledError:
            raise Cancelled(self.ctx.cancel_token.reason or "run cancelled") from None
        except LLMSpellError as exc:
            if exc.code in _FATAL_CODES:
                self._spent = True  # a limit stopped the run: its runtime is not reused
            await self._ended(exc)
            raise
        await self._ended(None)
        return ScriptResult(value=self.conv.detach(value), metadata={"instructions": self.kernel.steps()})

    async def _ended(self, error: LLMSpellError | None) -> None:
        """Fire a queued hook point; report the limit or refusal that stopped the run."""
        if self._pending is not None:
            await self._fire_pending()
        if error is None or error.code not in ("LIMIT_EXCEEDED", "TIMEOUT", "SANDBOX_VIOLATION"):
            return
        hooks = self._hooks()
        if hooks is not None:
            from ...hooks._fire import report_error

            await report_error(hooks, self.ctx, error, ("script", self.env.script_name))

    def close(self) -> None:
        """End the run: its runtime goes back to the thread's idle shells when the run
        ended cleanly (see :class:`_Shell`), else it is dropped.

        The Lua state holds our callbacks, which hold this run and the converter, which
        hold the state: clearing both objects breaks that cycle, so nothing of the run is
        left for a later cyclic GC pass (which cost the daemon a quarter of its CPU on
        short runs).
        """
        for awaitable in self._parked.values():
            if isinstance(awaitable, Resumed):
                awaitable.close()
        clean = not self._parked and not self._spent
        self._parked.clear()
        shell = self.__dict__.get("_shell")
        conv = self.__dict__.get("conv")
        if conv is not None:
            conv.__dict__.clear()
        self.__dict__.clear()
        self.closed = True
        if shell is not None:
            shell.give_back(clean)


def _not_utf8(exc: UnicodeDecodeError) -> ValidationError:
    return ValidationError(
        f"a string the script handed over is not UTF-8 text ({exc.reason} at byte {exc.start}): "
        "encode binary data, e.g. with base64"
    )


def _ended_run() -> LLMSpellError:
    return LLMSpellError("this Lua function belongs to a run that has ended")


def _plain(value: Any, depth: int = 0) -> Any:
    """Copy a Lua value to Python without running Lua code (safe after a fatal error)."""
    kind = _lua_type(value)
    if kind is None:
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    if kind == "table" and depth < 8:
        items = list(value.items())
        if items and all(isinstance(k, int) for k, _ in items):
            return [_plain(v, depth + 1) for _, v in sorted(items, key=lambda kv: kv[0])]
        return {str(k): _plain(v, depth + 1) for k, v in items}
    return None


def _describe(value: Any) -> str:
    plain = _plain(value)
    return str(plain)[:200]


def _syntax_error(problem: Any) -> ScriptSyntaxError:
    message = problem.decode("utf-8", "replace") if isinstance(problem, bytes) else str(problem)
    match = _LOCATION.match(message)
    if match:
        return ScriptSyntaxError(
            f"syntax error: {match['message']}", details={"file": match["file"], "line": int(match["line"])}
        )
    return ScriptSyntaxError(f"syntax error: {message}")


class LuaEngine(ScriptEngineBridge):
    """PUC Lua 5.4 (lupa) with the sandbox of docs/architecture.md."""

    name = "lua"

    @property
    def capabilities(self) -> EngineCapabilities:
        return EngineCapabilities(language="lua", version="Lua 5.4", file_extensions=(".lua",))

    def release_idle(self) -> None:
        trim_idle_runtimes()

    def check_syntax(self, source: str, chunk_name: str = "script") -> None:
        runtime = _new_runtime(64 * _MB)
        loader = runtime.eval("function(s, n) local f, e = load(s, n, 't', {}) return f, e end")
        fn, problem = loader(source, "@" + chunk_name)
        if fn is None:
            raise _syntax_error(problem)

    async def execute(self, source: str, env: ScriptEnv, ctx: ExecutionContext) -> ScriptResult:
        run = LuaRun(env, ctx)
        try:
            return await run.run(source)
        finally:
            run.close()
