"""Every tool is reachable from Python, from Lua and over REST, with the same envelope."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes.daemon import Daemon, start_daemon
from llmspell.core.context import ExecutionContext
from llmspell.runtime.runner import execute_script
from llmspell.tools.registry import default_registry

NAMES = default_registry().names()

# Deterministic calls whose results must agree wherever they are made.
SAME_RESULT: dict[str, dict[str, Any]] = {
    "calculator": {"input": "(2 + 3) * 7"},
    "text-manipulator": {"operation": "snake_case", "input": "Hello Big World"},
    "hash-calculator": {"operation": "hash", "input": "abc", "algorithm": "sha256"},
    "base64-encoder": {"operation": "encode", "input": "llmspell"},
    "json-processor": {"operation": "query", "input": {"a": [{"b": 1}, {"b": 2}]}, "query": "a[].b"},
    "statistical-analyzer": {"operation": "mean", "input": [1, 2, 3, 4]},
    "diff-calculator": {"operation": "unified", "input": "a\nb\n", "other": "a\nc\n"},
}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    running = start_daemon(Path(tmp_path_factory.mktemp("tools")))
    yield running
    running.stop()


def test_the_catalogue_is_the_same_from_lua_and_rest(daemon: Daemon) -> None:
    with daemon.client() as http:
        rest = sorted(t["name"] for t in http.get("/v1/tools").json()["items"])
    assert rest == sorted(NAMES)
    assert len(NAMES) >= 41


@pytest.mark.parametrize("name", NAMES)
async def test_schema_violation_is_the_same_everywhere(daemon: Daemon, name: str) -> None:
    params = {"definitely_not_a_parameter": 1}
    python = await default_registry().invoke_envelope(name, params, ExecutionContext())
    assert python["success"] is False and python["error"]["code"] == "VALIDATION"
    outcome = await execute_script(
        f'local ok, e = pcall(Tool.execute, "{name}", {{definitely_not_a_parameter = 1}}) '
        f'return {{ok = ok, code = e.code, info = Tool.get("{name}")}}'
    )
    assert outcome.error is None, outcome.error
    assert outcome.result["ok"] is False and outcome.result["code"] == "VALIDATION"
    with daemon.client() as http:
        rest = http.post(f"/v1/tools/{name}/invoke", json={"params": params}).json()
        info = http.get(f"/v1/tools/{name}").json()
    assert rest["success"] is False and rest["error"]["code"] == "VALIDATION"
    assert set(rest) == set(python) == {"success", "operation", "result", "message", "error", "metadata"}
    assert outcome.result["info"]["name"] == info["name"] == name
    assert json.dumps(outcome.result["info"]["schema"], sort_keys=True) == json.dumps(
        info["schema"], sort_keys=True
    )


@pytest.mark.parametrize("name", sorted(SAME_RESULT))
async def test_success_envelopes_agree(daemon: Daemon, name: str) -> None:
    params = SAME_RESULT[name]
    python = await default_registry().invoke(name, params, ExecutionContext())
    outcome = await execute_script(f"return Tool.execute('{name}', JSON.parse([[{json.dumps(params)}]]))")
    assert outcome.error is None, outcome.error
    with daemon.client() as http:
        rest = http.post(f"/v1/tools/{name}/invoke", json={"params": params}).json()
    for envelope in (outcome.result, rest):
        assert envelope["success"] is True
        assert envelope["result"] == python["result"]
        assert envelope.get("operation") == python["operation"]


def test_rest_invoke_of_unknown_tool_is_404(daemon: Daemon) -> None:
    with httpx.Client(base_url=daemon.url) as http:
        assert http.post("/v1/tools/no-such-tool/invoke", json={"params": {}}).status_code == 404
