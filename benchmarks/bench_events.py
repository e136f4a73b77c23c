"""Event bus benchmark: throughput (memory, Redis Streams) and delivery latency.

Run: ``.venv/bin/python benchmarks/bench_events.py [--events N] [--redis URL]``. Prints a table.

- memory: events/s from ``publish`` to ``receive`` on one subscription (target ≥ 300,000/s).
- redis: the same through Redis Streams with batched publishing (target ≥ 40,000/s); skipped
  without ``--redis`` (default ``redis://127.0.0.1:6379/15`` when reachable).
- latency: publishing paced at 10,000 events/s for 2 s; p50/p99 of receive time minus the
  event's timestamp (target p99 ≤ 5 ms), for each backend.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from _common import percentile, table
from llmspell.events import open_event_bus
from llmspell.events.abc import EventBus


async def throughput(bus: EventBus, n: int) -> float:
    sub = await bus.subscribe("bench.*", capacity=n + 10, overflow="block")
    received = 0

    async def consume() -> None:
        nonlocal received
        while received < n:
            event = await sub.receive(10.0)
            if event is None:
                raise RuntimeError(f"only {received} of {n} events arrived")
            received += 1

    consumer = asyncio.create_task(consume())
    started = time.perf_counter()
    publish = bus.publish
    for i in range(n):
        await publish("bench.tick", i)
    await bus.flush()
    await consumer
    elapsed = time.perf_counter() - started
    await sub.aclose()
    return n / elapsed


async def latency(bus: EventBus, rate: int, seconds: float) -> tuple[float, float, int]:
    sub = await bus.subscribe("lat.*", capacity=rate * 10)
    total = int(rate * seconds)
    delays: list[float] = []

    async def consume() -> None:
        while len(delays) < total:
            event = await sub.receive(10.0)
            if event is None:
                return
            delays.append((time.time() - event.timestamp) * 1000.0)

    consumer = asyncio.create_task(consume())
    started = time.perf_counter()
    batch = max(1, rate // 1000)  # publish every millisecond
    sent = 0
    while sent < total:
        for _ in range(batch):
            await bus.publish("lat.tick", sent)
            sent += 1
        next_at = started + sent / rate
        delay = next_at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    await bus.flush()
    await consumer
    await sub.aclose()
    return percentile(delays, 50), percentile(delays, 99), len(delays)


async def redis_available(url: str) -> bool:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        await client.ping()
        return True
    except Exception:
        return False
    finally:
        await client.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    rows = []
    memory = open_event_bus(None)
    rows.append(["memory publish→deliver (events/s)", await throughput(memory, args.events), "≥ 300,000"])
    p50, p99, got = await latency(memory, 10_000, 2.0)
    rows.append(["memory latency p50 / p99 at 10,000/s (ms)", f"{p50:.3f} / {p99:.3f} ({got} ev)", "p99 ≤ 5"])
    await memory.aclose()
    if await redis_available(args.redis):
        bus = open_event_bus(args.redis, prefix=f"bench:{uuid.uuid4().hex}:")
        rows.append(
            ["redis streams publish→deliver (events/s)", await throughput(bus, args.events // 2), "≥ 40,000"]
        )
        p50, p99, got = await latency(bus, 10_000, 2.0)
        rows.append(
            ["redis latency p50 / p99 at 10,000/s (ms)", f"{p50:.3f} / {p99:.3f} ({got} ev)", "p99 ≤ 5"]
        )
        await bus.aclose()
    else:
        rows.append(["redis streams", f"skipped: {args.redis} unreachable", ""])
    table("Event bus", ["measure", "value", "target"], rows)


if __name__ == "__main__":
    asyncio.run(main())
