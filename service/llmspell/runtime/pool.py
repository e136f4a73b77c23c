"""Runtime threads (one by default; more pay off only for CPU-heavy Lua), each with its
own event loop driving many script coroutines, apart from the API's loop.

Scripts waiting on I/O cost one latency, not one thread each; a CPU-bound script keeps
its own thread busy but never the API loop. Measurements: docs/architecture.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from ..core.errors import LLMSpellError

__all__ = ["RuntimePool"]

T = TypeVar("T")

#: How often a runtime thread drops the idle script runtimes it kept past a burst.
_TRIM_EVERY_S = 10.0


class _RuntimeThread:
    def __init__(self, index: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.active = 0
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._main, name=f"llmspell-runtime-{index}", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        self.loop.call_soon(self._trim_idle_runtimes)
        self.loop.run_forever()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def _trim_idle_runtimes(self) -> None:
        from ..scripting.factory import release_idle_runtimes

        release_idle_runtimes()
        self.loop.call_later(_TRIM_EVERY_S, self._trim_idle_runtimes)

    def start(self) -> None:
        self.thread.start()
        self._ready.wait()

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


class _Call(Generic[T]):
    """One coroutine handed to a runtime thread: one wake-up each way, nothing more
    (``run_coroutine_threadsafe`` adds a concurrent future, its lock and two chained
    callbacks per call)."""

    __slots__ = ("_factory", "_task", "done", "owner")

    def __init__(self, factory: Callable[[], Awaitable[T]], owner: asyncio.AbstractEventLoop) -> None:
        self._factory = factory
        self._task: asyncio.Task[T] | None = None
        self.owner = owner
        self.done: asyncio.Future[T] = owner.create_future()

    def start(self) -> None:  # on the runtime thread
        if self.done.cancelled():
            return
        self._task = asyncio.ensure_future(self._run())
        self._task.add_done_callback(self._finished)

    async def _run(self) -> T:
        return await self._factory()  # a factory that raises fails the task, not the loop

    def cancel(self) -> None:  # on the runtime thread
        if self._task is not None:
            self._task.cancel()

    def _finished(self, task: asyncio.Task[T]) -> None:  # on the runtime thread
        with contextlib.suppress(RuntimeError):  # the owner loop is closed: nobody waits
            self.owner.call_soon_threadsafe(self._settle, task)

    def _settle(self, task: asyncio.Task[T]) -> None:  # on the owner's loop
        done = self.done
        if done.done():
            return
        if task.cancelled():
            done.cancel()
        elif (error := task.exception()) is not None:
            done.set_exception(error)
        else:
            done.set_result(task.result())


class RuntimePool:
    """Runs coroutines on the least busy runtime thread.

    Use as ``async with RuntimePool(threads) as pool: await pool.run(factory)``.
    """

    def __init__(self, threads: int = 1) -> None:
        self.size = threads or max(1, os.cpu_count() or 1)
        self._threads: list[_RuntimeThread] = []
        self._round_robin = itertools.count()
        self._closed = False

    async def __aenter__(self) -> RuntimePool:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the threads (idempotent)."""
        if self._closed:
            raise LLMSpellError("this RuntimePool was closed; create a new one")
        if not self._threads:
            self._threads = [_RuntimeThread(i) for i in range(self.size)]
            for runtime in self._threads:
                runtime.start()

    def _pick(self) -> _RuntimeThread:
        if len(self._threads) == 1:
            return self._threads[0]
        start = next(self._round_robin)
        return min(
            (self._threads[(start + i) % len(self._threads)] for i in range(len(self._threads))),
            key=lambda runtime: runtime.active,
        )

    async def run(self, factory: Callable[[], Awaitable[T]]) -> T:
        """Run ``factory()`` on a runtime thread and await its result here.

        Cancelling the awaiting task cancels the coroutine on its thread.
        """
        if not self._threads:
            self.start()
        runtime = self._pick()
        runtime.active += 1
        call = _Call(factory, asyncio.get_running_loop())
        try:
            runtime.loop.call_soon_threadsafe(call.start)
            return await call.done
        except asyncio.CancelledError:
            runtime.loop.call_soon_threadsafe(call.cancel)
            raise
        finally:
            runtime.active -= 1

    @property
    def active(self) -> int:
        """Coroutines currently running on the pool."""
        return sum(runtime.active for runtime in self._threads)

    def close(self) -> None:
        """Stop every thread; pending work is abandoned."""
        self._closed = True
        for runtime in self._threads:
            runtime.stop()
        self._threads = []


def call_in_loop(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> None:
    """Schedule ``fn(*args)`` on ``loop`` from any thread."""
    loop.call_soon_threadsafe(fn, *args)
