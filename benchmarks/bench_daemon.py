"""Daemon benchmarks: start to /ready, /v1/runs/wait under 32 clients beside a bare FastAPI
endpoint, 1,000 concurrent runs awaiting a 500 ms LLM call, background runs on Postgres
with 2 replicas. Prints tables; no assertions."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from _common import (
    ROOT,
    closed_loop,
    env_without_llmspell,
    free_port,
    median,
    percentile,
    pipelined_posts,
    start_daemon,
    stop,
    table,
    until_no_run_is_active,
    wrk_post,
)

CLIENTS = 32
SECONDS = 8.0


def bench_startup(tmp: Path) -> None:
    first, again = [], []
    for i in range(3):
        process, _url, ready_s = start_daemon(tmp / f"start-{i}")  # a new database: migrated first
        first.append(ready_s * 1000)
        stop(process)
        process, _url, ready_s = start_daemon(tmp / f"start-{i}")  # the usual start: schema current
        again.append(ready_s * 1000)
        stop(process)
    table(
        "Daemon start to /ready (SQLite)",
        ["start", "runs", "median ms", "max ms", "target"],
        [
            ["existing database (restart)", len(again), median(again), max(again), "<= 1000 ms"],
            ["new database (creates the schema)", len(first), median(first), max(first), ""],
        ],
    )


def bench_wait(tmp: Path) -> None:
    process, url, _ = start_daemon(tmp / "wait")
    port = free_port()
    bare = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=str(Path(__file__).parent),
        env=env_without_llmspell(),
    )
    try:
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                httpx.post(f"http://127.0.0.1:{port}/hello", json={}, timeout=0.5)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        body = {"script": {"code": "return 1 + 1"}}
        measured = wrk_post(f"{url}/v1/runs/wait", json.dumps(body), clients=CLIENTS, seconds=1)
        if measured is not None:
            rps, p50, p99 = wrk_post(
                f"{url}/v1/runs/wait", json.dumps(body), clients=CLIENTS, seconds=SECONDS
            )  # type: ignore[misc]
            bare_rps, bare_p50, bare_p99 = wrk_post(  # type: ignore[misc]
                f"http://127.0.0.1:{port}/hello", '{"x": 1}', clients=CLIENTS, seconds=SECONDS
            )
            client = "wrk"
        else:
            asyncio.run(closed_loop(url, "/v1/runs/wait", body, clients=CLIENTS, seconds=1.0))  # warm-up
            count, lat = asyncio.run(
                closed_loop(url, "/v1/runs/wait", body, clients=CLIENTS, seconds=SECONDS)
            )
            bare_count, bare_lat = asyncio.run(
                closed_loop(f"http://127.0.0.1:{port}", "/hello", {"x": 1}, clients=CLIENTS, seconds=SECONDS)
            )
            rps, p50, p99 = count / SECONDS, median(lat), percentile(lat, 99)
            bare_rps, bare_p50, bare_p99 = bare_count / SECONDS, median(bare_lat), percentile(bare_lat, 99)
            client = "httpx (install wrk for a client that does not compete with the server)"
    finally:
        stop(process)
        stop(bare)  # type: ignore[arg-type]
    table(
        f"POST /v1/runs/wait, trivial script, {CLIENTS} concurrent clients, {SECONDS:.0f} s (SQLite; client: {client})",
        ["endpoint", "req/s", "p50 ms", "p99 ms", "target"],
        [
            ["/v1/runs/wait", rps, p50, p99, ">= 1000/s, p99 <= 25 ms"],
            ["bare FastAPI POST", bare_rps, bare_p50, bare_p99, ""],
            ["ratio", f"{rps / bare_rps:.0%}", "", "", ">= 40 %"],
        ],
    )


def start_fake_llm(latency_ms: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "fakes" / "llm_server.py"),
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            httpx.get(f"{url}/models", timeout=0.5)
            return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("fake LLM server did not start")


AGENT_SCRIPT = 'local a = Agent.create{name = "a"} return a:execute("hello").text'


async def run_agent_script(pool: Any, settings: Any) -> Any:
    """Run AGENT_SCRIPT on ``pool``; exits the benchmark when the run fails."""
    from llmspell.core.context import ExecutionContext, Limits
    from llmspell.runtime.runner import execute_script

    outcome = await pool.run(
        lambda: execute_script(
            AGENT_SCRIPT, ctx=ExecutionContext(limits=Limits(timeout_s=30)), settings_loader=lambda: settings
        )
    )
    if outcome.error is not None:
        raise SystemExit(str(outcome.error))
    return outcome


async def _concurrent_in_process(base_url: str, n: int) -> tuple[float, float]:
    """Seconds for a first burst of n runs (opens n connections) and for a second one."""
    from llmspell.core.config import load_settings
    from llmspell.runtime.collector import tune_collector
    from llmspell.runtime.pool import RuntimePool

    settings = load_settings(model="openai/fake", base_url=base_url, api_key="sk-test")
    tune_collector()  # as `llmspell serve` does
    async with RuntimePool() as pool:

        async def one() -> None:
            await run_agent_script(pool, settings)

        await asyncio.gather(*(one() for _ in range(20)))  # imports, first connections
        bursts = []
        for _ in range(2):
            started = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(n)))
            bursts.append(time.perf_counter() - started)
        return bursts[0], bursts[1]


async def _submit_and_wait(urls: list[str], body: dict, n: int, clients: int = 32) -> tuple[float, float]:
    """Submit n background runs round-robin over urls; returns (submit s, all-done s)."""
    started = time.perf_counter()
    ids: list[str] = []
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=clients)) as http:
        queue = list(range(n))

        async def submitter() -> None:
            while queue:
                i = queue.pop()
                response = await http.post(f"{urls[i % len(urls)]}/v1/runs", json=body)
                response.raise_for_status()
                ids.append(response.json()["id"])

        await asyncio.gather(*(submitter() for _ in range(clients)))
        submitted = time.perf_counter() - started
        await until_no_run_is_active(http, urls[0], period_s=0.02)
        failed = (await http.get(f"{urls[0]}/v1/runs", params={"limit": 1, "status": "failed"})).json()[
            "items"
        ]
        if failed:
            raise SystemExit(f"a run failed: {failed[0]['error']}")
        return submitted, time.perf_counter() - started


async def _burst_through_daemon(url: str, n: int) -> tuple[float, float]:
    """(seconds to submit n background runs, seconds until the last of them finished).

    The end is the latest ``finished_at`` of the runs (the daemon's clock, this machine's):
    the client polls only every 100 ms, so that it neither costs the daemon much CPU nor
    rounds the figure up to its polling period.
    """
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    ids = [
        reply["id"]
        for reply in await pipelined_posts(f"{url}/v1/runs", {"script": {"code": AGENT_SCRIPT}}, n)
    ]
    submitted = time.perf_counter() - started
    async with httpx.AsyncClient(timeout=60) as http:
        await until_no_run_is_active(http, url, period_s=0.1)
        runs = (await http.get(f"{url}/v1/runs", params={"limit": n})).json()["items"]
    wanted = set(ids)
    mine = [run for run in runs if run["id"] in wanted]
    failed = [run for run in mine if run["status"] != "succeeded"]
    if failed or len(mine) != n:
        raise SystemExit(f"a run failed: {failed[0]['error'] if failed else 'runs missing'}")
    last = max(datetime.fromisoformat(run["finished_at"]) for run in mine)
    return submitted, (last - started_at).total_seconds()


def bench_concurrent_llm(tmp: Path, n: int = 1000) -> None:
    fake, base_url = start_fake_llm(500)
    try:
        cold, warm = asyncio.run(_concurrent_in_process(base_url, n))
        env = {"LLMSPELL_MODEL": "openai/fake", "LLMSPELL_BASE_URL": base_url, "OPENAI_API_KEY": "sk-test"}
        process, url, _ = start_daemon(tmp / "llm", env=env)
        try:
            asyncio.run(_burst_through_daemon(url, 20))
            daemon = [asyncio.run(_burst_through_daemon(url, n)) for _ in range(2)]
        finally:
            stop(process)
    finally:
        stop(fake)  # type: ignore[arg-type]
    rows: list[list[object]] = [
        ["runtime pool, in process: first burst (opens the connections)", cold, "<= 2 s"],
        ["runtime pool, in process: second burst", warm, "<= 2 s"],
    ]
    for label, (submitted, done) in zip(("first", "second"), daemon, strict=True):
        rows.append(
            [f"daemon: {label} burst of POST /v1/runs (submitted in {submitted:.2f} s)", done, "<= 2 s"]
        )
    table(
        f"{n} concurrent runs, each awaiting a 500 ms fake-LLM call", ["path", "all done (s)", "target"], rows
    )


def bench_postgres_replicas(tmp: Path, n: int = 3000, seconds: float = 6.0) -> None:
    """Background runs (POST /v1/runs, then executed and stored) on 2 replicas sharing
    Postgres + Redis. With wrk installed, one wrk per replica (16 connections each) submits
    for ``seconds``; otherwise httpx submits ``n`` runs. The end is read from the database."""
    import shutil

    import asyncpg

    name = f"llmspell_bench_{int(time.time())}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    dsn = f"postgresql://postgres@127.0.0.1:5432/{name}"

    async def sql(url: str, statement: str) -> Any:
        connection = await asyncpg.connect(url)
        try:
            return await connection.fetchval(statement)
        finally:
            await connection.close()

    async def drained(started: float) -> tuple[int, float]:
        """(succeeded runs, seconds from ``started`` until nothing is queued or running)."""
        while await sql(dsn, "SELECT count(*) FROM runs WHERE status IN ('queued', 'running')"):
            await asyncio.sleep(0.02)
        done = time.perf_counter() - started
        failed = await sql(dsn, "SELECT count(*) FROM runs WHERE status <> 'succeeded'")
        if failed:
            raise SystemExit(f"{failed} runs did not succeed")
        return await sql(dsn, "SELECT count(*) FROM runs WHERE status = 'succeeded'"), done

    def wrk_submit(urls: list[str]) -> tuple[int, float]:
        """(runs submitted, seconds): one wrk per replica, started together."""
        script = tmp / "submit.lua"
        body = json.dumps({"script": {"code": "return 1"}})
        script.write_text(
            f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[{body}]]\n'
        )
        started = time.perf_counter()
        clients = [
            subprocess.Popen(
                ["wrk", "-t1", "-c16", f"-d{seconds:.0f}s", "-s", str(script), f"{url}/v1/runs"],
                stdout=subprocess.PIPE,
                text=True,
            )
            for url in urls
        ]
        outputs = [client.communicate()[0] for client in clients]
        took = time.perf_counter() - started
        total = 0
        for out in outputs:
            if "Non-2xx" in out:
                raise SystemExit(f"wrk saw error responses:\n{out}")
            total += int(out.split(" requests in ")[0].split()[-1])
        return total, took

    try:
        asyncio.run(sql(admin, f"CREATE DATABASE {name}"))
    except Exception as exc:
        print(f"\n(skipped Postgres replicas: {exc})")
        return
    database_url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    env = {"LLMSPELL_DATABASE_URL": database_url, "LLMSPELL_REDIS_URL": "redis://127.0.0.1:6379/14"}
    replicas = [start_daemon(tmp / f"pg-{i}", env=env) for i in range(2)]
    try:
        urls = [url for _, url, _ in replicas]
        asyncio.run(_submit_and_wait(urls, {"script": {"code": "return 1"}}, 100))  # warm-up
        asyncio.run(sql(dsn, "DELETE FROM runs"))
        started = time.perf_counter()
        if shutil.which("wrk") is not None:
            submitted, submit_s = wrk_submit(urls)
            client = f"wrk, 2 x 16 connections, {seconds:.0f} s"
        else:
            submit_s, _ = asyncio.run(_submit_and_wait(urls, {"script": {"code": "return 1"}}, n))
            submitted, client = n, "httpx, 32 connections (install wrk for a client that competes less)"
        succeeded, done_s = asyncio.run(drained(started))
    finally:
        for process, _, _ in replicas:
            stop(process)
        asyncio.run(sql(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    table(
        f"Background runs on Postgres + Redis, 2 replicas, {succeeded} runs (client: {client})",
        ["measure", "value", "target"],
        [
            ["submitted (runs/s)", submitted / submit_s, ""],
            ["end to end: submit + execute + stored (runs/s)", succeeded / done_s, ">= 500/s"],
        ],
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        bench_startup(tmp)
        bench_wait(tmp)
        bench_concurrent_llm(tmp)
        bench_postgres_replicas(tmp)


if __name__ == "__main__":
    main()
