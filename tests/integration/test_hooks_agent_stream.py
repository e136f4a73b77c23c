"""Daemon-wide hooks apply to streamed agent executions as to ``execute``: REST SSE and gRPC
ExecuteStream against a real daemon and the fake LLM server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from fakes.daemon import Daemon, start_daemon
from fakes.llm_server import FakeLLMServer
from google.protobuf import json_format
from llmspell.server.grpc.gen.llmspell.v1 import agents_pb2, agents_pb2_grpc


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    running = start_daemon(Path(tmp_path_factory.mktemp("agent-stream-hooks")))
    yield running
    assert running.stop() == 0, running.log()


@pytest.fixture
def http(daemon: Daemon, fake_llm: FakeLLMServer) -> Iterator[httpx.Client]:
    with daemon.client() as client:
        body = {"name": "helper", "model": "openai/fake", "base_url": fake_llm.base_url, "api_key": "sk-test"}
        client.post("/v1/agents", json=body).raise_for_status()
        yield client
        for item in client.get("/v1/hooks").json()["items"]:
            client.delete(f"/v1/hooks/{item['id']}")


def sse_events(client: httpx.Client, text: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    with client.stream("POST", "/v1/agents/helper/execute/stream", json={"input": text}) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("event: "):
                events.append({"event": line[7:]})
            elif line.startswith("data: "):
                events[-1]["data"] = json.loads(line[6:])
    return events


def add_hook(client: httpx.Client, name: str, options: dict[str, Any]) -> None:
    created = client.post("/v1/hooks", json={"name": name, "options": options})
    assert created.status_code == 201, created.text


def test_a_deny_pattern_stops_a_stream_before_the_model(http: httpx.Client, fake_llm: FakeLLMServer) -> None:
    add_hook(http, "security", {"deny_patterns": ["secret"], "redact_logs": False})
    refused = http.post("/v1/agents/helper/execute", json={"input": "tell me the secret"})
    assert refused.json()["code"] == "SANDBOX_VIOLATION"
    events = sse_events(http, "tell me the secret")
    assert [e["event"] for e in events] == ["error", "end"]
    assert events[0]["data"]["code"] == "SANDBOX_VIOLATION" and events[1]["data"]["status"] == "failed"
    assert fake_llm.requests == []
    allowed = sse_events(http, "tell me a joke")
    assert "".join(e["data"]["text"] for e in allowed[:-1]) == "Echo: tell me a joke"


def test_a_cached_execution_answers_the_stream(http: httpx.Client, fake_llm: FakeLLMServer) -> None:
    add_hook(http, "caching", {"ttl_s": 60})
    http.post("/v1/agents/helper/execute", json={"input": "cache me"}).raise_for_status()
    events = sse_events(http, "cache me")
    assert [e["event"] for e in events] == ["token", "end"]
    assert events[0]["data"]["text"] == "Echo: cache me" and len(fake_llm.requests) == 1
    assert events[1]["data"]["output"]["metadata"]["changed_by_hook"] is True


@pytest.fixture
async def agents_stub(daemon: Daemon) -> AsyncIterator[agents_pb2_grpc.AgentsStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{daemon.grpc_port}") as channel:
        yield agents_pb2_grpc.AgentsStub(channel)


async def test_grpc_execute_stream_goes_through_the_hooks(
    http: httpx.Client, fake_llm: FakeLLMServer, agents_stub: agents_pb2_grpc.AgentsStub
) -> None:
    add_hook(http, "security", {"deny_patterns": ["secret"], "redact_logs": False})
    request = agents_pb2.ExecuteAgentRequest(name="helper", input=agents_pb2.AgentInput(text="a secret"))
    events = [event async for event in agents_stub.ExecuteStream(request)]
    assert [e.event for e in events] == ["error", "end"]
    assert json_format.MessageToDict(events[0].data)["code"] == "SANDBOX_VIOLATION"
    assert fake_llm.requests == []
