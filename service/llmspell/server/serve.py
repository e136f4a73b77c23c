"""``llmspell serve``: the daemon process — REST (uvicorn), gRPC, worker, scheduler.

Start-up: migrate (unless told not to), open the store, hub and runtime pool, then serve.
SIGTERM/SIGINT: stop accepting, stop claiming, let running runs finish within the
grace period, hand the rest back to the queue, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import logging
import signal
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import uvicorn

from ..core.errors import ConfigError
from ..runtime.collector import tune_collector

if TYPE_CHECKING:
    from ..core.config import Settings

__all__ = ["check_bind", "is_loopback", "serve"]

log = logging.getLogger("llmspell.serve")


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts local connections."""
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(
                ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None)
            )
        except OSError:
            return False


def check_bind(host: str, keys_enabled: bool, allow_insecure: bool) -> None:
    """Refuse to expose a daemon without API keys beyond loopback (unless allowed)."""
    if keys_enabled or is_loopback(host) or allow_insecure:
        return
    raise ConfigError(
        f"refusing to bind {host} without API keys: create one with 'llmspell keys create NAME', "
        "bind 127.0.0.1, or pass --allow-insecure-bind"
    )


def use_event_loop(kind: str) -> str:
    """Make new event loops (the API's and the runtime threads') of ``kind``; returns the one used.

    ``auto`` takes uvloop when it is installed (as uvicorn does): its loop does the
    socket and cross-thread work of every request in C.
    """
    if kind == "asyncio":
        return "asyncio"
    try:
        import uvloop
    except ImportError:
        if kind == "uvloop":
            raise ConfigError("server.event_loop is 'uvloop' but uvloop is not installed") from None
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


async def serve(settings: Settings, *, migrate: bool = True, ready_file: str | None = None) -> None:
    """Run the daemon until SIGTERM/SIGINT."""
    from ..runtime.control import Daemon
    from .app import create_app
    from .auth import Authenticator

    server_cfg = settings.server
    async with Daemon.open(settings, migrate=migrate) as daemon:
        auth = Authenticator(daemon.store)
        keys_enabled = await auth.refresh()
        check_bind(server_cfg.host, keys_enabled, server_cfg.allow_insecure_bind)
        if not keys_enabled:
            log.warning("no API keys configured: every caller is admin; binding %s only", server_cfg.host)
        app = create_app(
            daemon, auth, max_body_bytes=server_cfg.max_body_bytes, public_paths=server_cfg.public_paths
        )
        config = uvicorn.Config(
            app,
            host=server_cfg.host,
            port=server_cfg.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",  # no WebSocket routes: skips importing a WebSocket implementation at start
            proxy_headers=server_cfg.proxy_headers,
            timeout_graceful_shutdown=int(server_cfg.shutdown_grace_s),
        )
        http = _Server(config)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        grpc_server = None
        if server_cfg.grpc_port:
            from .grpc.server import start_grpc_server

            grpc_server = await start_grpc_server(daemon, auth, server_cfg.host, server_cfg.grpc_port)
        refresher = asyncio.create_task(_refresh_keys(auth), name="llmspell-keys")
        print(
            f"llmspell serve: REST on http://{server_cfg.host}:{server_cfg.port}"
            + (f", gRPC on {server_cfg.host}:{server_cfg.grpc_port}" if grpc_server else "")
            + f", database {daemon.store.url}, {daemon.worker.worker_id}"
            + (", events via Redis" if settings.redis_url else ", in-process events")
            + ("" if keys_enabled else " — no API keys: loopback only"),
            flush=True,
        )
        # Long-lived start-up objects leave the collector's generations: fewer, shorter pauses.
        gc.freeze()
        tune_collector()
        gc.enable()
        if ready_file:
            from pathlib import Path

            Path(ready_file).write_text("ready\n")
        serving = asyncio.create_task(http.serve(), name="llmspell-http")
        stopping = asyncio.create_task(stop.wait(), name="llmspell-stop")
        try:
            await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
            log.info("shutting down: no new requests, finishing running runs")
            if grpc_server is not None:
                from .grpc import set_serving

                await set_serving(grpc_server, False)
            http.should_exit = True
            await serving
        finally:
            stopping.cancel()
            refresher.cancel()
            if grpc_server is not None:
                from .grpc import stop_grpc_server

                await stop_grpc_server(grpc_server, min(5.0, server_cfg.shutdown_grace_s))


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon owns SIGTERM/SIGINT and exits 0
    after a graceful stop (uvicorn would re-raise the signal and die by it)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _refresh_keys(auth: object) -> None:
    from ..core.logging import LoopFailures

    refresh = getattr(auth, "refresh")  # noqa: B009
    failures = LoopFailures(log, "refreshing API keys")
    while True:
        await asyncio.sleep(5.0)
        try:
            await refresh()
        except Exception as exc:
            failures.failed(exc)
        else:
            failures.succeeded()
