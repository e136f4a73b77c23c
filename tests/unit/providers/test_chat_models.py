"""Both wire paths (direct httpx and litellm) against the fake OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from fakes.llm_server import FakeLLMServer
from llmspell.core.config import ProviderConfig, Settings
from llmspell.core.errors import ProviderError, Timeout
from llmspell.providers import (
    ChatMessage,
    ChatModel,
    ChatRequest,
    ContentPart,
    ToolSpec,
    get_chat_model,
    parse_model_spec,
)

CALCULATOR = ToolSpec(
    name="calculator",
    description="Evaluate an arithmetic expression",
    parameters={"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]},
)


@pytest.fixture(params=["fake", "fakelite"], ids=["httpx", "litellm"])
def model(request: pytest.FixtureRequest, settings: Settings) -> ChatModel:
    return get_chat_model(parse_model_spec(f"{request.param}/gpt-4o-mini", settings))


def ask(text: str, **kwargs: object) -> ChatRequest:
    return ChatRequest(messages=(ChatMessage(role="user", content=text),), **kwargs)  # type: ignore[arg-type]


async def test_text_answer_with_usage(model: ChatModel, fake_llm: FakeLLMServer) -> None:
    response = await model.complete(ask("hello there", temperature=0.2, max_tokens=50))
    assert response.text == "Echo: hello there"
    assert response.finish_reason == "stop"
    assert response.usage is not None and response.usage.prompt_tokens == 3
    body = fake_llm.requests[-1]
    assert body["model"] == "gpt-4o-mini"
    assert body["temperature"] == 0.2
    assert body["max_tokens"] == 50
    assert body["messages"] == [{"role": "user", "content": "hello there"}]


async def test_authorization_header(model: ChatModel, fake_llm: FakeLLMServer) -> None:
    await model.complete(ask("hi"))
    expected = "Bearer sk-direct" if model.spec.provider == "fake" else "Bearer sk-lite"
    assert fake_llm.requests[-1].authorization == expected


async def test_tool_call_answer(model: ChatModel, fake_llm: FakeLLMServer) -> None:
    response = await model.complete(ask("calc: 6*7", tools=(CALCULATOR,)))
    assert response.finish_reason == "tool_calls"
    assert [(c.name, c.parsed_arguments()) for c in response.tool_calls] == [("calculator", {"input": "6*7"})]
    assert fake_llm.requests[-1]["tools"][0]["function"]["name"] == "calculator"


async def test_parallel_tool_calls(model: ChatModel, fake_llm: FakeLLMServer) -> None:
    fake_llm.push_tool_calls(
        [
            {"name": "calculator", "arguments": {"input": "1+1"}},
            {"name": "calculator", "arguments": {"input": "2+2"}},
        ]
    )
    response = await model.complete(ask("two sums", tools=(CALCULATOR,)))
    assert [c.parsed_arguments()["input"] for c in response.tool_calls] == ["1+1", "2+2"]
    assert len({c.id for c in response.tool_calls}) == 2


async def test_stream_text(model: ChatModel, fake_llm: FakeLLMServer) -> None:
    chunks = [chunk async for chunk in model.stream(ask("one two three"))]
    deltas = [chunk.text for chunk in chunks if chunk.kind == "text"]
    assert len(deltas) >= 3
    assert "".join(deltas) == "Echo: one two three"
    done = chunks[-1]
    assert done.kind == "done" and done.response is not None
    assert done.response.text == "Echo: one two three"
    assert done.response.usage is not None and done.response.usage.completion_tokens > 0
    assert fake_llm.requests[-1]["stream"] is True


async def test_stream_assembles_tool_call_fragments(model: ChatModel, fake_llm: FakeLLMServer) -> None:
    long_args = {"input": "1+2+3+4+5+6+7+8+9", "note": "fragmented across several deltas"}
    fake_llm.push_tool_calls(
        [{"name": "calculator", "arguments": long_args}, {"name": "calculator", "arguments": {}}]
    )
    chunks = [chunk async for chunk in model.stream(ask("x", tools=(CALCULATOR,)))]
    response = chunks[-1].response
    assert response is not None
    assert [c.parsed_arguments() for c in response.tool_calls] == [long_args, {}]
    assert response.finish_reason == "tool_calls"


async def test_image_parts_and_response_format(model: ChatModel, fake_llm: FakeLLMServer) -> None:
    content = (
        ContentPart(kind="text", text="what is this?"),
        ContentPart(kind="image", url="data:image/png;base64,AAAA"),
    )
    request = ChatRequest(
        messages=(ChatMessage(role="user", content=content),), response_format={"type": "json_object"}
    )
    response = await model.complete(request)
    assert response.text == "Echo: what is this?"
    body = fake_llm.requests[-1]
    assert body["messages"][0]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64,AAAA"},
    }
    assert body["response_format"] == {"type": "json_object"}


async def test_retry_after_is_honoured(model: ChatModel, fake_llm: FakeLLMServer) -> None:
    fake_llm.fail_next(429, 2, retry_after=0.3)
    started = time.monotonic()
    response = await model.complete(ask("again"))
    elapsed = time.monotonic() - started
    assert response.text == "Echo: again"
    assert len(fake_llm.requests) == 3
    assert elapsed >= 0.6


async def test_server_errors_are_retried(model: ChatModel, fake_llm: FakeLLMServer) -> None:
    fake_llm.fail_next(500, 1)
    assert (await model.complete(ask("x"))).text == "Echo: x"
    assert len(fake_llm.requests) == 2


async def test_retries_run_out(model: ChatModel, fake_llm: FakeLLMServer) -> None:
    fake_llm.fail_next(503, 5, retry_after=0)
    with pytest.raises(ProviderError) as caught:
        await model.complete(ask("x"))
    assert caught.value.details["status"] == 503
    assert caught.value.details["provider"] == model.spec.provider
    assert len(fake_llm.requests) == 3  # max_retries=2


async def test_client_errors_are_not_retried(model: ChatModel, fake_llm: FakeLLMServer) -> None:
    fake_llm.fail_next(401, 1)
    with pytest.raises(ProviderError, match="401") as caught:
        await model.complete(ask("x"))
    assert caught.value.details["status"] == 401
    assert len(fake_llm.requests) == 1


async def test_retry_wait_beyond_deadline_gives_up(model: ChatModel, fake_llm: FakeLLMServer) -> None:
    fake_llm.fail_next(429, 1, retry_after=5)
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        await model.complete(ask("x", deadline=time.monotonic() + 1.0))
    assert caught.value.details["gave_up"] == "deadline"
    assert time.monotonic() - started < 1.0


async def test_deadline_while_waiting_is_a_timeout(model: ChatModel, fake_llm: FakeLLMServer) -> None:
    fake_llm.set_latency(3000)
    started = time.monotonic()
    with pytest.raises(Timeout):
        await model.complete(ask("slow", deadline=time.monotonic() + 0.3))
    assert time.monotonic() - started < 2.0


async def test_per_attempt_timeout_is_retried_then_reported(fake_llm: FakeLLMServer) -> None:
    settings = Settings(
        providers={"slow": ProviderConfig(base_url=fake_llm.base_url, timeout_s=0.2, max_retries=1)}
    )
    model = get_chat_model(parse_model_spec("slow/m", settings))
    fake_llm.set_latency(1000)
    with pytest.raises(ProviderError, match=r"did not answer within 0\.2s"):
        await model.complete(ask("x"))
    assert len(fake_llm.requests) == 2


async def test_unreachable_server() -> None:
    settings = Settings(providers={"down": ProviderConfig(base_url="http://127.0.0.1:9/v1", max_retries=0)})
    model = get_chat_model(parse_model_spec("down/m", settings))
    with pytest.raises(ProviderError, match="cannot reach down") as caught:
        await model.complete(ask("x"))
    assert caught.value.details["status"] is None


async def test_direct_path_pools_one_session_per_base_url(settings: Settings) -> None:
    from llmspell.providers import openai_compat

    first = await openai_compat._session_for("http://127.0.0.1:1/v1")
    again = await openai_compat._session_for("http://127.0.0.1:1/v1")
    other = await openai_compat._session_for("http://127.0.0.1:2/v1")
    assert first is again and first is not other
    await openai_compat.close_clients()
    assert first.closed and other.closed


def test_stream_events_are_sse(fake_llm: FakeLLMServer) -> None:
    import httpx

    body = {
        "model": "m",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "hi"}],
    }
    with httpx.Client() as client:
        response = client.post(f"{fake_llm.base_url}/chat/completions", json=body)
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    assert json.loads(events[-2])["usage"]["total_tokens"] > 0
    assert response.headers["content-type"] == "text/event-stream"


async def test_many_concurrent_calls_cost_about_one_latency(
    settings: Settings, fake_llm: FakeLLMServer
) -> None:
    model = get_chat_model(parse_model_spec("fake/gpt-4o-mini", settings))
    fake_llm.set_latency(300)
    started = time.monotonic()
    responses = await asyncio.gather(*(model.complete(ask(f"q{i}")) for i in range(300)))
    elapsed = time.monotonic() - started
    assert sorted(r.text for r in responses) == sorted(f"Echo: q{i}" for i in range(300))
    assert elapsed < 2.5


def test_standalone_server_prints_its_url() -> None:
    import subprocess
    import sys
    from pathlib import Path

    import httpx

    script = Path(__file__).resolve().parents[2] / "fakes" / "llm_server.py"
    command = [sys.executable, str(script), "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("fake LLM server listening on http://127.0.0.1:")
            base_url = line.rsplit(" ", 1)[-1].strip()
            models = httpx.get(f"{base_url}/models").json()
            assert "gpt-4o-mini" in [entry["id"] for entry in models["data"]]
        finally:
            process.terminate()
