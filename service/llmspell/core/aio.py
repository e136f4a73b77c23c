"""Asyncio helpers shared by layers that step coroutines themselves."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

__all__ = ["Resumed", "aclose_iterator", "on_loop"]

T = TypeVar("T")


async def aclose_iterator(iterator: object) -> None:
    """Close an async iterator now when it can be closed (generators can), so what it holds
    (a subscription, an HTTP response) is released at once rather than when collected."""
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


async def on_loop(loop: asyncio.AbstractEventLoop | None, work: Coroutine[Any, Any, T]) -> T:
    """Await ``work`` on ``loop`` (the loop that owns what it uses, like a store's
    connections), handed over when the caller runs on another loop; None: the caller's.
    A closed ``loop`` raises RuntimeError, and ``work`` is closed unstarted."""
    if loop is None or loop is asyncio.get_running_loop():
        return await work
    try:
        future = asyncio.run_coroutine_threadsafe(work, loop)
    except RuntimeError:  # the owner loop is closed: its host is shutting down
        work.close()
        raise
    return await asyncio.wrap_future(future)


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
