"""State and backup benchmarks.

Targets (issue 6): Postgres write p50 <= 1 ms, cached read p50 <= 50 us, uncached read
p50 <= 0.5 ms; SQLite write p50 <= 0.5 ms; backup of 100k keys + 1 GB of artifacts <= 30 s.

    .venv/bin/python benchmarks/bench_state.py [--pg postgresql://postgres@127.0.0.1/test]
        [--redis redis://127.0.0.1:6379/15] [--keys 100000] [--artifact-mb 1024] [--quick]

The Postgres database must exist; the benchmark creates a scratch database in it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import median, percentile, table
from llmspell.core.config import StateConfig
from llmspell.state import StateManager
from llmspell.storage import migrate, open_store


async def _timings(n: int, op: object) -> tuple[list[float], float]:
    """Wall microseconds of each call, and the mean CPU microseconds per call (a figure
    that other processes on the machine disturb much less than wall time)."""
    out = []
    cpu = time.process_time()
    for i in range(n):
        start = time.perf_counter()
        await op(i)  # type: ignore[operator]
        out.append((time.perf_counter() - start) * 1e6)
    return out, (time.process_time() - cpu) / n * 1e6


def _row(backend: str, operation: str, measured: tuple[list[float], float]) -> list[object]:
    wall, cpu = measured
    return [backend, operation, median(wall), percentile(wall, 99), cpu]


async def bench_backend(name: str, url: str, redis_url: str | None, n: int) -> list[list[object]]:
    await migrate.upgrade(url)
    rows: list[list[object]] = []
    async with open_store(url) as store:
        plain = StateManager(store)
        value = {"text": "x" * 200, "n": 1}
        for i in range(50):  # warm-up
            await plain.set("custom:warm", f"k{i}", value)
        writes = await _timings(n, lambda i: plain.set("custom:bench", f"k{i % 1000}", value))
        rows.append(_row(name, "write", writes))
        reads = await _timings(n, lambda i: plain.get("custom:bench", f"k{i % 1000}"))
        rows.append(_row(name, "uncached read", reads))
        cached = StateManager(store, config=StateConfig(cache_ttl_s=3600), cache=True, redis_url=redis_url)
        await cached.start()
        try:
            for i in range(1000):
                await cached.get("custom:bench", f"k{i}")
            hits = await _timings(n, lambda i: cached.get("custom:bench", f"k{i % 1000}"))
            rows.append(_row(name, "cached read", hits))
            if redis_url:
                cwrites = await _timings(n, lambda i: cached.set("custom:bench", f"k{i % 1000}", value))
                rows.append(_row(name, "write + Redis invalidation", cwrites))
        finally:
            await cached.aclose()
    return rows


async def bench_backup(url: str, keys: int, artifact_mb: int, tmp: Path) -> list[list[object]]:
    from llmspell.sessions import ArtifactManager, FileBlobStore
    from llmspell.state.backup import create_backup, restore_backup
    from llmspell.storage import StateWrite

    await migrate.upgrade(url)
    blobs = FileBlobStore(tmp / "blobs")
    async with open_store(url) as store:
        start = time.perf_counter()
        batch = []
        for i in range(keys):
            batch.append(
                StateWrite(scope=f"user:{i % 100}", key=f"key-{i}", value={"i": i, "s": "v" * 40}, size=60)
            )
            if len(batch) == 1000:
                await store.state.put_many(batch)
                batch = []
        if batch:
            await store.state.put_many(batch)
        session = await store.sessions.create(name="bench")
        artifacts = ArtifactManager(store, blobs)
        block = os.urandom(1 << 20)
        per_file = 64

        async def content(mb: int):  # type: ignore[no-untyped-def]
            for _ in range(mb):
                yield block[:-8] + secrets.token_bytes(8)

        remaining = artifact_mb
        index = 0
        while remaining > 0:
            size = min(per_file, remaining)
            await artifacts.put(session.id, f"file-{index}.bin", content(size))
            remaining -= size
            index += 1
        fill = time.perf_counter() - start
        start = time.perf_counter()
        manifest = await create_backup(store, blobs, tmp / "backups")
        took = time.perf_counter() - start
        size_mb = Path(manifest.path).stat().st_size / 1e6
        start = time.perf_counter()
        await store.maintenance.wipe(["sessions", "artifacts", "blobs", "state_entries"])
        await restore_backup(store, FileBlobStore(tmp / "blobs2"), Path(manifest.path))
        restore = time.perf_counter() - start
    return [
        ["fill (not timed target)", f"{keys} keys + {artifact_mb} MB", fill],
        ["backup create", f"{size_mb:.0f} MB file", took],
        ["restore (wipe + restore)", "", restore],
    ]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--artifact-mb", type=int, default=1024)
    parser.add_argument("--quick", action="store_true", help="10k keys and 100 MB for the backup")
    args = parser.parse_args()
    if args.quick:
        args.keys, args.artifact_mb = 10_000, 100
    import asyncpg

    scratch = f"llmspell_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(args.pg.replace("postgresql+asyncpg://", "postgresql://"))
    await admin.execute(f'CREATE DATABASE "{scratch}"')
    pg_url = args.pg.rsplit("/", 1)[0] + f"/{scratch}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rows = await bench_backend("sqlite", f"sqlite+aiosqlite:///{tmp}/bench.db", None, args.n)
            rows += await bench_backend("postgres", pg_url, args.redis, args.n)
            table(
                "State operations (microseconds)",
                ["backend", "operation", "p50 us", "p99 us", "CPU us/op (mean)"],
                rows,
            )
            backup = await bench_backup(pg_url, args.keys, args.artifact_mb, Path(tmp))
            table("Backup on Postgres (seconds)", ["step", "size", "seconds"], backup)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
