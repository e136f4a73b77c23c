"""Agents built from stored definitions (``agent_from_definition``, ``stored_agent_info``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from llmspell.agents import (
    DelegateAgent,
    LLMAgent,
    PipelineAgent,
    agent_from_definition,
    agent_info,
    normalize_definition,
    stored_agent_info,
)
from llmspell.core.config import Settings
from llmspell.core.errors import NotFound, ValidationError

from .conftest import Toolbox


def definitions(*bodies: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {body["name"]: normalize_definition(body) for body in bodies}


def loader(stored: Mapping[str, Mapping[str, Any]]) -> Any:
    async def load(name: str) -> Mapping[str, Any]:
        if name not in stored:
            raise NotFound.named("agent", name)
        return stored[name]

    return load


STORED = definitions(
    {"name": "a", "model": "openai/fake", "tools": ["calculator"], "capabilities": ["math"]},
    {"name": "b", "model": "openai/fake", "system_prompt": "B"},
    {"name": "team", "type": "pipeline", "agents": ["a", "b"]},
    {"name": "desk", "type": "delegate", "agents": ["a", "b"], "router": "b", "default": "a"},
)


async def test_builds_llm_agents_and_composites(toolbox: Toolbox) -> None:
    settings = Settings()
    llm = await agent_from_definition(STORED["a"], loader(STORED), tools=toolbox, settings=settings)
    assert isinstance(llm, LLMAgent) and llm.config.tools == ("calculator",) and llm.name == "a"
    team = await agent_from_definition(STORED["team"], loader(STORED), settings=settings)
    assert isinstance(team, PipelineAgent) and list(team.members) == ["a", "b"]
    desk = await agent_from_definition(STORED["desk"], loader(STORED), settings=settings)
    assert isinstance(desk, DelegateAgent) and list(desk.members) == ["a", "b"]


async def test_missing_members_and_cycles_are_errors() -> None:
    broken = {**STORED, "team": {**STORED["team"], "agents": ["a", "gone"]}}
    with pytest.raises(NotFound, match="No agent named 'gone'"):
        await agent_from_definition(broken["team"], loader(broken))
    # Definitions are checked one by one on upload, so a cycle can only appear in the store.
    cycle = {
        "x": {"name": "x", "type": "pipeline", "agents": ["y"]},
        "y": {"name": "y", "type": "pipeline", "agents": ["x"]},
    }
    with pytest.raises(ValidationError, match="a cycle"):
        await agent_from_definition(cycle["x"], loader(cycle))


async def test_info_is_the_info_of_the_built_agent() -> None:
    settings = Settings()
    info = await stored_agent_info(STORED["a"], STORED, settings=settings)
    built = await agent_from_definition(STORED["a"], loader(STORED), settings=settings)
    assert info == agent_info(built, ["math"])
    assert info["state"] == "uninitialized" and {"math", "calculator"} <= set(info["capabilities"])
    team = await stored_agent_info(STORED["team"], STORED, settings=settings)
    assert team["type"] == "pipeline" and team["agents"] == ["a", "b"]
    assert {"pipeline", "math", "calculator"} <= set(team["capabilities"])


async def test_a_definition_that_cannot_be_built_is_listed_as_error() -> None:
    broken = {**STORED, "team": {**STORED["team"], "agents": ["a", "gone"], "capabilities": ["x"]}}
    info = await stored_agent_info(broken["team"], broken)
    assert info == {
        "name": "team",
        "type": "pipeline",
        "model": None,
        "tools": [],
        "state": "error",
        "capabilities": ["x"],
        "error": "No agent named 'gone'",
        "agents": ["a", "gone"],
    }
