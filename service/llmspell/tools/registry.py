"""The tool registry: lookup by name, parameter validation, timeouts and the result envelope.

Built-in tools come from the static table in :mod:`llmspell.tools.builtin` and are imported
on first use; third-party tools come from the ``llmspell.tools`` entry-point group, read the
first time a name is not found or the whole catalogue is listed. Creating the default
registry therefore imports nothing heavy.

Parameters are validated with validators compiled once per tool (fastjsonschema, draft 7).
"""

from __future__ import annotations

import builtins
import importlib
import re
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from ..core.abc import Tool
from ..core.aio import Resumed
from ..core.context import ExecutionContext
from ..core.errors import (
    ConfigError,
    Conflict,
    LLMSpellError,
    NotFound,
    Timeout,
    ToolError,
    ValidationError,
)
from ..hooks._fire import observed, watching
from ..hooks.abc import HookContext
from ..hooks.registry import HookRegistry, hooks_for
from .base import NAME_PATTERN, ToolOutput
from .envelope import envelope

__all__ = ["ENTRY_POINT_GROUP", "ToolRegistry", "canonical_name", "default_registry"]

ENTRY_POINT_GROUP = "llmspell.tools"

Validator = Callable[[Any], Any]


def canonical_name(name: str) -> str:
    """The kebab-case form of a tool name (``file_operations`` → ``file-operations``)."""
    return name.replace("_", "-")


