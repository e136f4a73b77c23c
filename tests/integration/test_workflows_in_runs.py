"""Scripts run by a real daemon see the workflows stored through ``POST /v1/workflows``.

``Workflow.get(name)`` and ``workflow="name"`` steps build a stored workflow the run has no
workflow of, ``Workflow.list()`` shows stored workflows after the run's own, a script's own
workflow of the same name wins, and an unknown name is nil (``NOT_FOUND`` for a step).
Agents named by a stored workflow's steps are the run's own, else the stored ones. The LLM
is the local fake server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fakes.daemon import Daemon, client_without_agents, daemon_on_backend
from fakes.llm_server import FakeLLMServer


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def daemon(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    yield from daemon_on_backend(request, tmp_path_factory, "workflows-runs")


@pytest.fixture
def http(daemon: Daemon) -> Iterator[httpx.Client]:
    """A client of the daemon with no stored agents and no stored workflows."""
    for client in client_without_agents(daemon):
        for item in client.get("/v1/workflows", params={"limit": 1000}).json()["items"]:
            client.delete(f"/v1/workflows/{item['name']}")
        yield client


def store_workflow(http: httpx.Client, name: str, definition: dict[str, Any], **extra: Any) -> None:
    created = http.post("/v1/workflows", json={"name": name, "definition": definition, **extra})
    assert created.status_code == 201, created.text


def run(http: httpx.Client, code: str) -> Any:
    response = http.post("/v1/runs/wait", json={"script": {"code": code, "engine": "lua"}})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "succeeded", body
    return body["result"]


CALC: dict[str, Any] = {
    "type": "sequential",
    "steps": [
        {"name": "add", "tool": "calculator", "input": {"input": "{{input}}"}},
        {"name": "double", "tool": "calculator", "input": {"input": "{{steps.add.output.result.value}} * 2"}},
    ],
}

GET_LIST_AND_STEPS = """
local before = {}
for _, info in ipairs(Workflow.list()) do
  before[#before + 1] = info.name .. "/" .. info.type .. "/" .. info.description
end
local direct = Workflow.get("calc"):execute("1 + 2")
local mine = Workflow.sequential{name = "mine", steps = {
  {name = "nested", workflow = "outer", input = "2 + 3"},
}}
local r = mine:execute()
local lost = Workflow.sequential{name = "lost", steps = {{name = "gone", workflow = "nobody"}}}:execute()
local after = {}
for _, info in ipairs(Workflow.list()) do after[#after + 1] = info.name end
return {
  before = before, after = after, direct = direct.output.result.value,
  nested = r.output.result.value, success = r.success,
  missing = Workflow.get("nobody") == nil, lost = lost.success,
  code = lost.errors[1].code, message = lost.errors[1].message,
}
"""


def test_a_run_gets_lists_and_nests_stored_workflows(http: httpx.Client) -> None:
    store_workflow(http, "calc", CALC, description="doubles a sum")
    outer = {"type": "sequential", "steps": [{"name": "inner", "workflow": "calc", "input": "{{input}}"}]}
    store_workflow(http, "outer", outer)
    result = run(http, GET_LIST_AND_STEPS)
    assert result["before"] == ["calc/sequential/doubles a sum", "outer/sequential/"]
    assert result["direct"] == 6
    # A script workflow's step names a stored workflow, whose own step names another one.
    assert result["success"] is True and result["nested"] == 10
    # Fetched ones are the run's now: listed in the order the run met them, stored ones once.
    assert result["after"] == ["calc", "mine", "outer", "lost"]
    assert result["missing"] is True and result["lost"] is False and result["code"] == "NOT_FOUND"
    assert "no workflow named 'nobody'" in result["message"]
    # Deleted over REST, a stored workflow is gone for the next run.
    assert http.delete("/v1/workflows/calc").status_code == 204
    assert run(http, 'return Workflow.get("calc") == nil') is True


def test_the_runs_own_workflow_and_agents_win(http: httpx.Client, fake_llm: FakeLLMServer) -> None:
    store_workflow(http, "calc", CALC)
    agent = {"model": "openai/fake", "base_url": fake_llm.base_url, "api_key": "sk-stored"}
    for name in ("helper", "support"):
        created = http.post("/v1/agents", json={"name": name, "system_prompt": "stored", **agent})
        assert created.status_code == 201, created.text
    ask = {
        "type": "sequential",
        "steps": [
            {"name": "own", "agent": "support", "input": "one"},
            {"name": "stored", "agent": "helper", "input": "{{steps.own.output.text}}"},
        ],
    }
    store_workflow(http, "ask", ask)
    code = f"""
    Workflow.sequential{{name = "calc", steps = {{{{name = "own", fn = function() return "mine" end}}}}}}
    Agent.create{{name = "support", model = "openai/fake", base_url = "{fake_llm.base_url}",
                  api_key = "sk-mine", system_prompt = "mine"}}
    local r = Workflow.get("ask"):execute()
    local names = {{}}
    for _, info in ipairs(Workflow.list()) do names[#names + 1] = info.name end
    return {{calc = Workflow.get("calc"):execute("1 + 1").output, success = r.success,
             text = r.output.text, names = names}}
    """
    result = run(http, code)
    assert result == {"calc": "mine", "success": True, "text": "Echo: Echo: one", "names": ["calc", "ask"]}
    first, second = fake_llm.requests[-2:]
    assert first["messages"][0]["content"] == "mine" and first.authorization == "Bearer sk-mine"
    assert second["messages"][0]["content"] == "stored" and second.authorization == "Bearer sk-stored"
