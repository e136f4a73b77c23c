"""Run async clean-up when an event loop shuts down.

Pooled HTTP connections belong to the loop that opened them and must be closed on that
loop before it closes, or their sockets leak. asyncio has no loop-close callback, but
``asyncio.run``, ``asyncio.Runner`` and uvicorn all call ``loop.shutdown_asyncgens()``,
which closes every suspended async generator the loop has seen: a generator parked at
``yield`` with the clean-up in its ``finally`` is that callback.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable

__all__ = ["on_loop_shutdown"]

_hooks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AsyncGenerator[None, None]]]
_hooks = weakref.WeakKeyDictionary()
_lock = threading.Lock()


async def _parked(callback: Callable[[], Awaitable[None]]) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await callback()


async def on_loop_shutdown(key: str, callback: Callable[[], Awaitable[None]]) -> None:
    """Call ``callback()`` on the running loop when it shuts down (once per ``key`` and loop)."""
    loop = asyncio.get_running_loop()
    with _lock:
        per_loop = _hooks.setdefault(loop, {})
        if key in per_loop:
            return
        hook = per_loop[key] = _parked(callback)
    await hook.__anext__()
