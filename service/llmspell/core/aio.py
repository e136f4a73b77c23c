"""Asyncio helpers shared by layers that step coroutines themselves."""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import Any

__all__ = ["Resumed"]


class Resumed:
    """Awaits the rest of a coroutine already stepped once outside ``await``.

    Equivalent to ``yield from`` over the coroutine: the future it first yielded and every
    later one go to the awaiting task; values and exceptions sent back go into it. Lets a
    caller run an async function eagerly and pay for a task only when it really suspends.
    """

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self._coro = coro
        self._first = first

    def close(self) -> None:
        """Abandon the coroutine (it sees GeneratorExit)."""
        self._coro.close()

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