class ToolRegistry:
    """A set of tools addressed by kebab-case name (snake_case aliases accepted).

    Args:
        lazy: name → ``"module:Class"`` of tools imported and instantiated on first use.
        entry_point_group: also load tools from this entry-point group, on demand.
        parent: a registry consulted for names this one does not hold (per-run overlays,
            e.g. tools a script registers, sit on top of the process-wide registry).

    The registry is safe to use from several threads; tools themselves must be stateless
    or guard their own state.
    """

    def __init__(
        self,
        *,
        lazy: Mapping[str, str] | None = None,
        entry_point_group: str | None = None,
        parent: ToolRegistry | None = None,
    ) -> None:
        self._tools: dict[str, Tool] = {}
        self._lazy: dict[str, str] = dict(lazy or {})
        self._entry_point_group = entry_point_group
        self._entry_points_loaded = entry_point_group is None
        self._parent = parent
        self._validators: dict[str, tuple[Tool, Validator]] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ registration

    def register(self, tool: Tool, *, replace: bool = False) -> None:
        """Add ``tool`` under its ``name``.

        Raises:
            ValidationError: the name is not kebab-case or the schema is not an object schema.
            Conflict: a tool of that name exists and ``replace`` is false.
        """
        name = getattr(tool, "name", None)
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise ValidationError(
                f"tool name {name!r} must be lower-case kebab-case, like 'my-tool'", details={"field": "name"}
            )
        schema = getattr(tool, "schema", None)
        if not isinstance(schema, Mapping) or schema.get("type") != "object":
            raise ValidationError(
                f"tool {name!r} needs a JSON Schema with type 'object' for its parameters",
                details={"field": "schema", "tool": name},
            )
        with self._lock:
            if not replace and (name in self._tools or name in self._lazy):
                raise Conflict(
                    f"a tool named {name!r} is already registered; pass replace=True to override it",
                    details={"tool": name},
                )
            self._lazy.pop(name, None)
            self._tools[name] = tool
            self._validators.pop(name, None)

    def unregister(self, name: str) -> None:
        """Remove a tool of this registry (not of its parent); ``NotFound`` when absent."""
        key = canonical_name(name)
        with self._lock:
            if self._tools.pop(key, None) is None and self._lazy.pop(key, None) is None:
                raise NotFound.named("tool", name)
            self._validators.pop(key, None)

    # ------------------------------------------------------------------ lookup

    def find(self, name: str) -> Tool | None:
        """The tool called ``name`` (kebab-case or snake_case), or None."""
        tool = self._tools.get(name)  # the usual spelling: no normalisation needed
        if tool is not None:
            return tool
        key = canonical_name(name)
        tool = self._tools.get(key)
        if tool is not None:
            return tool
        if key in self._lazy:
            return self._load_lazy(key)
        if not self._entry_points_loaded:
            self._load_entry_points()
            if key in self._tools or key in self._lazy:
                return self.find(key)
        return self._parent.find(key) if self._parent is not None else None

    def get(self, name: str) -> Tool:
        """The tool called ``name``; raises ``NotFound`` ("No tool named 'x'")."""
        tool = self.find(name)
        if tool is None:
            raise NotFound.named("tool", name)
        return tool

    def exists(self, name: str) -> bool:
        """True when a tool called ``name`` is registered (does not import it)."""
        key = canonical_name(name)
        if key in self._tools or key in self._lazy:
            return True
        if not self._entry_points_loaded:
            self._load_entry_points()
            if key in self._tools or key in self._lazy:
                return True
        return self._parent.exists(key) if self._parent is not None else False

    def names(self) -> builtins.list[str]:
        """Every registered name, sorted, without importing any tool."""
        self._load_entry_points()
        own = set(self._tools) | set(self._lazy)
        if self._parent is not None:
            own |= set(self._parent.names())
        return sorted(own)

    def list(self, category: str | None = None) -> builtins.list[Tool]:
        """Every tool (optionally of one category), sorted by name."""
        tools = [self.get(name) for name in self.names()]
        if category is not None:
            tools = [tool for tool in tools if tool.category == category]
        return tools

    def categories(self) -> builtins.list[str]:
        """The categories of the registered tools, sorted."""
        return sorted({tool.category for tool in self.list()})

    def search(self, text: str) -> builtins.list[Tool]:
        """Tools whose name, category or description contain every word of ``text``.

        Results are ranked: matches in the name first, then the category, then the description.
        """
        words = [word for word in re.split(r"\s+", text.lower().strip()) if word]
        scored: builtins.list[tuple[int, str, Tool]] = []
        for tool in self.list():
            fields = (
                tool.name,
                canonical_name(tool.name).replace("-", " "),
                tool.category,
                tool.description.lower(),
            )
            score = 0
            for word in words:
                if word in fields[0] or word in fields[1]:
                    score += 3
                elif word in fields[2]:
                    score += 2
                elif word in fields[3]:
                    score += 1
                else:
                    break
            else:
                scored.append((-score, tool.name, tool))
        return [tool for _, _, tool in sorted(scored, key=lambda item: item[:2])]

    # ------------------------------------------------------------------ invocation

    async def invoke(
        self, name: str, params: Mapping[str, Any] | None, ctx: ExecutionContext
    ) -> dict[str, Any]:
        """Validate ``params``, run the tool under its timeout and return the success envelope.

        Raises:
            NotFound: no such tool.
            ValidationError: ``params`` do not match the schema (``details.field`` names the field).
            Timeout: the tool's ``timeout_s`` or the run's deadline passed.
            Cancelled: the run was cancelled.
            LLMSpellError: whatever the tool raised; foreign exceptions become ``ToolError``.
        """
        return await self.invoke_tool(self.get(name), params, ctx)

    def invoke_tool(
        self, tool: Tool, params: Mapping[str, Any] | None, ctx: ExecutionContext
    ) -> Coroutine[Any, Any, dict[str, Any]]:
        """:meth:`invoke` for a tool already looked up (``get``): await the returned coroutine."""
        hooks = hooks_for(ctx)
        bus = ctx.services.get("event_bus")
        if bus is not None and bus.live:
            return self._invoke_observed(bus, hooks, tool, params, ctx)
        if hooks is not None:
            return self._invoke_hooked(hooks, tool, params, ctx)
        return self._invoke(tool, params, ctx)

    async def _invoke_observed(
        self,
        bus: Any,
        hooks: HookRegistry | None,
        tool: Tool,
        params: Mapping[str, Any] | None,
        ctx: ExecutionContext,
    ) -> dict[str, Any]:
        """:meth:`invoke` publishing ``tool.started`` / ``tool.completed`` / ``tool.failed``."""
        from ..events.bus import publish_event

        await publish_event(ctx, "tool.started", {"tool": tool.name}, "tool")
        try:
            if hooks is not None:
                result = await self._invoke_hooked(hooks, tool, params, ctx)
            else:
                result = await self._invoke(tool, params, ctx)
        except LLMSpellError as exc:
            await publish_event(ctx, "tool.failed", {"tool": tool.name, "error": exc.to_dict()}, "tool")
            raise
        await publish_event(ctx, "tool.completed", {"tool": tool.name}, "tool")
        return result

    def _invoke_hooked(
        self, hooks: HookRegistry, tool: Tool, params: Mapping[str, Any] | None, ctx: ExecutionContext
    ) -> Coroutine[Any, Any, dict[str, Any]]:
        """:meth:`invoke` between the ToolDiscovery/ToolValidation/Before/After/ToolError hooks.

        Returns the call's coroutine: each layer is added only when a hook listens to it.
        """
        path, watched, chains = hooks.derived(_plan)
        if path is _DIRECT:  # the usual case: when every hook continues, the tool is called directly
            data: dict[str, Any] = {"tool": tool.name, "params": dict(params or {})}
            hctx = HookContext(_BEFORE, ("tool", tool.name), data, ctx.correlation_id, ctx.run_id, 1, ctx)
            fired = hooks.fire(chains[0], hctx)
            if fired is None:
                return self._invoke(tool, data["params"], ctx)
            call = self._around(hooks, tool, data, ctx, chains, fired)
        elif path is _CHECKED:
            call = self._invoke_checked(hooks, tool, params, ctx)
        elif path is _BETWEEN:
            given: dict[str, Any] = {"tool": tool.name, "params": dict(params or {})}
            call = self._around(hooks, tool, given, ctx, chains)
        else:
            call = self._invoke(tool, params, ctx)
        return observed(hooks, ctx, ("tool", tool.name), call) if watched else call

    async def _invoke_checked(
        self, hooks: HookRegistry, tool: Tool, params: Mapping[str, Any] | None, ctx: ExecutionContext
    ) -> dict[str, Any]:
        if hooks.chain("ToolDiscovery"):
            found = await hooks.run("ToolDiscovery", ("tool", tool.name), {"tool": tool.name}, ctx)
            if isinstance(found.data, Mapping) and found.data.get("tool", tool.name) != tool.name:
                tool = self.get(str(found.data["tool"]))
        data = {"tool": tool.name, "params": dict(params or {})}
        if hooks.chain("ToolValidation"):
            checked = await hooks.run("ToolValidation", ("tool", tool.name), data, ctx)
            if isinstance(checked.data, dict):
                data = checked.data
        return await self._around(hooks, tool, data, ctx, hooks.chains(_TOOL_POINTS))

    def _around(
        self,
        hooks: HookRegistry,
        tool: Tool,
        data: dict[str, Any],
        ctx: ExecutionContext,
        chains: tuple[tuple[Any, ...], ...],
        fired: Any = None,
    ) -> Coroutine[Any, Any, dict[str, Any]]:
        def call(given: dict[str, Any]) -> Coroutine[Any, Any, dict[str, Any]]:
            return self._invoke(tool, given.get("params"), ctx)

        def redirect(target: str) -> Callable[[dict[str, Any]], Coroutine[Any, Any, dict[str, Any]]]:
            other = self.get(target)
            return lambda given: self._invoke(other, given.get("params"), ctx)

        run_around: Callable[..., Coroutine[Any, Any, dict[str, Any]]] = _AROUND or _around()
        extra = () if fired is None else (fired,)  # the before point's answer, when fired already
        return run_around(hooks, ctx, ("tool", tool.name), _TOOL_POINTS, chains, data, call, redirect, *extra)

    async def _invoke(
        self, tool: Tool, params: Mapping[str, Any] | None, ctx: ExecutionContext
    ) -> dict[str, Any]:
        started = _clock()
        status = "cancelled"  # kept when the task is cancelled (a BaseException)
        try:
            output = await self._run(tool, params, ctx)
            status = "success"
        except LLMSpellError as exc:
            status = exc.code.lower()
            raise
        finally:
            elapsed = _clock() - started
            _record(tool.name, status, elapsed)
        metadata = {"tool": tool.name, "duration_ms": round(elapsed * 1000.0, 3)}
        if type(output) is ToolOutput or isinstance(output, ToolOutput):
            if output.metadata:
                metadata = {**output.metadata, **metadata}
            return envelope(
                success=True,
                operation=output.operation,
                result=output.result,
                message=output.message,
                metadata=metadata,
            )
        return envelope(success=True, result=output, metadata=metadata)

    async def invoke_envelope(
        self, name: str, params: Mapping[str, Any] | None, ctx: ExecutionContext
    ) -> dict[str, Any]:
        """Like :meth:`invoke`, but a failure comes back as ``{success: false, error: {...}}``.

        ``Cancelled`` is still raised: it stops the run rather than describing the tool.
        """
        try:
            return await self.invoke(name, params, ctx)
        except LLMSpellError as exc:
            if exc.code == "CANCELLED":
                raise
            operation = params.get("operation") if isinstance(params, Mapping) else None
            return envelope(
                success=False,
                operation=operation if isinstance(operation, str) else None,
                message=exc.message,
                error=exc.to_dict(),
                metadata={"tool": canonical_name(name)},
            )

    def validate(self, name: str, params: Any) -> None:
        """Check ``params`` against the schema of tool ``name``; raises ``ValidationError``."""
        tool = self.get(name)
        self._validate(tool, params)

    async def _run(self, tool: Tool, params: Mapping[str, Any] | None, ctx: ExecutionContext) -> Any:
        ctx.check()
        params = {} if params is None else params
        self._validate(tool, params)
        coro = tool.invoke(dict(params), ctx)
        try:
            # Step the coroutine once by hand: most tools (calculator, text...) finish without
            # ever suspending, and a timer could not interrupt them anyway, so they skip the
            # cost of arming one. A tool that suspends continues under the timeout.
            try:
                pending = coro.send(None)
            except StopIteration as stop:
                return stop.value
            return await _finish(tool, ctx, coro, pending)
        except TimeoutError as exc:  # raised by the tool itself, not by its timeout
            raise ToolError(f"{tool.name} failed: operation timed out", details={"tool": tool.name}) from exc
        except LLMSpellError:
            raise
        except Exception as exc:
            raise ToolError(f"{tool.name} failed: {exc}", details={"tool": tool.name}) from exc
        finally:
            coro.close()

    def _validate(self, tool: Tool, params: Any) -> None:
        entry = self._validators.get(tool.name)
        if entry is None or entry[0] is not tool:
            entry = (tool, _compile(tool))
            self._validators[tool.name] = entry
        if type(params) is not dict and not isinstance(params, Mapping):
            raise ValidationError(
                f"parameters of {tool.name!r} must be an object, not {type(params).__name__}",
                details={"tool": tool.name, "field": ""},
            )
        try:
            entry[1](params)
        except Exception as exc:
            raise _validation_error(tool, exc) from None

    # ------------------------------------------------------------------ loading

    def _load_lazy(self, key: str) -> Tool:
        with self._lock:
            tool = self._tools.get(key)
            if tool is not None:
                return tool
            spec = self._lazy[key]
            module_name, _, attr = spec.partition(":")
            try:
                cls = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError) as exc:
                raise ConfigError(
                    f"tool {key!r} cannot be loaded from {spec!r}: {exc}; reinstall llmspell",
                    details={"tool": key},
                ) from exc
            tool = cls()
            if not isinstance(tool, Tool):
                raise ConfigError(f"{spec!r} is not a Tool class")
            if tool.name != key:
                raise ConfigError(f"tool class {spec!r} is named {tool.name!r}, but registered as {key!r}")
            self._tools[key] = tool
            del self._lazy[key]
            return tool

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        with self._lock:
            if self._entry_points_loaded:
                return
            self._entry_points_loaded = True
            from importlib.metadata import entry_points  # ~50 ms; only when needed

            assert self._entry_point_group is not None
            for ep in entry_points(group=self._entry_point_group):
                try:
                    obj = ep.load()
                except Exception as exc:
                    raise ConfigError(
                        f"third-party tool entry point {ep.name!r} ({ep.value}) failed to load: {exc}; "
                        "fix or uninstall the package that provides it",
                    ) from exc
                tool = obj() if isinstance(obj, type) else obj
                if not isinstance(tool, Tool):
                    raise ConfigError(f"entry point {ep.name!r} ({ep.value}) does not provide a Tool")
                if tool.name not in self._tools and tool.name not in self._lazy:
                    self.register(tool)


