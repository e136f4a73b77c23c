"""Session replay: record an agent session against the fake LLM, stop the server, replay."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.llm_server import FakeLLMServer
from llmspell.core.config import ProviderConfig, Settings, load_settings
from llmspell.core.errors import NotFound
from llmspell.runtime.replay import record_run, replay_session
from llmspell.storage import Store

SCRIPT = """
local agent = Agent.create{name = "calc", model = "fake/fake-model", tools = {"calculator"}}
local first = agent:execute("calc: 2+3")
local direct = Tool.execute("calculator", {input = "6*7"})
local again = agent:execute("thanks")
print(first.text)
State.save("session", "answer", first.text)
return {first = first.text, calls = #first.tool_calls, direct = direct.result, again = again.text}
"""


@pytest.fixture
def server() -> FakeLLMServer:
    return FakeLLMServer().start()


def _settings(store_url: str, tmp_path: Path, server: FakeLLMServer) -> Settings:
    return load_settings(
        database_url=store_url,
        data_dir=str(tmp_path),
        providers={
            "fake": ProviderConfig(type="openai", base_url=server.base_url, api_key="sk", max_retries=0)
        },
    )


async def test_replay_with_the_llm_server_stopped(
    store: Store, store_url: str, tmp_path: Path, server: FakeLLMServer
) -> None:
    settings = _settings(store_url, tmp_path, server)
    session = await store.sessions.create(name="recorded")
    try:
        outcome = await record_run(store, session.id, SCRIPT, settings_loader=lambda: settings)
    finally:
        server.stop()
    assert outcome.error is None, outcome.error
    assert outcome.result["first"].startswith("The answer is") and outcome.result["calls"] == 1
    requests = len(server.requests)
    assert requests == 3
    kinds = [r.kind for r in await store.replay.list(session.id)]
    assert kinds == ["run", "llm", "tool", "llm", "tool", "llm", "outcome"]

    report = await replay_session(store, session.id, settings_loader=lambda: settings)
    assert report.identical, report.to_dict()
    assert report.runs[0]["status"] == "succeeded" and report.runs[0]["calls"] == 5
    assert len(server.requests) == requests  # no provider call during the replay


async def test_replay_reports_differences(
    store: Store, store_url: str, tmp_path: Path, server: FakeLLMServer
) -> None:
    settings = _settings(store_url, tmp_path, server)
    session = await store.sessions.create(name="changed")
    script = 'local a = Agent.create{model = "fake/fake-model"} return a:execute(ARGS[1] or "hello").text'
    try:
        await record_run(store, session.id, script, args=["hello"], settings_loader=lambda: settings)
    finally:
        server.stop()
    # Tamper with the recorded input: the replay asks something that was never recorded.
    run_record = (await store.replay.list(session.id))[0]
    await store.maintenance.import_rows(
        "replay_records",
        [{**_row(run_record), "data": {**run_record.data, "args": ["bye"]}}],
    )
    report = await replay_session(store, session.id, settings_loader=lambda: settings)
    assert not report.identical
    fields = {d["field"] for d in report.runs[0]["differences"]}
    assert {"status", "calls"} <= fields
    with pytest.raises(NotFound, match="no recorded run"):
        await replay_session(store, (await store.sessions.create(name="empty")).id)


def _row(record: object) -> dict[str, object]:
    return {
        name: getattr(record, name).isoformat() if name == "created_at" else getattr(record, name)
        for name in ("session_id", "run_id", "seq", "kind", "key", "data", "created_at")
    }
