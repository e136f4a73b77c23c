"""A tiny ToolProvider for agent tests (the real registry lives in llmspell.tools)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from fakes.llm_server import FakeLLMServer
from llmspell.core.abc import Tool
from llmspell.core.config import ProviderConfig, Settings
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import LLMSpellError, NotFound, ToolError


class Calculator(Tool):
    name = "calculator"
    category = "utility"
    description = "Add integers: input like '2+3'"
    schema = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        try:
            return sum(int(term) for term in str(params["input"]).split("+"))
        except ValueError as exc:
            raise ToolError(f"cannot add {params['input']!r}") from exc


class Broken(Tool):
    name = "broken"
    category = "test"
    description = "Always fails"
    schema = {"type": "object", "properties": {}}

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        raise ToolError("the disk is on fire")


class Sleeper(Tool):
    """Sleeps ``ms`` and reports when it started and ended (for concurrency checks)."""

    name = "sleeper"
    category = "test"
    description = "Sleep for ms milliseconds"
    schema = {"type": "object", "properties": {"ms": {"type": "integer"}}}

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        start = time.monotonic()
        await asyncio.sleep(int(params.get("ms", 0)) / 1000)
        self.spans.append((start, time.monotonic()))
        return "slept"


class Toolbox:
    """Implements the agents' ToolProvider protocol over a dict of tools."""

    def __init__(self, *tools: Tool) -> None:
        self.tools = {tool.name: tool for tool in tools}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get(self, name: str) -> Tool:
        tool = self.tools.get(name.replace("_", "-")) or self.tools.get(name)
        if tool is None:
            raise NotFound.named("tool", name)
        return tool

    async def invoke_envelope(
        self, name: str, params: dict[str, Any], ctx: ExecutionContext
    ) -> dict[str, Any]:
        self.calls.append((name, params))
        try:
            result = await self.get(name).invoke(params, ctx)
        except LLMSpellError as exc:
            if exc.code == "CANCELLED":
                raise
            return {
                "success": False,
                "operation": None,
                "result": None,
                "message": None,
                "error": exc.to_dict(),
                "metadata": {},
            }
        return {
            "success": True,
            "operation": None,
            "result": result,
            "message": None,
            "error": None,
            "metadata": {},
        }


@pytest.fixture
def toolbox() -> Toolbox:
    return Toolbox(Calculator(), Broken(), Sleeper())


@pytest.fixture
def settings(fake_llm: FakeLLMServer) -> Settings:
    """``fake`` goes over httpx, ``fakelite`` through litellm; both reach the fake server."""
    return Settings(
        providers={
            "fake": ProviderConfig(type="openai", base_url=fake_llm.base_url, api_key="sk-a", max_retries=2),
            "fakelite": ProviderConfig(
                type="litellm", base_url=fake_llm.base_url, api_key="sk-b", max_retries=2
            ),
        }
    )


@pytest.fixture(params=["fake", "fakelite"], ids=["httpx", "litellm"])
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)
