"""Stored agents over REST and gRPC against a real daemon and the fake LLM server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import httpx
import pytest
from fakes.daemon import Daemon, client_without_agents, daemon_on_backend, next_event, tail_events
from fakes.llm_server import FakeLLMServer
from google.protobuf import json_format
from llmspell.server.grpc.gen.llmspell.v1 import agents_pb2, agents_pb2_grpc


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def daemon(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    yield from daemon_on_backend(request, tmp_path_factory, "agents")


@pytest.fixture
def http(daemon: Daemon) -> Iterator[httpx.Client]:
    yield from client_without_agents(daemon)


def agent_body(fake_llm: FakeLLMServer, name: str = "helper", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "model": "openai/fake",
        "base_url": fake_llm.base_url,
        "api_key": "sk-test",
        **extra,
    }


def sse_events(response: httpx.Response) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if not line:
            if current:
                events.append(current)
                current = {}
            continue
        field, _, value = line.partition(": ")
        current[field] = json.loads(value) if field == "data" else value
    return events


def test_create_get_list_delete_never_echo_the_key(http: httpx.Client, fake_llm: FakeLLMServer) -> None:
    created = http.post(
        "/v1/agents", json=agent_body(fake_llm, system_prompt="Be brief.", tools=["calculator"])
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "helper" and body["model"] == "openai/fake" and body["tools"] == ["calculator"]
    assert body["has_api_key"] is True and body["version"] == 1
    assert "sk-test" not in created.text
    got = http.get("/v1/agents/helper")
    assert got.status_code == 200 and "sk-test" not in got.text
    assert got.json()["system_prompt"] == "Be brief."
    listed = http.get("/v1/agents").json()
    assert [item["name"] for item in listed["items"]] == ["helper"] and "sk-test" not in json.dumps(listed)
    again = http.post("/v1/agents", json=agent_body(fake_llm, system_prompt="Be long."))
    assert again.json()["version"] == 2
    assert http.delete("/v1/agents/helper").status_code == 204
    missing = http.get("/v1/agents/helper")
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
    assert http.delete("/v1/agents/helper").status_code == 404


def test_model_as_provider_configuration_object(http: httpx.Client, fake_llm: FakeLLMServer) -> None:
    model = {"provider": "openai", "name": "fake", "base_url": fake_llm.base_url, "api_key": "sk-obj"}
    created = http.post("/v1/agents", json={"name": "obj", "model": model})
    assert created.status_code == 201, created.text
    assert created.json()["model"] == "openai/fake" and "sk-obj" not in created.text
    output = http.post("/v1/agents/obj/execute", json={"input": "hello"}).json()
    assert output["text"] == "Echo: hello"
    assert fake_llm.requests[-1].authorization == "Bearer sk-obj"


def test_execute_runs_the_tool_loop(http: httpx.Client, fake_llm: FakeLLMServer) -> None:
    http.post("/v1/agents", json=agent_body(fake_llm, tools=["calculator"])).raise_for_status()
    response = http.post("/v1/agents/helper/execute", json={"input": "calc: 6*7"})
    assert response.status_code == 200, response.text
    output = response.json()
    assert set(output) == {"text", "tool_calls", "usage", "cost", "model", "finish_reason", "metadata"}
    assert output["text"].startswith("The answer is") and "42" in output["text"]
    assert output["tool_calls"][0]["name"] == "calculator"
    assert output["tool_calls"][0]["result"]["value"] == 42
    assert output["usage"]["total_tokens"] > 0 and output["finish_reason"] == "stop"


def test_session_keeps_conversation_memory(http: httpx.Client, fake_llm: FakeLLMServer) -> None:
    http.post("/v1/agents", json=agent_body(fake_llm, system_prompt="S")).raise_for_status()
    http.post("/v1/agents/helper/execute", json={"input": "first", "session_id": "s-mem"}).raise_for_status()
    http.post("/v1/agents/helper/execute", json={"input": "second", "session_id": "s-mem"}).raise_for_status()
    contents = [m["content"] for m in fake_llm.requests[-1]["messages"]]
    assert contents == ["S", "first", "Echo: first", "second"]
    http.post("/v1/agents/helper/execute", json={"input": "alone"}).raise_for_status()
    assert [m["content"] for m in fake_llm.requests[-1]["messages"]] == ["S", "alone"]


def test_stream_sends_tokens_then_end(http: httpx.Client, fake_llm: FakeLLMServer) -> None:
    http.post("/v1/agents", json=agent_body(fake_llm)).raise_for_status()
    with http.stream("POST", "/v1/agents/helper/execute/stream", json={"input": "a b c d"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    kinds = [event["event"] for event in events]
    assert kinds[-1] == "end" and set(kinds[:-1]) == {"token"} and len(kinds) >= 3
    assert "".join(e["data"]["text"] for e in events[:-1]) == "Echo: a b c d"
    assert events[-1]["data"]["output"]["text"] == "Echo: a b c d"


def test_executions_publish_agent_events_on_the_bus(
    daemon: Daemon, http: httpx.Client, fake_llm: FakeLLMServer
) -> None:
    http.post("/v1/agents", json=agent_body(fake_llm, tools=["calculator"])).raise_for_status()
    http.post(
        "/v1/agents", json=agent_body(fake_llm, "down", base_url="http://127.0.0.1:1/v1")
    ).raise_for_status()
    tail = tail_events(daemon.url, "*")
    fake_llm.push_tool_calls([{"name": "calculator", "arguments": {"input": "6*7"}}])
    http.post("/v1/agents/helper/execute", json={"input": "calc"}).raise_for_status()
    with http.stream("POST", "/v1/agents/helper/execute/stream", json={"input": "a b"}) as response:
        sse_events(response)
    assert http.post("/v1/agents/down/execute", json={"input": "x"}).status_code >= 400
    seen = [next_event(tail) for _ in range(8)]
    assert [(e["type"], e["data"].get("agent") or e["data"].get("tool")) for e in seen] == [
        ("agent.started", "helper"),
        ("tool.started", "calculator"),  # the agent's tools publish theirs, as in a run
        ("tool.completed", "calculator"),
        ("agent.completed", "helper"),
        ("agent.started", "helper"),  # the stream
        ("agent.completed", "helper"),
        ("agent.started", "down"),
        ("agent.failed", "down"),
    ]
    assert seen[3]["data"]["usage"]["total_tokens"] > 0 and seen[5]["data"]["usage"]["total_tokens"] > 0
    assert seen[7]["data"]["error"]["code"] == "PROVIDER_ERROR"


def _tokens_counted(http: httpx.Client, kind: str) -> float:
    line = f'llmspell_llm_tokens_total{{kind="{kind}",model="openai/fake"}} '
    found = [row for row in http.get("/metrics").text.splitlines() if row.startswith(line)]
    return float(found[0].split()[-1]) if found else 0.0


def test_executions_count_their_tokens_in_metrics(http: httpx.Client, fake_llm: FakeLLMServer) -> None:
    http.post("/v1/agents", json=agent_body(fake_llm)).raise_for_status()
    before = _tokens_counted(http, "prompt"), _tokens_counted(http, "completion")
    usage = http.post("/v1/agents/helper/execute", json={"input": "count me"}).json()["usage"]
    with http.stream("POST", "/v1/agents/helper/execute/stream", json={"input": "and me"}) as response:
        streamed = sse_events(response)[-1]["data"]["output"]["usage"]
    after = _tokens_counted(http, "prompt"), _tokens_counted(http, "completion")
    assert after[0] - before[0] == usage["prompt_tokens"] + streamed["prompt_tokens"] > 0
    assert after[1] - before[1] == usage["completion_tokens"] + streamed["completion_tokens"] > 0


def test_errors_are_problems(http: httpx.Client, fake_llm: FakeLLMServer) -> None:
    bad_tool = http.post("/v1/agents", json=agent_body(fake_llm, tools=["no-such-tool"]))
    assert bad_tool.status_code == 400 and bad_tool.json()["code"] == "VALIDATION"
    assert "no-such-tool" in bad_tool.json()["detail"]
    unknown = http.post("/v1/agents", json=agent_body(fake_llm, colour="blue"))
    assert unknown.status_code == 400 and "colour" in unknown.json()["detail"]
    no_model = http.post("/v1/agents", json={"name": "x"})
    assert no_model.status_code == 400 and "model" in no_model.json()["detail"]
    stream_missing = http.post("/v1/agents/ghost/execute/stream", json={"input": "x"})
    assert stream_missing.status_code == 404
    fake_llm.push_tool_calls([{"name": "calculator", "arguments": {"input": "1+1"}}] * 3)
    http.post(
        "/v1/agents", json=agent_body(fake_llm, tools=["calculator"], max_tool_calls=2)
    ).raise_for_status()
    limited = http.post("/v1/agents/helper/execute", json={"input": "go"})
    assert limited.json()["code"] == "LIMIT_EXCEEDED"


def test_pipeline_of_stored_agents(http: httpx.Client, fake_llm: FakeLLMServer) -> None:
    http.post("/v1/agents", json=agent_body(fake_llm, name="first")).raise_for_status()
    http.post("/v1/agents", json=agent_body(fake_llm, name="second")).raise_for_status()
    created = http.post(
        "/v1/agents", json={"name": "chain", "type": "pipeline", "agents": ["first", "second"]}
    )
    assert created.status_code == 201, created.text
    output = http.post("/v1/agents/chain/execute", json={"input": "hi"}).json()
    assert output["text"] == "Echo: Echo: hi"
    assert output["metadata"]["members"] == ["first", "second"]
    missing_member = http.post("/v1/agents", json={"name": "bad", "type": "pipeline", "agents": ["ghost"]})
    assert missing_member.status_code == 400


@pytest.fixture
async def agents_stub(daemon: Daemon) -> AsyncIterator[agents_pb2_grpc.AgentsStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{daemon.grpc_port}") as channel:
        yield agents_pb2_grpc.AgentsStub(channel)


async def test_grpc_execute_and_stream(
    http: httpx.Client, fake_llm: FakeLLMServer, agents_stub: agents_pb2_grpc.AgentsStub
) -> None:
    http.post("/v1/agents", json=agent_body(fake_llm, tools=["calculator"])).raise_for_status()
    request = agents_pb2.ExecuteAgentRequest(name="helper", input=agents_pb2.AgentInput(text="calc: 2+2"))
    output = await agents_stub.Execute(request)
    assert output.text.startswith("The answer is") and output.tool_calls[0].name == "calculator"
    assert json_format.MessageToDict(output.usage)["total_tokens"] > 0
    events = [event async for event in agents_stub.ExecuteStream(request)]
    assert events[-1].event == "end" and {e.event for e in events[:-1]} == {"token"}
    assert "".join(json_format.MessageToDict(e.data)["text"] for e in events[:-1]) == output.text
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await agents_stub.Execute(agents_pb2.ExecuteAgentRequest(name="ghost", input=request.input))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