async def _finish(tool: Tool, ctx: ExecutionContext, coro: Coroutine[Any, Any, Any], pending: Any) -> Any:
    """Finish a tool coroutine that suspended in its first step, under its timeout."""
    import asyncio  # already loaded by whoever awaits this; kept off the import path

    limit = tool.timeout_s
    remaining = ctx.remaining()
    if remaining is not None and remaining < limit:
        limit = remaining
    scope: asyncio.Timeout | None = None
    try:
        async with asyncio.timeout(limit) as scope:
            return await Resumed(coro, pending)
    except TimeoutError as exc:
        if scope is None or not scope.expired():
            raise
        ctx.check()  # the run's deadline, if that is what passed
        raise Timeout(
            f"tool {tool.name!r} exceeded its {limit:g}s timeout; try a smaller input",
            details={"tool": tool.name, "timeout_s": limit},
        ) from exc


def _compile(tool: Tool) -> Validator:
    import fastjsonschema  # ~20 ms, once, at the first validation

    try:
        validator: Validator = fastjsonschema.compile(dict(tool.schema), use_default=False)
    except fastjsonschema.JsonSchemaDefinitionException as exc:
        raise ConfigError(f"tool {tool.name!r} has an invalid parameter schema: {exc}") from exc
    return validator


def _validation_error(tool: Tool, exc: Exception) -> ValidationError:
    path = builtins.list(getattr(exc, "path", ["data"]))[1:]
    rule = getattr(exc, "rule", None)
    definition = getattr(exc, "rule_definition", None)
    value = getattr(exc, "value", None)
    where = ".".join(str(p) for p in path)
    if rule == "required" and isinstance(value, Mapping) and isinstance(definition, builtins.list):
        missing = [key for key in definition if key not in value]
        field = ".".join([*map(str, path), missing[0]]) if missing else where
        message = f"{tool.name}: missing required parameter {field!r}"
    elif rule == "additionalProperties" and isinstance(value, Mapping):
        properties = getattr(exc, "definition", {}).get("properties", {})
        unknown = sorted(str(key) for key in value if key not in properties)
        field = ".".join([*map(str, path), unknown[0]]) if unknown else where
        allowed = ", ".join(sorted(properties)) or "none"
        message = f"{tool.name}: unknown parameter {field!r} (allowed: {allowed})"
    else:
        field = where
        text = str(getattr(exc, "message", exc))
        if text.startswith("data"):
            text = "params" + text[4:]
        message = f"{tool.name}: invalid parameter {field!r}: {text}" if field else f"{tool.name}: {text}"
    return ValidationError(message, details={"tool": tool.name, "field": field, "rule": rule})


