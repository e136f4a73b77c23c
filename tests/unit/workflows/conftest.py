"""A LocalHost over a real tool registry with a few test tools, and an event recorder."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from llmspell.core.abc import Tool
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import ToolError
from llmspell.tools.registry import ToolRegistry, default_registry
from llmspell.workflows import LocalHost


class Sleeper(Tool):
    """Sleeps ``ms`` and records when it ran (for concurrency checks)."""

    name = "sleeper"
    category = "test"
    description = "Sleep for ms milliseconds"
    schema = {"type": "object", "properties": {"ms": {"type": "number"}, "tag": {}}}

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []
        self.running = 0
        self.peak = 0

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        start = time.monotonic()
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(float(params.get("ms", 0)) / 1000)
        finally:
            self.running -= 1
        self.spans.append((start, time.monotonic()))
        return params.get("tag", "slept")


class Broken(Tool):
    """Always fails with a tool error."""

    name = "broken"
    category = "test"
    description = "Always fails"
    schema = {"type": "object", "properties": {}}

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        raise ToolError("the disk is on fire")


class Recorder:
    """Collects emitted events."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, data: dict[str, Any]) -> None:
        self.events.append(data)

    def types(self, prefix: str = "workflow.") -> list[str]:
        return [e["type"] for e in self.events if e["type"].startswith(prefix)]


@pytest.fixture
def sleeper() -> Sleeper:
    return Sleeper()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def host(sleeper: Sleeper, recorder: Recorder) -> LocalHost:
    registry = ToolRegistry(parent=default_registry())
    registry.register(sleeper)
    registry.register(Broken())
    return LocalHost(tools=registry, emit=recorder)
