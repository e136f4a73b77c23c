"""Helpers shared by the benchmark scripts: tables, percentiles, daemons, load."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
LLMSPELL = str(Path(sys.executable).with_name("llmspell"))


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a plain aligned table."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    return str(value)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def env_without_llmspell(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    env.update(extra)
    return env


def start_daemon(
    data_dir: Path, *, env: dict[str, str] | None = None, timeout: float = 30
) -> tuple[subprocess.Popen[bytes], str, float]:
    """Start ``llmspell serve``; returns (process, url, seconds until /ready answered 200)."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    full_env = env_without_llmspell(LLMSPELL_DATA_DIR=str(data_dir), **(env or {}))
    started = time.perf_counter()
    process = subprocess.Popen(
        [LLMSPELL, "serve", "--port", str(port), "--grpc-port", "0"],
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=str(data_dir),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = started + timeout
    while time.perf_counter() < deadline:
        try:
            if httpx.get(f"{url}/ready", timeout=0.5).status_code == 200:
                return process, url, time.perf_counter() - started
        except httpx.TransportError:
            time.sleep(0.01)
    process.kill()
    raise RuntimeError("daemon did not become ready")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


async def closed_loop(
    url: str, path: str, body: Any, *, clients: int, seconds: float
) -> tuple[int, list[float]]:
    """``clients`` concurrent clients POSTing for ``seconds``; returns (count, latencies in ms)."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await http.post(path, json=body)
                response.raise_for_status()
                latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(worker() for _ in range(clients)))
    return len(latencies), latencies


def wrk_post(url: str, body: str, *, clients: int, seconds: float) -> tuple[float, float, float] | None:
    """(req/s, p50 ms, p99 ms) of POSTing ``body`` with wrk, or None when wrk is missing.

    wrk (C, event loop) is the load generator when present: a Python client on the same
    two cores would measure itself rather than the server.
    """
    import re
    import shutil
    import tempfile

    if shutil.which("wrk") is None:
        return None
    script = f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[{body}]]\n'
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    done = subprocess.run(
        ["wrk", "-t2", f"-c{clients}", f"-d{seconds:.0f}s", "--latency", "-s", handle.name, url],
        capture_output=True,
        text=True,
        check=True,
    )
    os.unlink(handle.name)
    out = done.stdout

    def ms(label: str) -> float:
        match = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        if match is None:
            return float("nan")
        value, unit = float(match[1]), match[2]
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"wrk saw {errors[1]} error responses from {url}")
    return rps, ms("50"), ms("99")


async def pipelined_posts(url: str, body: Any, n: int, *, connections: int = 64) -> list[Any]:
    """POST ``body`` (JSON) ``n`` times over ``connections`` keep-alive connections, each
    sending its share back to back (HTTP/1.1 pipelining), and return the decoded replies.

    A client that costs next to no CPU: a Python HTTP client sending 1,000 requests would
    compete with the server for the same two cores.
    """
    import json
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    payload = json.dumps(body).encode()
    request = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.hostname}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload

    async def one_connection(count: int) -> list[Any]:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(request * count)
        await writer.drain()
        replies = []
        for _ in range(count):
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            reply = json.loads(await reader.readexactly(length))
            if status >= 300:
                raise SystemExit(f"POST {url} answered {status}: {reply}")
            replies.append(reply)
        writer.close()
        return replies

    shares = [n // connections + (1 if i < n % connections else 0) for i in range(connections)]
    results = await asyncio.gather(*(one_connection(share) for share in shares if share))
    return [reply for replies in results for reply in replies]


async def until_no_run_is_active(http: httpx.AsyncClient, url: str, *, period_s: float) -> None:
    """Poll the daemon at ``url`` until it lists no queued and no running run."""
    while True:
        busy = [
            (await http.get(f"{url}/v1/runs", params={"limit": 1, "status": status})).json()["items"]
            for status in ("queued", "running")
        ]
        if not any(busy):
            return
        await asyncio.sleep(period_s)
