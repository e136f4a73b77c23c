"""The workflow examples, run by the real CLI against the fake LLM server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from fakes.llm_server import FakeLLMServer

LLMSPELL = str(Path(sys.executable).with_name("llmspell"))
ROOT = Path(__file__).resolve().parents[2]


def run_example(name: str, fake: FakeLLMServer, *args: str) -> tuple[dict[str, Any], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMSPELL_", "OPENAI_"))}
    env.update(LLMSPELL_MODEL="openai/fake", LLMSPELL_BASE_URL=fake.base_url, OPENAI_API_KEY="sk-test")
    done = subprocess.run(
        [LLMSPELL, "run", f"examples/{name}", "--output", "json", *(["--", *args] if args else [])],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    body = json.loads(done.stdout)
    assert body["error"] is None, body["error"]
    return body["result"], body["stdout"]


def user_messages(fake: FakeLLMServer) -> list[str]:
    return [request["messages"][-1]["content"] for request in fake.requests]


def test_research_pipeline(fake_llm: FakeLLMServer) -> None:
    result, stdout = run_example("research_pipeline.lua", fake_llm, "tidal power")
    assert result["notes"] == {
        "technology": "Echo: Technology of tidal power",
        "market": "Echo: Market for tidal power",
        "risks": "Echo: Risks of tidal power",
    }
    summary = result["summary"]
    assert summary.startswith("Echo: Summarise the notes on tidal power.")
    assert (
        "Technology: Echo: Technology of tidal power" in summary
        and "Risks: Echo: Risks of tidal power" in summary
    )
    assert stdout.startswith("# tidal power\n")
    # Three researchers first (in any order: they ran concurrently), the editor last.
    messages = user_messages(fake_llm)
    assert len(messages) == 4 and messages[-1].startswith("Summarise the notes")
    assert sorted(messages[:3]) == [
        "Market for tidal power",
        "Risks of tidal power",
        "Technology of tidal power",
    ]


def test_router(fake_llm: FakeLLMServer) -> None:
    result, stdout = run_example("router.lua", fake_llm)
    assert [answer["route"] for answer in result] == ["billing", "technical", "other"]
    assert result[0]["reply"] == "Echo: I was charged twice this month, please refund my invoice"
    assert "[technical] The app shows a technical error" in stdout
    systems = [request["messages"][0]["content"] for request in fake_llm.requests]
    assert sum("billing specialist" in s for s in systems) == 1
    assert sum("support engineer" in s for s in systems) == 1
    assert sum("receptionist" in s for s in systems) == 1


def test_router_with_arguments(fake_llm: FakeLLMServer) -> None:
    result, _ = run_example("router.lua", fake_llm, "Where is my refund?")
    assert [answer["route"] for answer in result] == ["billing"]


def test_collection_loop(fake_llm: FakeLLMServer) -> None:
    result, stdout = run_example("collection_loop.lua", fake_llm)
    assert result["lines"] == [
        {"item": "notebook", "total": 13.5},
        {"item": "pen", "total": 12},
        {"item": "backpack", "total": 39.9},
    ]
    assert abs(result["total"] - 65.4) < 1e-9
    assert "Grand total: 65.4" in result["report"] and result["report"].startswith("Echo: Order lines: [")
    assert "total 65.40" in stdout
    assert len(fake_llm.requests) == 1
