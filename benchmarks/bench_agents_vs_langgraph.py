"""Agents: creation cost, and per-turn orchestration overhead side by side with LangGraph.

* Agent creation (``AgentRegistry.create`` of an LLM agent with one tool): target <= 0.2 ms.
* A ReAct-style agent with one tool (``calculator``), 200 turns against the same fake LLM
  server (a subprocess): each turn is two model calls and one tool call. The overhead per
  turn is the turn's time minus the floor of two raw httpx round trips with the same bodies.
  LangGraph's prebuilt ReAct agent (``create_react_agent`` over ``ChatOpenAI``) runs the
  same turns when ``langgraph`` and ``langchain-openai`` are installed (they are not
  dependencies of llmspell: ``pip install langgraph langchain-openai`` to compare).

Run: ``.venv/bin/python benchmarks/bench_agents_vs_langgraph.py [--turns 200]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from _common import table
from bench_agent import fake_server

CREATE = 5000


def creation_us() -> float:
    from llmspell.agents import AgentRegistry
    from llmspell.core.config import Settings
    from llmspell.tools.registry import default_registry

    registry = AgentRegistry(tools=default_registry(), settings=Settings())
    fields = {"model": "openai/gpt-4o-mini", "base_url": "http://127.0.0.1:9/v1", "api_key": "k"}
    registry.create({"name": "warm", **fields, "tools": ["calculator"]})
    started = time.perf_counter()
    for i in range(CREATE):
        registry.create({"name": f"a{i}", **fields, "tools": ["calculator"]})
    return (time.perf_counter() - started) / CREATE * 1e6


async def per_turn(turn: Callable[[int], Awaitable[object]], turns: int) -> list[float]:
    for i in range(10):
        await turn(i)
    samples = []
    for i in range(turns):
        started = time.perf_counter()
        await turn(i)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def floor(base_url: str, turns: int) -> list[float]:
    import httpx

    tool = {
        "type": "function",
        "function": {
            "name": "calculator",
            "description": "calculator",
            "parameters": {"type": "object", "properties": {"input": {"type": "string"}}},
        },
    }
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "calculator", "arguments": '{"input": "2+3"}'},
    }
    first = {"model": "fake", "messages": [{"role": "user", "content": "calc: 2+3"}], "tools": [tool]}
    second = {
        "model": "fake",
        "tools": [tool],
        "messages": [
            *first["messages"],
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": '{"result": 5}'},
        ],
    }
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": "Bearer k"}) as http:

        async def turn(_: int) -> None:
            (await http.post("/chat/completions", json=first)).raise_for_status()
            (await http.post("/chat/completions", json=second)).raise_for_status()

        return await per_turn(turn, turns)


async def llmspell_turns(base_url: str, turns: int) -> list[float]:
    from llmspell.agents import AgentRegistry
    from llmspell.core.config import Settings
    from llmspell.core.context import ExecutionContext
    from llmspell.core.types import AgentInput
    from llmspell.tools.registry import default_registry

    registry = AgentRegistry(tools=default_registry(), settings=Settings())
    agent = registry.create(
        {
            "name": "react",
            "model": "openai/fake",
            "base_url": base_url,
            "api_key": "k",
            "tools": ["calculator"],
        }
    )

    async def turn(i: int) -> None:
        agent.reset()
        output = await agent.execute(AgentInput(text=f"calc: {i}+3"), ExecutionContext())
        assert output.tool_calls and output.text.startswith("The answer is"), output.text

    return await per_turn(turn, turns)


async def langgraph_turns(base_url: str, turns: int) -> list[float] | None:
    try:
        from langchain_core.tools import tool
        from langchain_openai import ChatOpenAI
        from langgraph.prebuilt import create_react_agent
    except ImportError:
        print("\nLangGraph is not installed: pip install langgraph langchain-openai to compare (skipped).")
        return None

    @tool
    def calculator(input: str) -> dict[str, Any]:
        """Evaluate an arithmetic expression such as '2+3'."""
        return {"value": sum(int(term) for term in input.split("+")), "expression": input}

    model = ChatOpenAI(model="fake", base_url=base_url, api_key="k", max_retries=0)  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = create_react_agent(model, [calculator])

    async def turn(i: int) -> None:
        state = await graph.ainvoke({"messages": [("user", f"calc: {i}+3")]})
        assert str(state["messages"][-1].content).startswith("The answer is"), state["messages"][-1]

    return await per_turn(turn, turns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    created = creation_us()
    table(
        "Agent creation",
        ["what", "us/agent", "target"],
        [["AgentRegistry.create", f"{created:.1f}", "<= 200"]],
    )
    with fake_server() as base_url:
        # The floor is measured before and after (the best of both): the first client
        # to hit a fresh server also pays its warm-up.
        base = statistics.median(asyncio.run(floor(base_url, args.turns)))
        ours = statistics.median(asyncio.run(llmspell_turns(base_url, args.turns)))
        theirs_samples = asyncio.run(langgraph_turns(base_url, args.turns))
        base = min(base, statistics.median(asyncio.run(floor(base_url, args.turns))))
    rows = [
        ["raw httpx (2 round trips)", f"{base:.2f}", "-"],
        ["llmspell LLMAgent", f"{ours:.2f}", f"{ours - base:.2f}"],
    ]
    if theirs_samples is not None:
        theirs = statistics.median(theirs_samples)
        rows.append(["LangGraph create_react_agent", f"{theirs:.2f}", f"{theirs - base:.2f}"])
    table(
        f"ReAct turn with one tool, {args.turns} turns (median)",
        ["agent", "ms/turn", "overhead ms/turn"],
        rows,
    )


if __name__ == "__main__":
    main()
