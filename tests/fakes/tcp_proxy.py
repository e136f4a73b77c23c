"""A TCP proxy on 127.0.0.1 that tests cut and restore: a real network outage between a
daemon and its PostgreSQL or Redis, without stopping the shared servers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from typing import Any

__all__ = ["TcpProxy"]


class TcpProxy:
    """Forwards connections from ``port`` to ``target_host:target_port``, on its own thread.

    :meth:`cut` closes every open connection and refuses new ones (as a dead host would:
    connections are accepted and closed at once); :meth:`restore` forwards again.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._open: set[asyncio.StreamWriter] = set()
        self._cut = False
        self._server: asyncio.Server | None = None
        started = threading.Event()
        self._thread = threading.Thread(target=self._main, args=(started,), daemon=True)
        self._thread.start()
        started.wait(10)

    def _main(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._accept, "127.0.0.1", self.port)
        )
        started.set()
        self._loop.run_forever()
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        if self._server is not None:
            self._loop.run_until_complete(self._server.wait_closed())
        self._loop.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            writer.close()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._open.update((writer, upstream_writer))
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer), return_exceptions=True
        )
        self._open.difference_update((writer, upstream_writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    def _call(self, fn: Any) -> None:
        asyncio.run_coroutine_threadsafe(fn(), self._loop).result(10)

    def cut(self) -> None:
        """Drop every connection and refuse new ones."""

        async def cut() -> None:
            self._cut = True
            for writer in list(self._open):
                with contextlib.suppress(Exception):
                    writer.transport.abort()
            self._open.clear()

        self._call(cut)

    def restore(self) -> None:
        """Forward new connections again."""

        async def restore() -> None:
            self._cut = False

        self._call(restore)

    def close(self) -> None:
        """Stop the proxy and its thread."""

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._open):
                writer.transport.abort()

        self._call(close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
