"""Every example in examples/ (of this layer) runs through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

LLMSPELL = str(Path(sys.executable).with_name("llmspell"))
ROOT = Path(__file__).resolve().parents[2]


def run_example(name: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    done = subprocess.run(
        [LLMSPELL, "run", f"examples/{name}", "--output", "json", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**base, **(env or {})},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    body: dict[str, Any] = json.loads(done.stdout)
    return body


def test_hello() -> None:
    body = run_example("hello.lua", "--", "--name", "World")
    assert body["result"] == {"greeting": "Hello, World", "languages": 2}
    assert body["stdout"] == "Hello, World!\nLanguages: lua, python\n"


def test_tools() -> None:
    body = run_example("tools.lua")
    assert body["result"] == {"calc": 42}
    lines = body["stdout"].splitlines()
    assert lines[0].startswith("calc") and '"value": 12' in lines[0]
    assert lines[1] == 'upper      "HELLO TOOLS"'
    assert "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" in lines[3]
    assert "1/0       VALIDATION" in lines and "schema    VALIDATION" in lines


def test_agent_against_the_fake_llm_server(fake_llm: Any) -> None:
    env = {
        "LLMSPELL_MODEL": "openai/fake-model",
        "LLMSPELL_BASE_URL": fake_llm.base_url,
        "OPENAI_API_KEY": "sk-test",
    }
    body = run_example("agent.lua", env=env)
    assert body["result"]["tool_calls"] == 1
    assert "42" in body["result"]["text"]
    assert "tool calculator(" in body["stdout"]
    assert "chunk: " in body["stdout"]
    assert body["usage"]["total_tokens"] > 0
    # The tool result went back to the model in the second request.
    assert any(m.get("role") == "tool" for m in fake_llm.requests[1]["messages"])
