"""The Lua engine: PUC Lua 5.4 through lupa, one fresh sandboxed runtime per run.

Runtime model: the script's main chunk runs as a Lua coroutine driven by :meth:`LuaRun.call`
on the caller's event loop. A call into Python either completes at once (the async
function is stepped eagerly and finished without suspending) or parks its awaitable and
yields a ticket up to the driver, which awaits it and resumes the script with the
result. N scripts waiting on I/O therefore cost one latency, not N threads.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Generator, Iterable
from functools import cache
from importlib import resources
from itertools import count
from typing import Any

from lupa import lua54

from ...core.context import ExecutionContext
from ...core.errors import (
    Cancelled,
    LimitExceeded,
    LLMSpellError,
    ScriptError,
    ScriptSyntaxError,
    Timeout,
    error_from_code,
)
from ..abc import EngineCapabilities, ScriptEngineBridge, ScriptResult
from ..api import builder_of, eager_builders, lazy_globals
from ..api.surface import ApiNamespace, ScriptEnv, ScriptFunction
from .convert import LuaConverter

__all__ = ["LuaEngine", "LuaRun"]

log = logging.getLogger("llmspell.scripting.lua")

_PRELUDE = resources.files(__package__).joinpath("prelude.lua").read_text(encoding="utf-8")
_MB = 1024 * 1024
_PATTERN_WORK = 1e8
_LOCATION = re.compile(r"^(?P<file>[^\n]*?):(?P<line>\d+): (?P<message>.*)$", re.DOTALL)
_FATAL_CODES = frozenset({"TIMEOUT", "CANCELLED", "LIMIT_EXCEEDED"})
_lua_type = lua54.lua_type


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


class _Continuation:
    """Awaits the rest of a coroutine that was stepped once outside ``await``.

    Equivalent to ``yield from`` over the coroutine: every future it yields goes to the
    task awaiting this object, and values/exceptions sent back go into the coroutine.
    """

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Any, first: Any) -> None:
        self._coro = coro
        self._first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, value = self._coro, self._first
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # delivered into the coroutine (e.g. CancelledError)
                try:
                    value = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


class LuaFunction(ScriptFunction):
    """A Lua function handed to Python; calling it runs it on a new script coroutine."""

    __slots__ = ("_fn", "_run")

    def __init__(self, run: LuaRun, fn: Any) -> None:
        self._run = run
        self._fn = fn

    async def __call__(self, *args: Any) -> Any:
        return await self._run.call(self._fn, *args)


class LuaRun:
    """One execution: a fresh runtime with the sandbox prelude, the API, and the driver."""

    def __init__(self, env: ScriptEnv, ctx: ExecutionContext) -> None:
        self.env = env
        self.ctx = ctx
        limits = ctx.limits
        self.runtime = _new_runtime(limits.memory_mb * _MB if limits.memory_mb else None)
        self._output_bytes = 0
        self._loaded_modules: set[str] = set()
        self._tickets = count(1)
        self._parked: dict[int, Any] = {}
        host = self.runtime.table_from(
            {
                "check": self._check,
                "print": self._print,
                "load_global": self._load_global,
                "lazy_globals": self.runtime.table_from(dict.fromkeys(lazy_globals(), True)),
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
            prelude = self.runtime.globals().load(_prelude_bytecode(), "=prelude", "b")
            self.kernel = prelude(host)
        except lua54.LuaMemoryError as exc:
            raise LimitExceeded("memory limit too small to start the Lua runtime") from exc
        self.conv = LuaConverter(self)
        self._step = self.kernel.step
        self._make_namespace = self.kernel.make_namespace

    # Host callbacks (called from Lua) ----------------------------------------------------

    def _check(self) -> tuple[str, str] | None:
        try:
            self.ctx.check()
        except LLMSpellError as exc:
            return exc.code, exc.message
        return None

    def _print(self, text: str | bytes) -> tuple[str, Any]:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        line = text + "\n"
        self._output_bytes += len(line.encode("utf-8", "replace"))
        limit = self.ctx.limits.output_bytes
        if limit is not None and self._output_bytes > limit:
            error = LimitExceeded(f"output exceeded {limit} bytes", details={"fatal": True})
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
        return self.runtime.table_from(
            {"code": error.code, "message": error.message, "details": self.conv.to_lua(details)}
        )

    def wrap_callable(self, fn: Callable[..., Any]) -> Callable[..., tuple[str, Any]]:
        """Wrap a Python callable (sync or async) for the Lua ``bridge``."""
        conv = self.conv

        def call(*args: Any) -> tuple[str, Any]:
            try:
                result = fn(*[conv.from_lua(arg) for arg in args])
                if asyncio.iscoroutine(result):
                    try:
                        first = result.send(None)
                    except StopIteration as stop:
                        result = stop.value
                    else:
                        ticket = next(self._tickets)
                        self._parked[ticket] = _Continuation(result, first)
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
        """Set each namespace as a global of the script environment."""
        make = self._make_namespace
        for ns in namespaces:
            funcs = self.runtime.table_from({k: self.wrap_callable(f) for k, f in ns.functions.items()})
            values = self.runtime.table_from({k: self.conv.to_lua(v) for k, v in ns.values.items()})
            index = None
            if ns.index is not None:
                lookup = ns.index

                def index(name: str, lookup: Callable[[str], Any] = lookup) -> Any:
                    found = lookup(name)
                    return None if found is None else self.wrap_callable(found)

            make(ns.name, funcs, values, index)

    # Driver ----------------------------------------------------------------------------

    async def call(self, fn: Any, *args: Any) -> Any:
        """Run Lua function ``fn`` on a new hooked coroutine, awaiting what it awaits."""
        thread = self.kernel.spawn(fn)
        send: tuple[Any, ...] = tuple(self.conv.to_lua(arg) for arg in args)
        while True:
            try:
                tag, value = self._step(thread, *send)
            except lua54.LuaMemoryError as exc:
                raise LimitExceeded("memory limit exceeded") from exc
            except lua54.LuaError as exc:
                raise self.translate(exc.args[0] if exc.args else str(exc)) from None
            if tag == "done":
                return self.conv.from_lua(value)
            if tag == "error":
                raise self.translate(value)
            send = await self._settle(self._parked.pop(value))

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
            error = Timeout(f"deadline of {self.ctx.limits.timeout_s}s exceeded", details={"fatal": True})
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
        fatal = self.kernel.fatal()
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
                return error_from_code(code, str(_plain(err["message"])), details)
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
            return LimitExceeded(f"stack overflow ({message})", details=where)
        if message == "not enough memory":
            return LimitExceeded("memory limit exceeded", details=where)
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
        return ScriptResult(value=self.conv.detach(value), metadata={"instructions": self.kernel.steps()})

    def close(self) -> None:
        """Drop the runtime and everything parked on it."""
        for awaitable in self._parked.values():
            coro = getattr(awaitable, "_coro", None)
            if coro is not None:
                coro.close()
        self._parked.clear()


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
