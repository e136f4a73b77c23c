"""The execution context every run carries: ids, deadline, cancellation, limits, policy."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from .errors import Cancelled, Timeout
from .ids import new_id

__all__ = ["CancelToken", "ExecutionContext", "Limits", "SandboxPolicy", "current_context"]


class CancelToken:
    """A thread-safe cancellation flag with a reason; cheap to poll.

    Callbacks registered with :meth:`add_callback` run (in the cancelling thread) when
    the token is cancelled; they let an awaiting driver wake up at once.
    """

    __slots__ = ("_callbacks", "_cancelled", "_lock", "reason")

    def __init__(self) -> None:
        # A flag under a lock, not a threading.Event: nothing waits on it, and an Event
        # (a Condition with its own lock) costs a short run more than the run's id does.
        self._cancelled = False
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []
        self.reason = ""

    def cancel(self, reason: str = "cancelled") -> None:
        """Ask the work to stop; idempotent."""
        with self._lock:
            if self._cancelled:
                return
            self.reason = reason
            self._cancelled = True
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()

    def add_callback(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` on cancellation (at once if already cancelled); returns a remover."""
        with self._lock:
            if not self._cancelled:
                self._callbacks.append(callback)

                def remove() -> None:
                    with self._lock:
                        if callback in self._callbacks:
                            self._callbacks.remove(callback)

                return remove
        callback()
        return lambda: None

    @property
    def cancelled(self) -> bool:
        return self._cancelled


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """Per-run limits. ``None`` means unlimited.

    ``slow_call_ms`` and ``memory_high_fraction`` are warning marks, not limits: past them
    the ``PerformanceThresholdExceeded`` / ``MemoryUsageHigh`` hook points fire (None: never).
    """

    timeout_s: float | None = 30.0
    memory_mb: int | None = 64
    instruction_budget: int | None = 100_000_000_000
    output_bytes: int | None = 1_000_000
    max_string_bytes: int = 16_000_000
    max_tool_calls: int = 16
    slow_call_ms: float | None = 5000.0
    memory_high_fraction: float | None = 0.8


@dataclass(frozen=True, kw_only=True, slots=True)
class SandboxPolicy:
    """What tools may touch. Filled from config and narrowed per run."""

    file_roots: tuple[str, ...] = ()
    network_allow: tuple[str, ...] = ()
    network_deny_private: bool = True
    process_allow: tuple[str, ...] = ()
    max_file_bytes: int = 50_000_000
    max_response_bytes: int = 10_000_000


@dataclass(kw_only=True, slots=True)
class ExecutionContext:
    """Everything a component needs to know about the run it is part of."""

    run_id: str = field(default_factory=new_id)
    correlation_id: str = ""
    limits: Limits = field(default_factory=Limits)
    policy: SandboxPolicy = field(default_factory=SandboxPolicy)
    cancel_token: CancelToken = field(default_factory=CancelToken)
    deadline: float | None = None  # time.monotonic() value
    session_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    services: dict[str, Any] = field(default_factory=dict)
    """Handles the host gives this run (``"schedules"``: the daemon's schedules, ...)."""

    def __post_init__(self) -> None:
        if not self.correlation_id:
            self.correlation_id = self.run_id
        if self.deadline is None and self.limits.timeout_s is not None:
            self.deadline = time.monotonic() + self.limits.timeout_s

    def remaining(self) -> float | None:
        """Seconds left before the deadline (never negative), or None without one."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def check(self) -> None:
        """Raise ``Cancelled`` or ``Timeout`` when the run must stop."""
        if self.cancel_token.cancelled:
            raise Cancelled(self.cancel_token.reason or "run cancelled")
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise Timeout(f"deadline of {self.limits.timeout_s}s exceeded")


current_context: ContextVar[ExecutionContext | None] = ContextVar("llmspell_context", default=None)
