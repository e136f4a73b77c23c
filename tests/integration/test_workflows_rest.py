"""Stored workflows over REST against a real daemon: tool steps, stored agents, nesting.

Stored agents are looked up when a step needs them, once per request, and shut down at
its end (as a script run's workflow steps and ``/v1/agents/{name}/execute`` do).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes.daemon import Daemon, next_event, start_daemon, tail_events
from fakes.llm_server import FakeLLMServer
from llmspell.storage import Store


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    running = start_daemon(Path(tmp_path_factory.mktemp("workflows")))
    yield running
    assert running.stop() == 0, running.log()


@pytest.fixture
def http(daemon: Daemon) -> Iterator[httpx.Client]:
    with daemon.client() as client:
        yield client


CALC: dict[str, Any] = {
    "type": "sequential",
    "steps": [
        {"name": "add", "tool": "calculator", "input": {"input": "{{input}}"}},
        {"name": "double", "tool": "calculator", "input": {"input": "{{steps.add.output.result.value}} * 2"}},
    ],
}


def test_create_list_get_execute_delete(http: httpx.Client) -> None:
    created = http.post("/v1/workflows", json={"name": "calc", "definition": CALC})
    assert created.status_code == 201, created.text
    assert created.json()["type"] == "sequential" and created.json()["version"] == 1
    assert "calc" in [item["name"] for item in http.get("/v1/workflows").json()["items"]]
    assert http.get("/v1/workflows/calc").json()["definition"]["steps"][0]["tool"] == "calculator"
    result = http.post("/v1/workflows/calc/execute", json={"input": "1 + 2"}).json()
    assert result["success"] is True, result
    assert result["output"]["result"]["value"] == 6
    assert set(result) >= {"success", "output", "outputs", "errors", "duration_ms", "execution_id"}
    assert http.delete("/v1/workflows/calc").status_code == 204
    assert http.post("/v1/workflows/calc/execute", json={}).status_code == 404


def test_executions_publish_workflow_events_on_the_bus(daemon: Daemon, http: httpx.Client) -> None:
    http.post("/v1/workflows", json={"name": "calc-events", "definition": CALC}).raise_for_status()
    tail = tail_events(daemon.url, "workflow.*")
    assert http.post("/v1/workflows/calc-events/execute", json={"input": "1 + 2"}).json()["success"]
    seen = [next_event(tail) for _ in range(6)]
    assert [(e["type"], e["data"].get("step")) for e in seen] == [
        ("workflow.started", None),
        ("workflow.step.started", "add"),
        ("workflow.step.completed", "add"),
        ("workflow.step.started", "double"),
        ("workflow.step.completed", "double"),
        ("workflow.completed", None),
    ]
    assert all(e["source"] == "workflow" and "type" not in e["data"] for e in seen)


def test_bad_definition_names_the_field(http: httpx.Client) -> None:
    bad = {"type": "sequential", "steps": [{"name": "x", "tool": "calculator", "colour": 1}]}
    response = http.post("/v1/workflows", json={"name": "bad", "definition": bad})
    assert response.status_code == 400 and response.json()["code"] == "VALIDATION"
    assert "colour" in response.json()["detail"]
    unknown_type = http.post("/v1/workflows", json={"name": "bad", "definition": {"type": "spiral"}})
    assert unknown_type.status_code == 400 and "type" in unknown_type.json()["detail"]


def test_steps_use_stored_agents_and_stored_workflows(http: httpx.Client, fake_llm: FakeLLMServer) -> None:
    agent = {"name": "echoer", "model": "openai/fake", "base_url": fake_llm.base_url, "api_key": "sk-test"}
    http.post("/v1/agents", json=agent).raise_for_status()
    http.post("/v1/workflows", json={"name": "inner", "definition": CALC}).raise_for_status()
    outer = {
        "type": "sequential",
        "steps": [
            {"name": "calc", "workflow": "inner", "input": "{{input}}"},
            {"name": "talk", "agent": "echoer", "input": "total {{steps.calc.output.result.value}}"},
        ],
    }
    http.post("/v1/workflows", json={"name": "outer", "definition": outer}).raise_for_status()
    result = http.post("/v1/workflows/outer/execute", json={"input": "2 + 3"}).json()
    assert result["success"] is True, result
    assert result["output"]["text"] == "Echo: total 10"


def test_parallel_agent_steps_are_concurrent(http: httpx.Client, fake_llm: FakeLLMServer) -> None:
    agent = {"name": "slow", "model": "openai/fake", "base_url": fake_llm.base_url, "api_key": "sk-test"}
    http.post("/v1/agents", json=agent).raise_for_status()
    steps = [{"name": f"a{i}", "agent": "slow", "input": f"q{i}"} for i in range(4)]
    http.post("/v1/workflows", json={"name": "fan", "definition": {"type": "parallel", "steps": steps}})
    fake_llm.set_latency(200)
    result = http.post("/v1/workflows/fan/execute", json={}).json()
    assert result["success"] is True, result
    assert sorted(result["outputs"]) == ["a0", "a1", "a2", "a3"]
    assert result["duration_ms"] < 600


def test_stored_agents_are_looked_up_when_a_step_needs_them(
    http: httpx.Client, fake_llm: FakeLLMServer
) -> None:
    agent = {"name": "asker", "model": "openai/fake", "base_url": fake_llm.base_url, "api_key": "sk-test"}
    http.post("/v1/agents", json=agent).raise_for_status()
    route = {
        "type": "conditional",
        "branches": [
            {
                "when": {"key": "kind", "equals": "ask"},
                "steps": [
                    {"name": "one", "agent": "asker", "input": "one"},
                    {"name": "two", "agent": "asker", "input": "two"},
                ],
            }
        ],
        "default": [{"name": "lost", "agent": "never-stored", "input": "x"}],
    }
    http.post("/v1/workflows", json={"name": "route", "definition": route}).raise_for_status()
    # The branch not taken names an agent nobody stored: nothing reads it.
    taken = http.post("/v1/workflows/route/execute", json={"input": {"kind": "ask"}})
    assert taken.status_code == 200, taken.text
    assert taken.json()["success"] is True and taken.json()["output"]["text"] == "Echo: two"
    # Both steps asked the one agent the request built: the second turn carries the first.
    assert [m["content"] for m in fake_llm.requests[-1]["messages"]] == ["one", "Echo: one", "two"]
    # A step naming an agent that is not stored fails like any step (not the request).
    lost = http.post("/v1/workflows/route/execute", json={"input": {"kind": "other"}})
    assert lost.status_code == 200, lost.text
    assert lost.json()["success"] is False
    error = lost.json()["errors"][0]
    assert error["step"] == "lost" and error["code"] == "NOT_FOUND"
    assert "No agent named 'never-stored'" in error["message"]


async def test_agents_a_workflow_request_built_are_shut_down(store: Store, fake_llm: FakeLLMServer) -> None:
    from llmspell.core.config import Settings
    from llmspell.hooks import process_hooks
    from llmspell.runtime.definitions import AgentService, WorkflowService

    agents = AgentService(store, Settings())
    workflows = WorkflowService(store, agents)
    await agents.create(
        {"name": "echo", "model": "openai/fake", "base_url": fake_llm.base_url, "api_key": "sk"}
    )
    steps = [{"name": f"a{i}", "agent": "echo", "input": f"q{i}"} for i in range(3)]
    await workflows.create("fan", {"type": "parallel", "steps": steps})
    seen: list[tuple[str, str]] = []
    process_hooks().clear()
    process_hooks().register("AfterAgentShutdown", lambda c: seen.append((c.data["agent"], c.data["reason"])))
    try:
        result = await workflows.execute("fan", "x")
    finally:
        process_hooks().clear()
    assert result["success"] is True, result
    assert seen == [("echo", "request_end")]  # built once for the three steps


def _results(workflow_result: dict[str, Any]) -> dict[str, Any]:
    """What must agree between runs: success and each step's tool result (not timings or ids)."""
    return {
        "success": workflow_result["success"],
        "output": workflow_result["output"]["result"],
        "outputs": {name: step["result"] for name, step in workflow_result["outputs"].items()},
    }


async def test_same_workflow_from_rest_lua_and_python(http: httpx.Client) -> None:
    import json

    from llmspell.core.context import ExecutionContext
    from llmspell.runtime.runner import execute_script
    from llmspell.workflows import LocalHost, workflow_from_definition

    http.post("/v1/workflows", json={"name": "calc3", "definition": CALC})
    over_rest = http.post("/v1/workflows/calc3/execute", json={"input": "20 + 1"}).json()
    from_python = await workflow_from_definition(CALC).execute("20 + 1", ExecutionContext(), host=LocalHost())
    outcome = await execute_script(
        f"return Workflow.create(JSON.parse([[{json.dumps(CALC)}]])):execute('20 + 1')"
    )
    assert outcome.error is None, outcome.error
    assert _results(over_rest) == _results(from_python) == _results(outcome.result)
    assert _results(over_rest)["output"]["value"] == 42
