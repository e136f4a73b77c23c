"""What a hook is, what it sees and what it may answer.

A hook is called with a :class:`HookContext` and answers a :class:`HookResult` (or None,
meaning *continue*). Results, by ``kind``:

- ``continue``: nothing to do; the next hook runs.
- ``modified``: ``data`` replaces the point's data; the next hook sees the new data.
- ``skipped``: the hook did not apply (recorded as such); the next hook runs.
- ``cancel``: stop; the caller raises ``CANCELLED`` with ``reason``.
- ``replace``: skip the call (or its outcome) and use ``result`` instead.
- ``redirect``: run the call against ``target`` (another tool, agent or model) instead.
- ``retry``: (after/error points) run the call again after ``delay_ms``, at most
  ``max_attempts`` attempts in all.
- ``fork``: also run the call with each of ``branches`` (alternative data), concurrently;
  the main result is returned; the branches' results are dropped (a failed branch is logged).
- ``cache``: (before points) answer from the result cache under ``key`` when present,
  otherwise run the call and keep its result for ``ttl_s`` seconds.

The first result that is not continue/modified/skipped ends the chain.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from ..core.errors import LLMSpellError

__all__ = ["TERMINAL", "Hook", "HookCancelled", "HookContext", "HookResult", "ResultKind"]

ResultKind = Literal[
    "continue", "modified", "skipped", "cancel", "replace", "redirect", "retry", "fork", "cache"
]
TERMINAL: frozenset[str] = frozenset({"cancel", "replace", "redirect", "retry", "fork", "cache"})


class HookCancelled(LLMSpellError):
    """A hook cancelled the call (code ``CANCELLED``).

    Unlike :class:`~llmspell.core.errors.Cancelled` it does not stop the run: the caller
    sees the error and may catch it (``pcall`` in Lua).
    """

    code: ClassVar[str] = "CANCELLED"


@dataclass(init=False, slots=True)
class HookContext:
    """What a hook sees.

    Built once per dispatched point, so construction is a plain positional ``__init__``
    (a few attribute stores); arguments may be given by position or by name.

    Attributes:
        point: the hook point (``BeforeToolExecution``).
        component: ``(type, name)`` of the component firing it (``("tool", "calculator")``).
        data: the point's data; its shape is documented per point in docs/hooks.md.
        correlation_id: the run's correlation id.
        run_id: the run's id ("" outside a run).
        attempt: 1 on the first call, 2... on retries.
        execution: the caller's ExecutionContext (session id, metadata), when in a run.
    """

    point: str
    component: tuple[str, str]
    data: Any
    correlation_id: str
    run_id: str
    attempt: int
    execution: Any

    def __init__(
        self,
        point: str,
        component: tuple[str, str],
        data: Any,
        correlation_id: str = "",
        run_id: str = "",
        attempt: int = 1,
        execution: Any = None,
    ) -> None:
        self.point = point
        self.component = component
        self.data = data
        self.correlation_id = correlation_id
        self.run_id = run_id
        self.attempt = attempt
        self.execution = execution

    def to_dict(self) -> dict[str, Any]:
        """The shape scripts get: ``{point, component={type, name}, data, correlation_id}``."""
        return {
            "point": self.point,
            "component": {"type": self.component[0], "name": self.component[1]},
            "data": self.data,
            "correlation_id": self.correlation_id,
            "run_id": self.run_id,
            "attempt": self.attempt,
        }


@dataclass(slots=True)
class HookResult:
    """A hook's answer. Build one with the class methods (``HookResult.cancel("why")``).

    Treat it as immutable: the shared ``continue`` result is one object.
    """

    kind: ResultKind = "continue"
    data: Any = None
    reason: str = ""
    result: Any = None
    target: str = ""
    delay_ms: float = 0.0
    max_attempts: int = 1
    branches: tuple[Any, ...] = ()
    key: str = ""
    ttl_s: float = 0.0

    @classmethod
    def proceed(cls) -> HookResult:
        """``continue``."""
        return CONTINUE

    @classmethod
    def modified(cls, data: Any) -> HookResult:
        return cls(kind="modified", data=data)

    @classmethod
    def skipped(cls) -> HookResult:
        return SKIPPED

    @classmethod
    def cancel(cls, reason: str) -> HookResult:
        return cls(kind="cancel", reason=reason)

    @classmethod
    def replace(cls, result: Any) -> HookResult:
        return cls(kind="replace", result=result)

    @classmethod
    def redirect(cls, target: str) -> HookResult:
        return cls(kind="redirect", target=target)

    @classmethod
    def retry(cls, *, delay_ms: float = 0.0, max_attempts: int = 3) -> HookResult:
        return cls(kind="retry", delay_ms=delay_ms, max_attempts=max_attempts)

    @classmethod
    def fork(cls, branches: list[Any] | tuple[Any, ...]) -> HookResult:
        return cls(kind="fork", branches=tuple(branches))

    @classmethod
    def cache(cls, key: str, ttl_s: float) -> HookResult:
        return cls(kind="cache", key=key, ttl_s=ttl_s)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible summary (for history and listings)."""
        out: dict[str, Any] = {"action": self.kind}
        for name in ("data", "reason", "result", "target", "key"):
            value = getattr(self, name)
            if value not in (None, ""):
                out[name] = value
        if self.kind == "retry":
            out.update(delay_ms=self.delay_ms, max_attempts=self.max_attempts)
        if self.kind == "fork":
            out["branches"] = list(self.branches)
        if self.kind == "cache":
            out["ttl_s"] = self.ttl_s
        return out


CONTINUE = HookResult()
SKIPPED = HookResult(kind="skipped")


class Hook(ABC):
    """A hook object (built-ins, composites). Plain functions may be registered as well.

    ``name`` appears in listings and history; ``budget_s`` is the latency over which a
    call counts as a failure for the hook's circuit breaker (None: the registry default).
    """

    name: str = "hook"
    budget_s: float | None = None

    @abstractmethod
    async def __call__(self, ctx: HookContext) -> HookResult | None:
        """Inspect ``ctx`` and answer; raising counts as a failure (the chain continues),
        except ``LimitExceeded``/``Cancelled``/``Timeout``/``SandboxViolation``/
        :class:`HookCancelled`, which propagate to the caller on purpose."""
