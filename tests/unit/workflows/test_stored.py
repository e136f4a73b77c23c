"""Scripts see the workflows of the store their host hands them (``ctx.services["store"]``).

``Workflow.get``, ``workflow="name"`` steps and ``Workflow.list`` fall back to stored
definitions after the run's own workflows; the store is read only for names the run lacks.
The store here is an in-memory stand-in that records its reads.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from fakes.llm_server import FakeLLMServer
from llmspell.agents import normalize_definition
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import NotFound
from llmspell.runtime.runner import RunOutcome, execute_script
from llmspell.storage.records import DefinitionRecord


class Definitions:
    """A definition repository in memory: records every read, pages of ``page`` records."""

    def __init__(self, kind: str, page: int = 2) -> None:
        self.kind = kind
        self.page = page
        self.records: dict[str, DefinitionRecord] = {}
        self.reads: list[str] = []

    def put(self, name: str, definition: dict[str, Any], description: str = "") -> None:
        now = datetime.now(UTC)
        self.records[name] = DefinitionRecord(
            name=name,
            definition=definition,
            description=description,
            version=1,
            created_at=now,
            updated_at=now,
        )

    async def get(self, name: str) -> DefinitionRecord:
        self.reads.append(name)
        await asyncio.sleep(0)
        if name not in self.records:
            raise NotFound.named(self.kind, name)
        return self.records[name]

    async def list(self, limit: int, cursor: str | None = None) -> tuple[list[DefinitionRecord], str | None]:
        self.reads.append(f"list:{cursor}")
        names = sorted(name for name in self.records if cursor is None or name > cursor)
        page = names[: min(limit, self.page)]
        more = len(names) > len(page)
        return [self.records[name] for name in page], (page[-1] if more else None)


class FakeStore:
    def __init__(self) -> None:
        self.workflow_definitions = Definitions("workflow")
        self.agent_definitions = Definitions("agent")


CALC: dict[str, Any] = {
    "type": "sequential",
    "name": "calc",
    "steps": [
        {"name": "add", "tool": "calculator", "input": {"input": "{{input}}"}},
        {"name": "double", "tool": "calculator", "input": {"input": "{{steps.add.output.result.value}} * 2"}},
    ],
}


@pytest.fixture
def store() -> FakeStore:
    stored = FakeStore()
    stored.workflow_definitions.put("calc", CALC, "doubles a sum")
    return stored


async def run(code: str, store: FakeStore | None) -> RunOutcome:
    services = {} if store is None else {"store": store}
    outcome = await execute_script(code, script_name="t.lua", ctx=ExecutionContext(services=services))
    assert outcome.error is None, outcome.error
    return outcome


async def test_get_builds_the_stored_workflow_once(store: FakeStore) -> None:
    # Stored under another name than its definition's: the run knows it by the stored one.
    store.workflow_definitions.put("twice", {**CALC, "name": "inner-name"})
    code = """
    local wf = Workflow.get("twice")
    local first = wf:execute("1 + 2")
    local again = Workflow.get("twice"):execute("2 + 3")
    return {name = wf:name(), type = wf:type(), first = first.output.result.value,
            again = again.output.result.value, missing = Workflow.get("nobody") == nil}
    """
    outcome = await run(code, store)
    assert outcome.result == {"name": "twice", "type": "sequential", "first": 6, "again": 10, "missing": True}
    assert store.workflow_definitions.reads == ["twice", "nobody"]  # adopted after the first read


async def test_the_runs_own_workflow_wins_without_reading_the_store(store: FakeStore) -> None:
    code = """
    local mine = Workflow.sequential{name = "calc", steps = {{name = "own", fn = function() return "mine" end}}}
    local outer = Workflow.sequential{name = "outer", steps = {{name = "nested", workflow = "calc"}}}
    return {get = Workflow.get("calc"):execute().output, step = outer:execute().output}
    """
    outcome = await run(code, store)
    assert outcome.result == {"get": "mine", "step": "mine"}
    assert store.workflow_definitions.reads == []


async def test_steps_name_stored_workflows_and_unknown_names_fail_the_step(store: FakeStore) -> None:
    # A stored workflow naming another one: resolved when its step runs, not before.
    store.workflow_definitions.put(
        "route",
        {
            "type": "conditional",
            "name": "route",
            "branches": [
                {"when": {"key": "go", "equals": True}, "steps": [{"workflow": "calc", "input": "3 + 4"}]}
            ],
            "default": [{"name": "lost", "workflow": "never-stored"}],
        },
    )
    code = """
    local outer = Workflow.parallel{name = "outer", steps = {
      {name = "a", workflow = "calc", input = "1 + 1"},
      {name = "b", workflow = "calc", input = "2 + 2"},
      {name = "c", workflow = "route", input = {go = true}},
    }}
    local r = outer:execute()
    local lost = Workflow.get("route"):execute({go = false})
    local names = {}
    for _, info in ipairs(Workflow.list()) do names[#names + 1] = info.name end
    return {
      success = r.success, a = r.outputs.a.result.value, b = r.outputs.b.result.value,
      c = r.outputs.c.result.value, lost = lost.success, step = lost.errors[1].step,
      code = lost.errors[1].code, message = lost.errors[1].message, names = names,
    }
    """
    result = (await run(code, store)).result
    assert result["success"] is True and (result["a"], result["b"], result["c"]) == (4, 8, 14)
    assert result["lost"] is False and result["step"] == "lost" and result["code"] == "NOT_FOUND"
    assert "no workflow named 'never-stored'" in result["message"]
    # Parallel steps share one adopted workflow: listed once.
    assert sorted(result["names"]) == ["calc", "outer", "route"]
    assert "never-stored" in store.workflow_definitions.reads


async def test_list_shows_the_runs_own_first_then_stored_ones_once(store: FakeStore) -> None:
    for name in ("b-flow", "a-flow", "c-flow"):
        store.workflow_definitions.put(name, {**CALC, "name": name, "type": "sequential"}, f"about {name}")
    code = """
    Workflow.sequential{name = "mine", steps = {{fn = function() return 1 end}}}
    Workflow.sequential{name = "b-flow", steps = {{fn = function() return 2 end}}}
    Workflow.get("c-flow")
    local infos = {}
    for _, info in ipairs(Workflow.list()) do
      infos[#infos + 1] = info.name .. "/" .. info.type .. "/" .. info.description
    end
    return infos
    """
    outcome = await run(code, store)
    assert outcome.result == [
        "mine/sequential/",
        "b-flow/sequential/",
        "c-flow/sequential/about c-flow",
        "a-flow/sequential/about a-flow",
        "calc/sequential/doubles a sum",
    ]
    # Every page read (two records a page here).
    assert store.workflow_definitions.reads == ["c-flow", "list:None", "list:b-flow"]


async def test_stored_workflow_agents_are_the_runs_then_stored(
    store: FakeStore, fake_llm: FakeLLMServer
) -> None:
    agent = {"name": "helper", "model": "openai/fake", "base_url": fake_llm.base_url, "api_key": "sk-stored"}
    store.agent_definitions.put("helper", normalize_definition({**agent, "system_prompt": "stored"}))
    store.agent_definitions.put(
        "mine", normalize_definition({**agent, "name": "mine", "system_prompt": "no"})
    )
    store.workflow_definitions.put(
        "ask",
        {
            "type": "sequential",
            "name": "ask",
            "steps": [
                {"name": "own", "agent": "mine", "input": "one"},
                {"name": "stored", "agent": "helper", "input": "two"},
            ],
        },
    )
    code = f"""
    Agent.create{{name = "mine", model = "openai/fake", base_url = "{fake_llm.base_url}",
                  api_key = "sk-mine", system_prompt = "mine"}}
    local r = Workflow.get("ask"):execute()
    return {{success = r.success, own = r.outputs.own.text, stored = r.output.text,
             memory = #Agent.get("helper"):history()}}
    """
    outcome = await run(code, store)
    assert outcome.result == {"success": True, "own": "Echo: one", "stored": "Echo: two", "memory": 3}
    prompts = [request["messages"][0]["content"] for request in fake_llm.requests[-2:]]
    assert prompts == ["mine", "stored"]
    assert store.agent_definitions.reads == ["helper"]  # the run's own agent needs no read


async def test_without_a_store_only_the_runs_workflows_exist() -> None:
    code = """
    Workflow.sequential{name = "mine", steps = {{fn = function() return 1 end}}}
    local names = {}
    for _, info in ipairs(Workflow.list()) do names[#names + 1] = info.name end
    local r = Workflow.sequential{steps = {{name = "n", workflow = "calc"}}}:execute()
    return {names = names, missing = Workflow.get("calc") == nil, code = r.errors[1].code}
    """
    outcome = await run(code, None)
    assert outcome.result == {"names": ["mine"], "missing": True, "code": "NOT_FOUND"}
