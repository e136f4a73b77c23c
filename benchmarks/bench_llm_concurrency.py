"""Many concurrent LLM calls against a fake server answering after 500 ms: CPU per call.

Three layers, each with ``--n`` calls started at once, for ``--rounds`` rounds (the first
opens the connections, the others reuse them):

- ``ChatModel.complete`` on the direct OpenAI-compatible path;
- ``LLMAgent.execute`` (one new agent per call);
- whole scripts ``Agent.create{...}:execute("hello")`` through a ``RuntimePool``, as in
  ``bench_daemon.py``.

CPU is this process's ``time.process_time()`` (every thread; the fake server runs in a
subprocess), divided by the number of calls; the cyclic garbage collector's share is
measured with ``gc.callbacks``. Run: ``.venv/bin/python benchmarks/bench_llm_concurrency.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Awaitable, Callable

from bench_agent import fake_server
from bench_daemon import run_agent_script


class GCClock:
    """Wall time spent in the cyclic collector (it holds the GIL, so it is CPU time)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections[info["generation"]] += 1


async def rounds(
    label: str, one: Callable[[], Awaitable[object]], n: int, count: int
) -> list[tuple[str, float, float, float, str]]:
    clock = GCClock()
    gc.callbacks.append(clock)
    rows = []
    try:
        for index in range(count):
            clock.seconds, clock.collections = 0.0, [0, 0, 0]
            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(*(one() for _ in range(n)))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            rows.append(
                (
                    f"{label} #{index + 1}",
                    wall,
                    cpu / n * 1000,
                    clock.seconds / n * 1000,
                    "/".join(map(str, clock.collections)),
                )
            )
    finally:
        gc.callbacks.remove(clock)
    return rows


async def measure(base_url: str, n: int, count: int) -> list[tuple[str, float, float, float, str]]:
    from llmspell.agents import AgentConfig, LLMAgent
    from llmspell.core.config import load_settings
    from llmspell.core.context import ExecutionContext
    from llmspell.core.types import AgentInput
    from llmspell.providers import ChatMessage, ChatRequest, get_chat_model, parse_model_spec
    from llmspell.runtime.pool import RuntimePool

    settings = load_settings(model="openai/fake", base_url=base_url, api_key="sk-test")
    model = get_chat_model(parse_model_spec("openai/fake", settings))
    request = ChatRequest(messages=(ChatMessage(role="user", content="hello"),))

    async def complete() -> object:
        return await model.complete(request)

    async def execute() -> object:
        agent = LLMAgent(AgentConfig(name="a", model="openai/fake"), settings=settings)
        return await agent.execute(AgentInput(text="hello"), ExecutionContext())

    results = await rounds("ChatModel.complete", complete, n, count)
    results += await rounds("LLMAgent.execute", execute, n, count)
    async with RuntimePool() as pool:

        async def script() -> object:
            return await run_agent_script(pool, settings)

        results += await rounds("script in RuntimePool", script, n, count)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with fake_server(latency_ms=500) as base_url:
        rows = asyncio.run(measure(base_url, args.n, args.rounds))
    print(f"{args.n} concurrent calls, fake server latency 500 ms")
    print(f"{'layer, round':<28}{'wall s':>8}{'CPU ms/call':>13}{'of which GC':>13}  gc gen0/1/2")
    for label, wall, cpu, in_gc, collections in rows:
        print(f"{label:<28}{wall:>8.2f}{cpu:>13.3f}{in_gc:>13.3f}  {collections}")
    warm = [cpu for label, _, cpu, _, _ in rows if label.startswith("script") and not label.endswith("#1")]
    if warm:
        print(f"scripts, warm rounds: median {statistics.median(warm):.3f} ms CPU per run")


if __name__ == "__main__":
    main()
