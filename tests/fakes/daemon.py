"""Start real ``llmspell serve`` subprocesses for end-to-end tests."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

LLMSPELL = str(Path(sys.executable).with_name("llmspell"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Daemon:
    """A running ``llmspell serve`` process."""

    process: subprocess.Popen[str]
    port: int
    grpc_port: int
    data_dir: Path
    log_path: Path
    database_url: str | None = None
    log_file: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def cli_env(self) -> dict[str, str]:
        """Environment for CLI commands that must reach this daemon's database."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
        env["LLMSPELL_DATA_DIR"] = str(self.data_dir)
        if self.database_url:
            env["LLMSPELL_DATABASE_URL"] = self.database_url
        return env

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=30, **kwargs)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log_file is not None:
            self.log_file.close()
        return self.process.returncode


def start_daemon(
    tmp: Path,
    *,
    database_url: str | None = None,
    redis_url: str | None = None,
    env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
    ready_timeout: float = 30.0,
) -> Daemon:
    """Start a daemon on free ports and wait until ``/ready`` answers 200."""
    port, grpc_port = free_port(), free_port()
    data_dir = tmp / f"data-{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    full_env.update(
        {
            "LLMSPELL_DATA_DIR": str(data_dir),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LLMSPELL_SERVER__SHUTDOWN_GRACE_S": "5",
        }
    )
    if database_url:
        full_env["LLMSPELL_DATABASE_URL"] = database_url
    if redis_url:
        full_env["LLMSPELL_REDIS_URL"] = redis_url
    full_env.update(env or {})
    log_path = data_dir / "serve.log"
    log_file = log_path.open("w")
    args = [LLMSPELL, "serve", "--port", str(port), "--grpc-port", str(grpc_port), *(extra_args or [])]
    process = subprocess.Popen(
        args, env=full_env, stdout=log_file, stderr=subprocess.STDOUT, text=True, cwd=str(tmp)
    )
    daemon = Daemon(
        process=process,
        port=port,
        grpc_port=grpc_port,
        data_dir=data_dir,
        log_path=log_path,
        database_url=database_url,
        log_file=log_file,
    )
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llmspell serve exited with {process.returncode}:\n{daemon.log()}")
        try:
            if httpx.get(f"{daemon.url}/ready", timeout=1).status_code == 200:
                return daemon
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    daemon.stop(signal.SIGKILL)
    raise RuntimeError(f"llmspell serve not ready after {ready_timeout}s:\n{daemon.log()}")


def daemon_on_backend(request: Any, tmp_path_factory: Any, prefix: str) -> Iterator[Daemon]:
    """Body of a module-scoped daemon fixture parametrized ``sqlite``/``postgres``: a daemon on
    that backend (Postgres through the ``postgres_url`` fixture), stopped cleanly at the end."""
    tmp = Path(tmp_path_factory.mktemp(f"{prefix}-{request.param}"))
    if request.param == "postgres":
        running = start_daemon(tmp, database_url=request.getfixturevalue("postgres_url"))
    else:
        running = start_daemon(tmp)
    yield running
    assert running.stop() == 0, running.log()


def client_without_agents(daemon: Daemon) -> Iterator[httpx.Client]:
    """Body of a client fixture: a client of ``daemon`` after deleting every stored agent."""
    with daemon.client() as client:
        for item in client.get("/v1/agents", params={"limit": 1000}).json()["items"]:
            client.delete(f"/v1/agents/{item['name']}")
        yield client


def _tail(url: str, pattern: str, out: queue.Queue[Any], headers: dict[str, str] | None = None) -> None:
    try:
        with (
            httpx.Client(base_url=url, timeout=None, headers=headers or {}) as http,
            http.stream("GET", "/v1/events", params={"pattern": pattern}) as response,
        ):
            out.put(("status", response.status_code))
            for line in response.iter_lines():
                if line == ": subscribed":
                    out.put(("subscribed", None))
                elif line.startswith("data: "):
                    out.put(("event", json.loads(line[6:])))
    except httpx.HTTPError:
        out.put(("closed", None))  # the daemon stopped at the end of the test


def tail_events(url: str, pattern: str, headers: dict[str, str] | None = None) -> queue.Queue[Any]:
    """Follow ``GET /v1/events?pattern=`` of the daemon at ``url`` on a thread, from the moment
    the subscription exists; read the events with :func:`next_event`."""
    out: queue.Queue[Any] = queue.Queue()
    threading.Thread(target=_tail, args=(url, pattern, out, headers), daemon=True).start()
    assert out.get(timeout=10) == ("status", 200)
    assert out.get(timeout=10) == ("subscribed", None)
    return out


def next_event(out: queue.Queue[Any], timeout: float = 10.0) -> dict[str, Any]:
    """The next event envelope a :func:`tail_events` tail received."""
    kind, value = out.get(timeout=timeout)
    assert kind == "event"
    return value  # type: ignore[no-any-return]
