"""Agent overhead against the fake OpenAI-compatible server.

Prints one table: a raw httpx round trip (the floor named in ARCHITECTURE.md), a raw
aiohttp round trip, ``LLMAgent.execute`` without tools on the direct path, and the
litellm path for reference; then 1,000 concurrent ``execute`` calls against a server
answering after 500 ms.

Run: ``.venv/bin/python benchmarks/bench_agent.py [--calls 500] [--concurrent 1000]``.
The fake servers run in subprocesses so that they do not share the client's GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


@contextmanager
def fake_server(latency_ms: float = 0.0) -> Iterator[str]:
    """Start ``tests/fakes/llm_server.py`` on a free port; yields its base URL."""
    command = [sys.executable, str(ROOT / "tests/fakes/llm_server.py"), "--latency-ms", str(latency_ms)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"fake server did not start: {line!r}")
        yield line.rsplit(" ", 1)[-1].strip()
    finally:
        process.terminate()
        process.wait(10)


async def timed(call: Callable[[], Awaitable[object]], calls: int, warmup: int) -> list[float]:
    """Milliseconds per call, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        await call()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def sequential(base_url: str, calls: int) -> list[tuple[str, list[float]]]:
    import aiohttp
    import httpx
    from llmspell.agents import AgentConfig, LLMAgent
    from llmspell.core.config import ProviderConfig, Settings
    from llmspell.core.context import ExecutionContext
    from llmspell.core.types import AgentInput

    url = f"{base_url}/chat/completions"
    data = json.dumps(BODY).encode()
    headers = {"content-type": "application/json", "authorization": "Bearer sk-bench"}
    results: list[tuple[str, list[float]]] = []
    async with httpx.AsyncClient() as client:

        async def raw_httpx() -> object:
            return (await client.post(url, content=data, headers=headers)).json()

        results.append(("raw httpx round trip", await timed(raw_httpx, calls, 50)))
    async with aiohttp.ClientSession() as session:

        async def raw_aiohttp() -> object:
            async with session.post(url, data=data, headers=headers) as response:
                return json.loads(await response.read())

        results.append(("raw aiohttp round trip", await timed(raw_aiohttp, calls, 50)))

    settings = Settings(
        providers={
            "direct": ProviderConfig(type="openai", base_url=base_url, api_key="sk-bench"),
            "lite": ProviderConfig(type="litellm", base_url=base_url, api_key="sk-bench"),
        }
    )
    for label, provider, n in (
        ("LLMAgent.execute, direct path", "direct", calls),
        ("LLMAgent.execute, litellm path", "lite", max(50, calls // 5)),
    ):
        agent = LLMAgent(AgentConfig(name="bench", model=f"{provider}/gpt-4o-mini"), settings=settings)

        async def execute(agent: LLMAgent = agent) -> object:
            agent.reset()
            return await agent.execute(AgentInput(text="hello"), ExecutionContext())

        results.append((label, await timed(execute, n, 20)))
    return results


async def concurrent(base_url: str, n: int) -> float:
    from llmspell.agents import AgentConfig, LLMAgent
    from llmspell.core.config import ProviderConfig, Settings
    from llmspell.core.context import ExecutionContext
    from llmspell.core.types import AgentInput

    settings = Settings(providers={"direct": ProviderConfig(type="openai", base_url=base_url)})
    agents = [LLMAgent(AgentConfig(name=f"a{i}", model="direct/m"), settings=settings) for i in range(n)]
    started = time.perf_counter()
    outputs = await asyncio.gather(*(a.execute(AgentInput(text="hi"), ExecutionContext()) for a in agents))
    elapsed = time.perf_counter() - started
    assert all(output.text == "Echo: hi" for output in outputs)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--concurrent", type=int, default=1000)
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    sys.path.insert(0, str(ROOT / "service"))

    with fake_server() as base_url:
        results = asyncio.run(sequential(base_url, args.calls))
    floor = statistics.median(results[0][1])
    print(f"{'path':<34}{'calls':>7}{'median ms':>11}{'p90 ms':>9}{'vs raw httpx':>14}")
    for label, samples in results:
        median = statistics.median(samples)
        p90 = statistics.quantiles(samples, n=10)[-1]
        print(f"{label:<34}{len(samples):>7}{median:>11.3f}{p90:>9.3f}{median - floor:>+14.3f}")
    if args.concurrent:
        with fake_server(latency_ms=500) as base_url:
            elapsed = asyncio.run(concurrent(base_url, args.concurrent))
        print(f"\n{args.concurrent} concurrent LLMAgent.execute, 500 ms server latency: {elapsed:.2f} s wall")


if __name__ == "__main__":
    main()
