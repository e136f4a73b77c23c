"""System tools against real processes, sockets and HTTP servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from llmspell.core.context import ExecutionContext, SandboxPolicy
from llmspell.core.errors import SandboxViolation, Timeout, ToolError, ValidationError
from llmspell.tools.builtin.system import (
    EnvironmentReaderTool,
    ProcessExecutorTool,
    ServiceCheckerTool,
    SystemMonitorTool,
)
from llmspell.tools.registry import ToolRegistry

ALLOWED = ("echo", "cat", "sleep", "yes", "env", "false", "pwd")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path.resolve()


@pytest.fixture
def ctx(root: Path) -> ExecutionContext:
    policy = SandboxPolicy(file_roots=(str(root),), network_allow=("127.0.0.1",), process_allow=ALLOWED)
    return ExecutionContext(policy=policy)


@pytest.fixture
def closed_ctx(root: Path) -> ExecutionContext:
    return ExecutionContext(policy=SandboxPolicy(file_roots=(str(root),)))


@pytest.fixture
def registry() -> ToolRegistry:
    reg = ToolRegistry()
    for tool in (EnvironmentReaderTool(), ProcessExecutorTool(), ServiceCheckerTool(), SystemMonitorTool()):
        reg.register(tool)
    return reg


async def call(registry: ToolRegistry, tool: str, ctx: ExecutionContext, /, **params: Any) -> Any:
    envelope = await registry.invoke(tool, params, ctx)
    assert envelope["success"] is True
    return envelope["result"]


# ----------------------------------------------------------------- environment-reader


async def test_environment_reader_allow_list(
    registry: ToolRegistry, ctx: ExecutionContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("LC_TIME", "de_DE.UTF-8")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter2")
    monkeypatch.setenv("APP_REGION", "eu")
    monkeypatch.delenv("TZ", raising=False)
    assert await call(registry, "environment-reader", ctx, name="LANG") == "C.UTF-8"
    assert await call(registry, "environment-reader", ctx, name="TZ", default="UTC") == "UTC"
    both = await call(registry, "environment-reader", ctx, names=["LANG", "LC_TIME"])
    assert both == {"LANG": "C.UTF-8", "LC_TIME": "de_DE.UTF-8"}
    with pytest.raises(SandboxViolation, match="LLMSPELL_ENV_ALLOW"):
        await registry.invoke("environment-reader", {"name": "AWS_SECRET_ACCESS_KEY"}, ctx)
    with pytest.raises(SandboxViolation):
        await registry.invoke("environment-reader", {"names": ["LANG", "APP_REGION"]}, ctx)
    listed = await call(registry, "environment-reader", ctx, operation="list")
    assert listed["variables"]["LANG"] == "C.UTF-8"
    assert "AWS_SECRET_ACCESS_KEY" not in listed["variables"] and "APP_REGION" not in listed["variables"]
    monkeypatch.setenv("LLMSPELL_ENV_ALLOW", "APP_*, OTHER")
    assert await call(registry, "environment-reader", ctx, name="APP_REGION") == "eu"
    with pytest.raises(ValidationError):
        await registry.invoke("environment-reader", {"operation": "get"}, ctx)


# ----------------------------------------------------------------- process-executor


async def test_process_runs_with_literal_arguments(
    registry: ToolRegistry, ctx: ExecutionContext, root: Path
) -> None:
    tricky = "a; touch pwned && $(touch pwned2) | cat > pwned3 `id` * ~ $HOME"
    result = await call(registry, "process-executor", ctx, command="echo", args=[tricky])
    assert result["stdout"] == tricky + "\n"
    assert result["returncode"] == 0 and result["truncated"] is False
    assert sorted(p.name for p in root.iterdir()) == []


async def test_process_refuses_unlisted_commands(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    for command in ("sh", "bash", "echo hi; touch x", "/bin/echo", "rm"):
        with pytest.raises(SandboxViolation, match="not"):
            await registry.invoke("process-executor", {"command": command, "args": ["-c", "echo x"]}, ctx)


async def test_process_environment_is_scrubbed(
    registry: ToolRegistry, ctx: ExecutionContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPER_SECRET_TOKEN", "hunter2")
    monkeypatch.setenv("LD_PRELOAD", "/tmp/evil.so")
    result = await call(registry, "process-executor", ctx, command="env")
    assert "hunter2" not in result["stdout"] and "LD_PRELOAD" not in result["stdout"]
    assert "PATH=/usr/local/bin:/usr/bin:/bin" in result["stdout"]


async def test_process_timeout_and_output_cap(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    started = time.monotonic()
    with pytest.raises(Timeout, match="timeout_s"):
        await registry.invoke("process-executor", {"command": "sleep", "args": ["30"], "timeout_s": 0.3}, ctx)
    assert time.monotonic() - started < 5
    result = await call(registry, "process-executor", ctx, command="yes", max_output_bytes=1000)
    assert result["truncated"] is True and len(result["stdout"]) == 1000


async def test_process_stdin_cwd_and_check(registry: ToolRegistry, ctx: ExecutionContext, root: Path) -> None:
    result = await call(registry, "process-executor", ctx, command="cat", stdin="piped text")
    assert result["stdout"] == "piped text"
    (root / "sub").mkdir()
    result = await call(registry, "process-executor", ctx, command="pwd", cwd="sub")
    assert result["stdout"].strip() == str(root / "sub")
    failed = await call(registry, "process-executor", ctx, command="false")
    assert failed["returncode"] == 1
    with pytest.raises(ToolError, match="status 1"):
        await registry.invoke("process-executor", {"command": "false", "check": True}, ctx)
    with pytest.raises(SandboxViolation):
        await registry.invoke("process-executor", {"command": "pwd", "cwd": "/"}, ctx)
    with pytest.raises(ValidationError, match="args"):
        await registry.invoke("process-executor", {"command": "echo", "args": "not a list"}, ctx)


# ----------------------------------------------------------------- service-checker


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 503 if self.path == "/down" else 200
        body = b'{"status": "ok"}' if status == 200 else b"unavailable"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def http_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
async def tcp_port() -> AsyncIterator[int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_service_checker_tcp(registry: ToolRegistry, ctx: ExecutionContext, tcp_port: int) -> None:
    up = await call(registry, "service-checker", ctx, host="127.0.0.1", port=tcp_port)
    assert up["healthy"] is True and up["check"] == "tcp" and up["latency_ms"] >= 0
    down = await call(registry, "service-checker", ctx, host="127.0.0.1", port=free_port(), timeout_s=2)
    assert down["healthy"] is False and down["error"]


async def test_service_checker_http(registry: ToolRegistry, ctx: ExecutionContext, http_server: str) -> None:
    ok = await call(registry, "service-checker", ctx, url=f"{http_server}/health", expect_text="ok")
    assert ok["healthy"] is True and ok["status"] == 200
    down = await call(registry, "service-checker", ctx, url=f"{http_server}/down")
    assert down["healthy"] is False and down["status"] == 503
    expected = await call(registry, "service-checker", ctx, url=f"{http_server}/down", expected_status=[503])
    assert expected["healthy"] is True
    text = await call(registry, "service-checker", ctx, url=f"{http_server}/health", expect_text="nope")
    assert text["healthy"] is False and "nope" in text["error"]
    refused = await call(registry, "service-checker", ctx, url=f"http://127.0.0.1:{free_port()}/")
    assert refused["healthy"] is False and refused["status"] is None


async def test_service_checker_network_policy(
    registry: ToolRegistry, ctx: ExecutionContext, closed_ctx: ExecutionContext, tcp_port: int
) -> None:
    with pytest.raises(SandboxViolation):
        await registry.invoke("service-checker", {"host": "127.0.0.1", "port": tcp_port}, closed_ctx)
    with pytest.raises(SandboxViolation):
        await registry.invoke("service-checker", {"url": f"http://127.0.0.1:{tcp_port}/"}, closed_ctx)
    for url in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "file:///etc/passwd"):
        with pytest.raises(SandboxViolation):
            await registry.invoke("service-checker", {"url": url}, ctx)
    with pytest.raises(SandboxViolation):
        await registry.invoke("service-checker", {"host": "169.254.169.254", "port": 80}, ctx)
    with pytest.raises(ValidationError):
        await registry.invoke("service-checker", {"host": "127.0.0.1"}, ctx)
    with pytest.raises(ValidationError):
        await registry.invoke("service-checker", {"url": "http://x/", "host": "127.0.0.1", "port": 1}, ctx)


# ----------------------------------------------------------------- system-monitor


async def test_system_monitor(registry: ToolRegistry, ctx: ExecutionContext, root: Path) -> None:
    result = await call(registry, "system-monitor", ctx, cpu_interval_s=0.05)
    assert set(result) == {"cpu", "memory", "disk", "load", "processes", "uptime"}
    assert result["cpu"]["count_logical"] >= 1 and 0 <= result["cpu"]["percent"] <= 100
    assert 0 < result["memory"]["available"] <= result["memory"]["total"]
    assert result["disk"]["path"] == str(root) and result["disk"]["total"] > 0
    assert result["processes"]["count"] > 1 and result["uptime"]["uptime_s"] > 0
    only = await call(registry, "system-monitor", ctx, metrics=["memory"])
    assert set(only) == {"memory"}
    with pytest.raises(SandboxViolation):
        await registry.invoke("system-monitor", {"metrics": ["disk"], "path": "/"}, ctx)
    with pytest.raises(ValidationError):
        await registry.invoke("system-monitor", {"metrics": ["gpu"]}, ctx)