_BEFORE = "BeforeToolExecution"
_TOOL_POINTS = (_BEFORE, "AfterToolExecution", "ToolError")
_ALL_POINTS = (*_TOOL_POINTS, "ToolDiscovery", "ToolValidation")
# The paths of a hooked call.
_DIRECT = "direct"  # only before hooks: the tool is called directly when they all continue
_CHECKED = "checked"  # discovery/validation hooks first, then _BETWEEN
_BETWEEN = "between"  # the call between its before/after/error points
_UNHOOKED = "unhooked"  # no tool point has hooks
Chains = tuple[tuple[Any, ...], ...]


def _plan(hooks: HookRegistry) -> tuple[str, bool, Chains]:
    """The path of a hooked call, whether the observing points watch it, and the chains of
    (before, after, error); cached by the hook registry until hooks change."""
    before, after, error, discovery, validation = hooks.chains(_ALL_POINTS)
    # The limit, security and performance points observe the whole call, before hooks included.
    watched = watching(hooks)
    if discovery or validation:
        path = _CHECKED
    elif after or error or (before and watched):
        path = _BETWEEN
    elif before:
        path = _DIRECT
    else:
        path = _UNHOOKED
    return path, watched, (before, after, error)


_clock = time.perf_counter
_AROUND: Any = None


