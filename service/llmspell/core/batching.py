"""Group commit: concurrent callers' writes coalesced into one call (one transaction).

While one batch is being written, new submissions wait and go together in the next, so
under load each transaction carries many runs, and alone a call costs one round trip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["Coalescer"]

In = TypeVar("In")
Out = TypeVar("Out")


class Coalescer(Generic[In, Out]):
    """Calls ``flush(items)`` (which returns one result per item, in order) for batches of
    at most ``max_batch`` submitted items; :meth:`submit` returns the item's result."""

    def __init__(
        self, flush: Callable[[Sequence[In]], Awaitable[Sequence[Out]]], *, max_batch: int = 128
    ) -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._pending: list[tuple[In, asyncio.Future[Out]]] = []
        self._draining: asyncio.Task[None] | None = None

    async def submit(self, item: In) -> Out:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Out] = loop.create_future()
        self._pending.append((item, future))
        draining = self._draining
        if draining is None or draining.done() or draining.get_loop() is not loop:
            self._draining = asyncio.create_task(self._drain(), name="llmspell-group-commit")
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            await self._write(batch)

    async def _write(self, batch: list[tuple[In, asyncio.Future[Out]]]) -> None:
        try:
            results = await self._flush([item for item, _ in batch])
        except asyncio.CancelledError as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            raise
        except Exception as exc:
            if len(batch) > 1:
                # One bad item must not fail its neighbours: write each alone.
                for single in batch:
                    await self._write([single])
                return
            _, future = batch[0]
            if not future.done():
                future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
