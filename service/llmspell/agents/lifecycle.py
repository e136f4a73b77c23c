"""The agent lifecycle: ``uninitialized, ready, running, paused, error, terminated``.

Transitions (anything else is refused with a ``VALIDATION`` error naming the state)::

    initialize   uninitialized -> ready
    start        ready -> running            (explicitly started; stays running when idle)
    pause        running -> paused           (in-flight requests wait before their next model call)
    resume       paused -> the state it was paused from
    stop         running | paused -> ready   (in-flight requests end with CANCELLED at their next step)
    terminate    any but terminated -> terminated (same, and no further work is accepted)
    recover      error -> ready

Work itself moves the state too: a request on a ``ready`` (or ``uninitialized``, which
initializes first) agent shows ``running`` until it ends; a failed request leaves
``error`` (a new request is still accepted: it is the script's way to retry). Requests
are refused while ``paused`` or ``terminated``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Final

from ..core.abc import AgentState
from ..core.errors import Cancelled, Timeout, ValidationError

__all__ = ["TRANSITIONS", "Lifecycle"]

TRANSITIONS: Final[dict[str, tuple[tuple[AgentState, ...], str]]] = {
    "initialize": (("uninitialized",), "ready"),
    "start": (("ready",), "running"),
    "pause": (("running",), "paused"),
    "resume": (("paused",), "(previous)"),
    "stop": (("running", "paused"), "ready"),
    "terminate": (("uninitialized", "ready", "running", "paused", "error"), "terminated"),
    "recover": (("error",), "ready"),
}
"""``action -> (states it is allowed from, resulting state)``."""

_HINTS: Final[dict[AgentState, str]] = {
    "uninitialized": "call initialize() first",
    "ready": "call start() or execute it",
    "running": "call pause() or stop()",
    "paused": "call resume() or stop()",
    "error": "call recover() or reset()",
    "terminated": "create a new agent",
}


class Lifecycle:
    """The lifecycle state of one agent, shared by its concurrent requests.

    Args:
        owner: the agent's name, used in error messages.
        initialized: start in ``ready`` instead of ``uninitialized``.
        on_initialize: called by :meth:`initialize` before the state changes (it may raise,
            e.g. ``ConfigError`` for a wrong model spec; the state then stays put).
    """

    def __init__(
        self, owner: str, *, initialized: bool = False, on_initialize: Callable[[], object] | None = None
    ) -> None:
        self.owner = owner
        self._base: AgentState = "ready" if initialized else "uninitialized"
        self._paused_from: AgentState = "ready"
        self._busy = 0
        self._generation = 0
        self._on_initialize = on_initialize
        self._resumed: asyncio.Event | None = None

    @property
    def state(self) -> AgentState:
        """The state as scripts see it (``running`` while a request is in flight)."""
        if self._busy and self._base in ("ready", "uninitialized"):
            return "running"
        return self._base

    @property
    def busy(self) -> int:
        """How many requests are in flight."""
        return self._busy

    # ------------------------------------------------------------------ transitions

    def _check(self, action: str) -> AgentState:
        allowed, _ = TRANSITIONS[action]
        state = self.state
        if state not in allowed:
            raise ValidationError(
                f"cannot {action} agent {self.owner!r} in state {state!r} "
                f"(allowed from {', '.join(allowed)}): {_HINTS[state]}",
                details={"agent": self.owner, "state": state, "action": action},
            )
        return state

    def initialize(self) -> AgentState:
        """``uninitialized -> ready`` (prepares the model)."""
        self._check("initialize")
        if self._on_initialize is not None:
            self._on_initialize()
        self._base = "ready"
        return self.state

    def start(self) -> AgentState:
        """``ready -> running``."""
        self._check("start")
        self._base = "running"
        return self.state

    def pause(self) -> AgentState:
        """``running -> paused``; in-flight requests hold before their next model call."""
        self._check("pause")
        self._paused_from = "running" if self._base == "running" else "ready"
        self._base = "paused"
        if self._resumed is not None:
            self._resumed.clear()
        return self.state

    def resume(self) -> AgentState:
        """``paused ->`` the state it was paused from."""
        self._check("resume")
        self._base = self._paused_from
        self._wake()
        return self.state

    def stop(self) -> AgentState:
        """``running | paused -> ready``; in-flight requests end with ``CANCELLED``."""
        self._check("stop")
        self._base = "ready"
        self._interrupt()
        return self.state

    def terminate(self) -> AgentState:
        """``-> terminated``; in-flight requests end with ``CANCELLED``, new ones are refused."""
        self._check("terminate")
        self._base = "terminated"
        self._interrupt()
        return self.state

    def recover(self) -> AgentState:
        """``error -> ready``."""
        self._check("recover")
        self._base = "ready"
        return self.state

    def clear_error(self) -> None:
        """Leave ``error`` for ``ready`` (what ``reset()`` does); other states are kept."""
        if self._base == "error":
            self._base = "ready"

    def _interrupt(self) -> None:
        self._generation += 1
        self._wake()

    def _wake(self) -> None:
        if self._resumed is not None:
            self._resumed.set()

    # ------------------------------------------------------------------ requests

    def accepting(self) -> None:
        """Raise unless a new request may start.

        Raises:
            ValidationError: the agent is paused or terminated.
        """
        state = self._base
        if state == "terminated":
            raise ValidationError(
                f"agent {self.owner!r} was terminated: create a new agent",
                details={"agent": self.owner, "state": state},
            )
        if state == "paused":
            raise ValidationError(
                f"agent {self.owner!r} is paused: call resume() before asking it",
                details={"agent": self.owner, "state": state},
            )

    def begin(self) -> int:
        """Account a new request; returns its generation for :meth:`checkpoint`/:meth:`end`.

        Raises:
            ValidationError: the agent is paused or terminated.
        """
        self.accepting()
        if self._base == "uninitialized":
            self.initialize()
        self._busy += 1
        return self._generation

    def end(self, generation: int, *, failed: bool) -> None:
        """Account the end of a request started at ``generation``."""
        self._busy = max(0, self._busy - 1)
        if generation != self._generation or self._base == "terminated":
            return  # stopped or terminated meanwhile: that transition set the state
        if failed:
            self._base = "error"

    async def checkpoint(self, generation: int, deadline: float | None) -> None:
        """Between two steps of a request: hold while paused, stop when stopped.

        Raises:
            Cancelled: the agent was stopped or terminated since the request began.
            Timeout: ``deadline`` passed while paused.
        """
        while True:
            if generation != self._generation:
                raise Cancelled(
                    f"agent {self.owner!r} was stopped while working", details={"agent": self.owner}
                )
            if self._base != "paused":
                return
            if self._resumed is None:
                self._resumed = asyncio.Event()
            self._resumed.clear()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise Timeout(
                    f"agent {self.owner!r} stayed paused past its deadline", details={"agent": self.owner}
                )
            try:
                await asyncio.wait_for(self._resumed.wait(), remaining)
            except TimeoutError:
                continue
