"""The API surface scripts see, described once for every language.

An engine turns each :class:`ApiNamespace` into a global (a Lua table, a JS object),
each :class:`ApiObject` returned by a call into a script object whose methods are the
object's ``api_methods``, async Python functions into calls that suspend the script
while awaiting, async iterators into script iterators, and script functions passed in
into :class:`ScriptFunction` callables.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from ...core.context import ExecutionContext
from ...core.types import Usage

__all__ = [
    "NULL",
    "ApiNamespace",
    "ApiObject",
    "EventSink",
    "OutputSink",
    "ScriptEnv",
    "ScriptFunction",
]


class _Null:
    """JSON ``null`` inside script values (``JSON.null`` in Lua)."""

    _instance: _Null | None = None

    def __new__(cls) -> _Null:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NULL"


NULL = _Null()


class OutputSink(Protocol):
    """Where ``print`` output goes (one call per printed line, newline included)."""

    def write(self, text: str) -> None: ...


class EventSink(Protocol):
    """Where run events go (``kind`` such as ``log``, ``tool``, ``agent``)."""

    def __call__(self, kind: str, data: dict[str, Any]) -> object: ...


class ScriptFunction(ABC):
    """A function defined by the script, callable from Python (always async)."""

    @abstractmethod
    async def __call__(self, *args: Any) -> Any:
        """Run the function in the script's runtime and return its first result."""


class ApiObject:
    """Base of Python objects handed to scripts; only ``api_methods`` are reachable.

    ``api_methods`` maps the script-visible name to the Python method name, so a class can
    offer aliases (``invoke`` → ``execute``). Methods may be sync or ``async``.
    """

    api_type: ClassVar[str] = "object"
    api_methods: ClassVar[Mapping[str, str]] = {}


@dataclass(kw_only=True, slots=True)
class ApiNamespace:
    """A global: named functions, plain values and an optional dynamic ``index``.

    ``index(name)`` resolves names that are not functions or values (``Tool.calculator``)
    and returns a callable or None.
    """

    name: str
    functions: dict[str, Callable[..., Any]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    index: Callable[[str], Callable[..., Any] | None] | None = None

    def add(self, func: Callable[..., Any], *names: str) -> None:
        """Expose ``func`` under each of ``names``."""
        for name in names:
            self.functions[name] = func


@dataclass(kw_only=True)
class ScriptEnv:
    """Per-run inputs of a script: its name, arguments, sinks and services.

    Services are created lazily by the API modules so that a script that never touches
    tools or LLMs pays for neither.
    """

    script_name: str = "script"
    args: list[str] = field(default_factory=list)
    stdout: OutputSink | None = None
    emit: EventSink | None = None
    settings_loader: Callable[[], Any] | None = None
    services: dict[str, Any] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    cost: float | None = None
    closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    enders: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    def on_close(self, closer: Callable[[], Awaitable[Any]]) -> None:
        """Run ``closer`` when the run ends (e.g. close a store the run opened)."""
        self.closers.append(closer)

    def on_end(self, ender: Callable[[], Awaitable[Any]]) -> None:
        """Run ``ender`` when the run ends, before every closer: the run's services are
        still open (e.g. shutting the run's agents down, whose hooks may use State)."""
        self.enders.append(ender)

    async def aclose(self) -> None:
        """Run the enders (in registration order), then the closers, last registered first
        (every one, even if some fail)."""
        while self.enders or self.closers:
            closer = self.enders.pop(0) if self.enders else self.closers.pop()
            try:
                await closer()
            except Exception:
                import logging

                logging.getLogger("llmspell.scripting").warning("closing a run service failed", exc_info=True)

    def add_usage(self, usage: Usage, cost: float | None) -> None:
        """Account an LLM call's tokens and cost to the run (cost None = unknown)."""
        self.usage.add(usage)
        if cost is not None:
            self.cost = (self.cost or 0.0) + cost

    def service(self, key: str, factory: Callable[[], Any]) -> Any:
        """The per-run service ``key``, created by ``factory`` on first use."""
        value = self.services.get(key)
        if value is None:
            value = self.services[key] = factory()
        return value

    def settings(self) -> Any:
        """The effective ``Settings`` (loaded on first use)."""
        if self.settings_loader is not None:
            return self.service("settings", self.settings_loader)
        from ...core.config import get_settings

        return self.service("settings", get_settings)

    def event(self, kind: str, data: dict[str, Any]) -> None:
        """Emit a run event when a sink is attached."""
        if self.emit is not None:
            self.emit(kind, data)


class ApiBuilder(Protocol):
    """A module that contributes globals: ``build(env, ctx) -> [ApiNamespace, ...]``."""

    def __call__(self, env: ScriptEnv, ctx: ExecutionContext) -> list[ApiNamespace]: ...
