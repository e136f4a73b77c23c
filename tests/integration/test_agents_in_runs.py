"""Scripts run by a real daemon see the agents stored through ``POST /v1/agents``.

``Agent.get(name)`` builds a stored agent the run has no agent of, ``Agent.list()`` and
``Agent.discover()`` show stored agents after the run's own, a script's own agent of the
same name wins, and an unknown name is still nil. Workflow steps naming an agent find it
the same way, and ``llmspell session replay`` finds the stored agents a recorded run
fetched. The LLM is the local fake server.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fakes.daemon import LLMSPELL, Daemon, client_without_agents, daemon_on_backend
from fakes.llm_server import FakeLLMServer
from llmspell.storage import Store, open_store


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def daemon(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    yield from daemon_on_backend(request, tmp_path_factory, "agents-runs")


@pytest.fixture
def http(daemon: Daemon) -> Iterator[httpx.Client]:
    yield from client_without_agents(daemon)


def store_agent(http: httpx.Client, fake_llm: FakeLLMServer, name: str, **extra: Any) -> None:
    body = {"name": name, "model": "openai/fake", "base_url": fake_llm.base_url, "api_key": "sk-stored"}
    created = http.post("/v1/agents", json={**body, **extra})
    assert created.status_code == 201, created.text


def run(http: httpx.Client, code: str) -> dict[str, Any]:
    response = http.post("/v1/runs/wait", json={"script": {"code": code, "engine": "lua"}})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "succeeded", body
    return body


def wait_for(predicate: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


GET_AND_LIST = """
local before = {}
for _, info in ipairs(Agent.list()) do
  before[#before + 1] = info.name .. "/" .. info.type .. "/" .. info.state
end
local found = {}
for _, info in ipairs(Agent.discover("help")) do found[#found + 1] = info.name end
local a = Agent.get("support")
local out = a:execute({text = "hi"})
local after = {}
for _, info in ipairs(Agent.list()) do after[#after + 1] = info.name end
return {
  text = out.text, model = out.model, tokens = out.usage.total_tokens,
  before = before, found = found, after = after,
  remembered = #Agent.get("support"):history(),
}
"""


def test_a_run_gets_and_lists_a_stored_agent(http: httpx.Client, fake_llm: FakeLLMServer) -> None:
    store_agent(http, fake_llm, "support", system_prompt="Be kind.", capabilities=["help"])
    store_agent(http, fake_llm, "other")
    result = run(http, GET_AND_LIST)["result"]
    assert result["text"] == "Echo: hi"  # the fake LLM's answer
    assert result["tokens"] > 0
    request = fake_llm.requests[-1]
    assert [m["content"] for m in request["messages"]] == ["Be kind.", "hi"]
    assert request.authorization == "Bearer sk-stored"
    assert result["before"] == ["other/llm/uninitialized", "support/llm/uninitialized"]
    assert result["found"] == ["support"]
    # Fetched once, the agent is the run's: listed first, and the same object (its memory) again.
    assert result["after"] == ["support", "other"]
    assert result["remembered"] >= 2


def test_a_background_run_and_a_scheduled_run_see_stored_agents(
    http: httpx.Client, fake_llm: FakeLLMServer
) -> None:
    store_agent(http, fake_llm, "support")
    code = 'return Agent.get("support"):execute("from the background").text'
    created = http.post("/v1/runs", json={"script": {"code": code}})
    assert created.status_code == 202, created.text
    run_id = created.json()["id"]
    done = wait_for(
        lambda: (r := http.get(f"/v1/runs/{run_id}").json())["status"] not in ("queued", "running") and r
    )
    assert done["status"] == "succeeded", done
    assert done["result"] == "Echo: from the background"

    name = f"ask-{time.monotonic_ns()}"
    http.post(
        "/v1/scripts", json={"name": name, "code": code.replace("background", "schedule")}
    ).raise_for_status()
    schedule = http.post(
        "/v1/schedules", json={"name": name, "script": name, "interval_s": 3600, "enabled": False}
    )
    assert schedule.status_code == 201, schedule.text
    schedule_id = schedule.json()["id"]
    try:
        triggered = http.post(f"/v1/schedules/{schedule_id}/trigger")
        assert triggered.status_code == 202, triggered.text
        fired = triggered.json()["id"]
        done = wait_for(
            lambda: (r := http.get(f"/v1/runs/{fired}").json())["status"] not in ("queued", "running") and r
        )
        assert done["status"] == "succeeded", done
        assert done["result"] == "Echo: from the schedule"
    finally:
        http.delete(f"/v1/schedules/{schedule_id}")


def test_stored_composites_and_tools_are_built_for_the_run(
    http: httpx.Client, fake_llm: FakeLLMServer
) -> None:
    store_agent(http, fake_llm, "first")
    store_agent(http, fake_llm, "second")
    store_agent(http, fake_llm, "math", tools=["calculator"])
    http.post(
        "/v1/agents", json={"name": "team", "type": "pipeline", "agents": ["first", "second"]}
    ).raise_for_status()
    code = """
    local team = Agent.get("team")
    local math = Agent.get("math"):execute("calc: 6*7")
    local mixed = Agent.pipeline{name = "mixed", agents = {"first", "second"}}
    return {
      team = team:execute("hi").text, type = team:info().type,
      math = math.text, tool = math.tool_calls[1].name, value = math.tool_calls[1].result.value,
      mixed = mixed:execute("yo").text,
    }
    """
    result = run(http, code)["result"]
    assert result["team"] == "Echo: Echo: hi" and result["type"] == "pipeline"
    assert result["tool"] == "calculator" and result["value"] == 42 and "42" in result["math"]
    # Names of stored agents work as members of the script's own composites too.
    assert result["mixed"] == "Echo: Echo: yo"


def test_the_scripts_own_agent_of_the_same_name_wins(http: httpx.Client, fake_llm: FakeLLMServer) -> None:
    store_agent(http, fake_llm, "support", system_prompt="stored")
    code = f"""
    Agent.create{{name = "support", model = "openai/fake", base_url = "{fake_llm.base_url}",
                  api_key = "sk-mine", system_prompt = "mine"}}
    local out = Agent.get("support"):execute("hello")
    local names = {{}}
    for _, info in ipairs(Agent.list()) do names[#names + 1] = info.name end
    return {{text = out.text, names = names}}
    """
    result = run(http, code)["result"]
    assert result == {"text": "Echo: hello", "names": ["support"]}
    request = fake_llm.requests[-1]
    assert request["messages"][0]["content"] == "mine" and request.authorization == "Bearer sk-mine"


def test_unknown_names_stay_unknown(http: httpx.Client, fake_llm: FakeLLMServer) -> None:
    store_agent(http, fake_llm, "support")
    code = """
    local ok, err = pcall(Agent.pipeline, {name = "p", agents = {"support", "nobody"}})
    return {missing = Agent.get("nobody") == nil, ok = ok, code = err.code, message = err.message}
    """
    result = run(http, code)["result"]
    assert result == {"missing": True, "ok": False, "code": "NOT_FOUND", "message": "No agent named 'nobody'"}
    # Deleted over REST, a stored agent is gone for the next run.
    assert http.delete("/v1/agents/support").status_code == 204
    assert run(http, 'return Agent.get("support") == nil')["result"] is True


async def test_a_host_store_on_the_runs_own_loop(store: Store, fake_llm: FakeLLMServer) -> None:
    """A host may hand its store without ``store_loop`` (same loop); ``llmspell run`` hands none."""
    from llmspell.agents import normalize_definition
    from llmspell.core.context import ExecutionContext
    from llmspell.runtime.runner import execute_script

    body = {"name": "support", "model": "openai/fake", "base_url": fake_llm.base_url, "api_key": "sk-s"}
    await store.agent_definitions.put("support", normalize_definition(body))
    code = """
    local names = {}
    for _, info in ipairs(Agent.list()) do names[#names + 1] = info.name end
    local a = Agent.get("support")
    return {names = names, text = a and a:execute("near").text or JSON.null}
    """
    hosted = await execute_script(code, ctx=ExecutionContext(services={"store": store}))
    assert hosted.error is None, hosted.error
    assert hosted.result == {"names": ["support"], "text": "Echo: near"}
    alone = await execute_script(code, ctx=ExecutionContext())
    assert alone.error is None, alone.error
    assert alone.result == {"names": {}, "text": None}


WORKFLOW_STEPS = """
local wf = Workflow.sequential{name = "w", steps = {
  {name = "ask", agent = "support", input = "hi"},
  {name = "again", agent = "support", input = "more"},
  {name = "team", agent = "team", input = "{{steps.ask.output.text}}"},
}}
local r = wf:execute("x")
local lost = Workflow.sequential{name = "lost", steps = {{name = "ask", agent = "nobody"}}}:execute("x")
local names = {}
for _, info in ipairs(Agent.list()) do names[#names + 1] = info.name end
return {
  success = r.success, ask = r.outputs.ask.text, team = r.output.text,
  same = Agent.get("support"):history()[3].content, names = names,
  lost = lost.success, code = lost.errors[1].code, message = lost.errors[1].message,
}
"""


def test_workflow_steps_name_stored_agents(http: httpx.Client, fake_llm: FakeLLMServer) -> None:
    store_agent(http, fake_llm, "support")
    store_agent(http, fake_llm, "first")
    store_agent(http, fake_llm, "second")
    http.post(
        "/v1/agents", json={"name": "team", "type": "pipeline", "agents": ["first", "second"]}
    ).raise_for_status()
    result = run(http, WORKFLOW_STEPS)["result"]
    assert result["success"] is True and result["ask"] == "Echo: hi"
    assert result["team"] == "Echo: Echo: Echo: hi"
    # Both steps asked one agent, fetched into the run: the second turn is in its memory.
    assert result["same"] == "more"
    assert result["names"] == ["support", "team", "first", "second"]
    assert result["lost"] is False and result["code"] == "NOT_FOUND"
    assert "No agent named 'nobody'" in result["message"]


def test_a_workflow_step_takes_the_runs_own_agent_first(http: httpx.Client, fake_llm: FakeLLMServer) -> None:
    store_agent(http, fake_llm, "support", system_prompt="stored")
    code = f"""
    Agent.create{{name = "support", model = "openai/fake", base_url = "{fake_llm.base_url}",
                  api_key = "sk-mine", system_prompt = "mine"}}
    return Workflow.sequential{{steps = {{{{agent = "support", input = "hello"}}}}}}:execute("x").output.text
    """
    assert run(http, code)["result"] == "Echo: hello"
    request = fake_llm.requests[-1]
    assert request["messages"][0]["content"] == "mine" and request.authorization == "Bearer sk-mine"


async def test_workflow_steps_read_the_store_only_for_names_the_run_lacks(
    store_url: str, fake_llm: FakeLLMServer
) -> None:
    """A closed store fails every read: the run's own agent needs none, another name does."""
    from llmspell.core.context import ExecutionContext
    from llmspell.runtime.runner import execute_script

    closed = open_store(store_url)
    await closed.open()
    await closed.aclose()
    code = f"""
    Agent.create{{name = "mine", model = "openai/fake", base_url = "{fake_llm.base_url}", api_key = "sk"}}
    local r = Workflow.sequential{{steps = {{
      {{name = "own", agent = "mine", input = "hi"}},
      {{name = "other", agent = "support", input = "x"}},
    }}}}:execute("x")
    return {{own = r.outputs.own.text, step = r.errors[1].step, code = r.errors[1].code}}
    """
    outcome = await execute_script(code, ctx=ExecutionContext(services={"store": closed}))
    assert outcome.error is None, outcome.error
    assert outcome.result == {"own": "Echo: hi", "step": "other", "code": "STORAGE_ERROR"}


def test_session_replay_finds_the_stored_agents_a_run_fetched(
    daemon: Daemon, http: httpx.Client, fake_llm: FakeLLMServer
) -> None:
    store_agent(http, fake_llm, "support")
    session = http.post("/v1/sessions", json={"name": f"stored-{time.monotonic_ns()}"})
    assert session.status_code in (200, 201), session.text
    session_id = session.json()["id"]
    code = """
    local direct = Agent.get("support"):execute("hi").text
    local step = Workflow.sequential{steps = {{agent = "support", input = "again"}}}:execute("x")
    return {direct = direct, step = step.output.text}
    """
    response = http.post(
        "/v1/runs/wait", json={"script": {"code": code, "engine": "lua"}, "session_id": session_id}
    )
    assert response.status_code == 200, response.text
    assert response.json()["result"] == {"direct": "Echo: hi", "step": "Echo: again"}, response.json()
    asked = len(fake_llm.requests)
    replay = subprocess.run(
        [LLMSPELL, "session", "replay", session_id, "--output", "json"],
        env=daemon.cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert replay.returncode == 0, replay.stdout + replay.stderr
    report = json.loads(replay.stdout)
    assert report["identical"] is True and report["runs"][0]["calls"] == 2, report
    assert len(fake_llm.requests) == asked  # answered from the recording
