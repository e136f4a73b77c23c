"""End-to-end: ``llmspell agent`` and ``llmspell workflow`` against a real daemon, and locally."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.daemon import LLMSPELL, Daemon, start_daemon
from fakes.llm_server import FakeLLMServer


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    running = start_daemon(Path(tmp_path_factory.mktemp("cli-agent")))
    yield running
    assert running.stop() == 0, running.log()


def cli(daemon: Daemon | None, *args: str) -> subprocess.CompletedProcess[str]:
    extra = ["--server", daemon.url] if daemon is not None else []
    return subprocess.run(
        [LLMSPELL, *args, *extra],
        capture_output=True,
        text=True,
        timeout=60,
        env={"LITELLM_LOCAL_MODEL_COST_MAP": "True", "PATH": "/usr/bin:/bin"},
    )


def test_agent_create_list_run_stream_delete(daemon: Daemon, fake_llm: FakeLLMServer) -> None:
    created = cli(
        daemon,
        "agent",
        "create",
        "helper",
        "--model",
        "openai/fake",
        "--base-url",
        fake_llm.base_url,
        "--model-api-key",
        "sk-secret",
        "--tool",
        "calculator",
        "--output",
        "json",
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["has_api_key"] is True and "sk-secret" not in created.stdout
    listed = cli(daemon, "agent", "list", "--output", "json")
    assert [item["name"] for item in json.loads(listed.stdout)] == ["helper"]
    answer = cli(daemon, "agent", "run", "helper", "hello there")
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout == "Echo: hello there\n"
    streamed = cli(daemon, "agent", "run", "helper", "a b c", "--stream")
    assert streamed.returncode == 0 and streamed.stdout == "Echo: a b c\n"
    as_json = cli(daemon, "agent", "run", "helper", "calc: 1+2", "--output", "json")
    assert json.loads(as_json.stdout)["tool_calls"][0]["name"] == "calculator"
    assert cli(daemon, "agent", "delete", "helper").returncode == 0
    missing = cli(daemon, "agent", "run", "helper", "x")
    assert missing.returncode != 0 and "NOT_FOUND" in missing.stderr and "Traceback" not in missing.stderr


def test_agent_run_locally_with_model(fake_llm: FakeLLMServer) -> None:
    result = cli(
        None,
        "agent",
        "run",
        "solo",
        "hi",
        "--model",
        "openai/fake",
        "--base-url",
        fake_llm.base_url,
        "--model-api-key",
        "sk-test",
        "--stream",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Echo: hi\n"


def test_workflow_list_run_stored_and_file(daemon: Daemon, tmp_path: Path) -> None:
    definition = {
        "type": "sequential",
        "name": "calc",
        "steps": [{"name": "add", "tool": "calculator", "input": {"input": "{{input}}"}}],
    }
    path = tmp_path / "calc.json"
    path.write_text(json.dumps(definition))
    assert cli(daemon, "workflow", "create", "calc", str(path)).returncode == 0
    listed = cli(daemon, "workflow", "list", "--output", "json")
    assert "calc" in [item["name"] for item in json.loads(listed.stdout)]
    remote = cli(daemon, "workflow", "run", "calc", "--input", '"2 + 5"')
    assert remote.returncode == 0, remote.stderr
    assert json.loads(remote.stdout)["output"]["result"]["value"] == 7
    local = cli(None, "workflow", "run", str(path), "--input", '"3 * 3"')
    assert local.returncode == 0, local.stderr
    assert json.loads(local.stdout)["output"]["result"]["value"] == 9
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"type": "sequential", "steps": [{"name": "x", "tool": "calculator", "input": {}}]})
    )
    failed = cli(None, "workflow", "run", str(bad))
    assert failed.returncode == 1 and json.loads(failed.stdout)["success"] is False
