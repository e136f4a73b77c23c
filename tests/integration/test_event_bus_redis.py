"""The Redis Streams event bus: across processes, consumer groups, redelivery."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

from llmspell.events import open_event_bus
from llmspell.events.bus_redis import RedisEventBus

_PUBLISHER = """
import asyncio, sys
from llmspell.events import open_event_bus
async def main():
    bus = open_event_bus(sys.argv[1], prefix=sys.argv[2])
    for i in range(int(sys.argv[3])):
        await bus.publish("order.created" if i % 2 == 0 else "audit.noise", {"i": i}, source="child")
    await bus.flush()
    await bus.aclose()
asyncio.run(main())
"""

_GREEDY_CONSUMER = """
import asyncio, sys
from llmspell.events import open_event_bus
async def main():
    bus = open_event_bus(sys.argv[1], prefix=sys.argv[2], claim_idle_ms=200)
    sub = await bus.subscribe("job.*", group="workers")
    print("ready", flush=True)
    event = await sub.receive(10)
    print("got", event.data, flush=True)
    await asyncio.sleep(60)  # dies here (killed) without acknowledging
asyncio.run(main())
"""


async def test_events_cross_processes_in_order(redis_url: str, redis_key_prefix: str) -> None:
    bus = open_event_bus(redis_url, prefix=redis_key_prefix, block_ms=100)
    sub = await bus.subscribe("order.*")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _PUBLISHER, redis_url, redis_key_prefix, "200"
    )
    assert await proc.wait() == 0
    got = []
    while len(got) < 100:
        event = await sub.receive(5)
        assert event is not None, f"only {len(got)} events arrived"
        got.append(event)
    assert [e.data["i"] for e in got] == list(range(0, 200, 2))
    assert [e.sequence for e in got] == list(range(1, 200, 2))  # the publisher's own order
    assert {e.source for e in got} == {"child"}
    await bus.aclose()


async def test_consumer_group_redelivers_after_a_consumer_dies(redis_url: str, redis_key_prefix: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _GREEDY_CONSUMER, redis_url, redis_key_prefix],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        publisher = open_event_bus(redis_url, prefix=redis_key_prefix)
        await publisher.publish("job.run", {"n": 1})
        await publisher.flush()
        assert child.stdout.readline().strip() == "got {'n': 1}"
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    survivor = RedisEventBus(redis_url, prefix=redis_key_prefix, claim_idle_ms=200, block_ms=100)
    sub = await survivor.subscribe("job.*", group="workers")
    deadline = time.monotonic() + 10
    event = None
    while event is None and time.monotonic() < deadline:
        event = await sub.receive(0.5)
    assert event is not None and event.data == {"n": 1}  # redelivered to the live member
    await sub.ack()
    await publisher.publish("job.run", {"n": 2})
    await publisher.flush()
    nxt = await sub.receive(5)
    assert nxt is not None and nxt.data == {"n": 2}
    await sub.aclose()
    await survivor.aclose()
    await publisher.aclose()
