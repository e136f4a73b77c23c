"""RuntimePool: coroutines run on runtime threads; results, errors and cancellation cross back."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest
from llmspell.core.errors import LLMSpellError, ValidationError
from llmspell.runtime.pool import RuntimePool


@pytest.fixture
async def pool() -> AsyncIterator[RuntimePool]:
    async with RuntimePool(2) as opened:
        yield opened


async def test_result_comes_back_from_another_thread(pool: RuntimePool) -> None:
    async def where() -> int:
        await asyncio.sleep(0)
        return threading.get_ident()

    idents = await asyncio.gather(*(pool.run(where) for _ in range(20)))
    assert threading.get_ident() not in idents
    assert len(set(idents)) == 2  # the least busy thread takes each call
    assert pool.active == 0


async def test_errors_come_back_as_raised(pool: RuntimePool) -> None:
    async def fails() -> None:
        raise ValidationError("bad input")

    def factory_fails() -> asyncio.Future[None]:
        raise KeyError("no coroutine at all")

    with pytest.raises(ValidationError, match="bad input"):
        await pool.run(fails)
    with pytest.raises(KeyError, match="no coroutine"):
        await pool.run(factory_fails)  # type: ignore[arg-type]


async def test_cancelling_the_caller_cancels_the_coroutine_on_its_thread(pool: RuntimePool) -> None:
    started, stopped = threading.Event(), threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            stopped.set()
            raise

    caller = asyncio.ensure_future(pool.run(forever))
    await asyncio.to_thread(started.wait, 5)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert await asyncio.to_thread(stopped.wait, 5)
    assert pool.active == 0


async def test_a_coroutine_cancelled_on_its_thread_cancels_the_caller(pool: RuntimePool) -> None:
    async def cancels_itself() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(1)

    with pytest.raises(asyncio.CancelledError):
        await pool.run(cancels_itself)


async def test_a_closed_pool_refuses_to_start() -> None:
    pool = RuntimePool(1)
    pool.start()
    pool.close()
    with pytest.raises(LLMSpellError, match="closed"):
        await pool.run(lambda: asyncio.sleep(0))
