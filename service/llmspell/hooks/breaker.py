"""A circuit breaker: closed → open after repeated failures → half-open trial → closed.

Guards hooks (a hook that fails or overruns its latency budget ``failure_threshold``
times in a row is skipped for ``reset_s`` seconds, then tried once) and external
dependencies (:meth:`CircuitBreaker.guard`). State changes are exported as the
``llmspell_circuit_breaker_state{name}`` gauge (0 closed, 1 half-open, 2 open).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from ..core.errors import LLMSpellError, ProviderError

__all__ = ["BreakerState", "CircuitBreaker"]

BreakerState = Literal["closed", "open", "half_open"]
_GAUGE_VALUE = {"closed": 0, "half_open": 1, "open": 2}


class CircuitBreaker:
    """Counts consecutive failures; thread-safe.

    Args:
        name: the label in metrics and listings.
        failure_threshold: consecutive failures that open the breaker.
        budget_s: a success slower than this counts as a failure (None: no budget).
        reset_s: how long the breaker stays open before a half-open trial.
        clock: monotonic seconds (tests pass their own).
    """

    __slots__ = (
        "_clock",
        "_failures",
        "_lock",
        "_opened_at",
        "_state",
        "_trial",
        "budget_s",
        "calls",
        "errors",
        "failure_threshold",
        "limit_s",
        "name",
        "reset_s",
        "slow",
        "total_s",
    )

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        budget_s: float | None = None,
        reset_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.failure_threshold = max(1, failure_threshold)
        self.budget_s = budget_s
        self.limit_s = budget_s if budget_s is not None else float("inf")
        self.reset_s = reset_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state: BreakerState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._trial = False
        self.calls = 0
        self.errors = 0
        self.slow = 0
        self.total_s = 0.0

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker past ``reset_s`` reads as half-open)."""
        if self._state == "open" and self._clock() - self._opened_at >= self.reset_s:
            return "half_open"
        return self._state

    def allow(self) -> bool:
        """True when a call may go through; in half-open, only one trial at a time."""
        if self._state == "closed":
            return True
        with self._lock:
            if self.state == "half_open" and not self._trial:
                self._trial = True
                self._set("half_open")
                return True
            return False

    def success(self, elapsed_s: float = 0.0) -> None:
        """Record a call that worked (a slow one counts as a failure)."""
        self.calls += 1
        self.total_s += elapsed_s
        if elapsed_s > self.limit_s:
            self.slow += 1
            self._fail()
            return
        if self._state != "closed" or self._failures:
            with self._lock:
                self._failures = 0
                self._trial = False
                if self._state != "closed":
                    self._set("closed")

    def failure(self, elapsed_s: float = 0.0) -> None:
        """Record a call that failed."""
        self.calls += 1
        self.errors += 1
        self.total_s += elapsed_s
        self._fail()

    def _fail(self) -> None:
        with self._lock:
            self._failures += 1
            if self._trial or self._failures >= self.failure_threshold:
                self._trial = False
                self._opened_at = self._clock()
                self._set("open")

    def reset(self) -> None:
        """Close the breaker and forget failures."""
        with self._lock:
            self._failures = 0
            self._trial = False
            self._set("closed")

    def _set(self, state: BreakerState) -> None:
        changed = state != self._state
        self._state = state
        if changed:
            from ..core.metrics import CIRCUIT_BREAKER_STATE  # prometheus_client: lazy

            CIRCUIT_BREAKER_STATE.labels(name=self.name).set(_GAUGE_VALUE[state])

    @contextmanager
    def guard(self, error: type[LLMSpellError] = ProviderError) -> Iterator[None]:
        """Run a block through the breaker; raises ``error`` at once while open.

        Any exception from the block counts as a failure and propagates.
        """
        if not self.allow():
            raise error(
                f"{self.name} is failing and was paused by its circuit breaker; retry in a few seconds",
                details={"breaker": self.name, "state": "open"},
            )
        started = time.perf_counter()
        try:
            yield
        except BaseException:
            self.failure(time.perf_counter() - started)
            raise
        self.success(time.perf_counter() - started)

    def snapshot(self) -> dict[str, Any]:
        """``{name, state, calls, errors, slow, avg_ms}``."""
        return {
            "name": self.name,
            "state": self.state,
            "calls": self.calls,
            "errors": self.errors,
            "slow": self.slow,
            "avg_ms": round(self.total_s / self.calls * 1000.0, 4) if self.calls else 0.0,
        }