def _around() -> Any:
    global _AROUND
    if _AROUND is None:
        from ..hooks._around import run_around  # imports asyncio: only once hooks exist

        _AROUND = run_around
    return _AROUND


class _Recorder:
    """Records one (tool, status) in ``llmspell_tool_invocations_total`` and the duration histogram.

    Holds the labelled children's value cells (``prometheus_client`` keeps one locked cell
    per counter, histogram sum and bucket) and updates them directly: the same three
    locked increments ``inc()``/``observe()`` make, without their per-call argument checks
    and bucket scan (~4 µs → ~1.5 µs per call). Falls back to the public methods when the
    cells are not where this version of ``prometheus_client`` keeps them.
    """

    __slots__ = ("_bounds", "_buckets", "_count", "_counter", "_histogram", "_sum")

    def __init__(self, counter: Any, histogram: Any) -> None:
        self._counter, self._histogram = counter, histogram
        self._count: Any = getattr(counter, "_value", None)
        self._sum: Any = getattr(histogram, "_sum", None)
        self._buckets: Any = getattr(histogram, "_buckets", None) or []
        self._bounds: Any = getattr(histogram, "_upper_bounds", None) or []
        cells = (self._count, self._sum, *self._buckets)
        if len(self._buckets) != len(self._bounds) or not all(hasattr(cell, "inc") for cell in cells):
            self._count = None

    def __call__(self, seconds: float) -> None:
        if self._count is None:
            self._counter.inc()
            self._histogram.observe(seconds)
            return
        self._count.inc(1)
        self._sum.inc(seconds)
        self._buckets[bisect_left(self._bounds, seconds)].inc(1)  # observe(): first bound >= seconds


_RECORDERS: dict[tuple[str, str], _Recorder] = {}


def _record(tool: str, status: str, seconds: float) -> None:
    recorder = _RECORDERS.get((tool, status))
    if recorder is None:
        from ..core.metrics import TOOL_DURATION, TOOL_INVOCATIONS  # prometheus_client: lazy

        recorder = _Recorder(
            TOOL_INVOCATIONS.labels(tool=tool, status=status), TOOL_DURATION.labels(tool=tool)
        )
        _RECORDERS[(tool, status)] = recorder
    recorder(seconds)


_DEFAULT: ToolRegistry | None = None
_DEFAULT_LOCK = threading.Lock()


def default_registry() -> ToolRegistry:
    """The process-wide registry: every built-in tool plus the ``llmspell.tools`` entry points."""
    global _DEFAULT
    if _DEFAULT is None:
        with _DEFAULT_LOCK:
            if _DEFAULT is None:
                from .builtin import BUILTIN_TOOLS

                _DEFAULT = ToolRegistry(lazy=BUILTIN_TOOLS, entry_point_group=ENTRY_POINT_GROUP)
    return _DEFAULT
