"""The hot run-creation routes answer exactly as the FastAPI routes they stand in for."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from llmspell.core.config import load_settings
from llmspell.runtime.control import Daemon
from llmspell.server.app import create_app
from llmspell.server.auth import Authenticator
from prometheus_client import REGISTRY

VOLATILE = ("id", "duration_ms", "created_at", "started_at", "finished_at")


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Any]:
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", data_dir=str(tmp_path / "data")
    )
    async with Daemon.open(settings) as daemon:
        auth = Authenticator(daemon.store)
        await auth.refresh()
        yield create_app(daemon, auth, max_body_bytes=4096)


async def _both(app: Any, method: str, path: str, **request: Any) -> tuple[httpx.Response, httpx.Response]:
    """The same request answered by the hot route, then by FastAPI alone."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        hot = await http.request(method, path, **request)
        hot_routes, app.hot_routes = app.hot_routes, None
        try:
            plain = await http.request(method, path, **request)
        finally:
            app.hot_routes = hot_routes
    return hot, plain


def _comparable(response: httpx.Response) -> tuple[int, str, Any]:
    body = response.json()
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in VOLATILE}
    return response.status_code, response.headers["content-type"], body


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("path", "request_"),
    [
        ("/v1/runs/wait", {"json": {"script": {"code": 'print("hi") return {n = 1 + 1, s = "é"}'}}}),
        ("/v1/runs/wait", {"json": {"script": {"code": "error('boom')"}}}),
        ("/v1/runs/wait", {"json": {"script": {"code": "return 1"}, "args": {"who": "you"}}}),
        ("/v1/runs", {"json": {"script": {"code": "return 1"}}}),
        ("/v1/runs/wait", {"json": {"script": {"code": "return 1"}, "extra": 1}}),
        ("/v1/runs/wait", {"json": {"script": {"code": "return 1", "engine": "cobol"}}}),
        ("/v1/runs/wait", {"json": {"script": {"code": "return 1"}, "timeout_s": -1}}),
        ("/v1/runs/wait", {"json": {"script": {"name": "no-such-script"}}}),
        ("/v1/runs/wait", {"json": {"script": {}}}),
        ("/v1/runs/wait", {"json": [1, 2]}),
        ("/v1/runs", {"content": b"{not json", "headers": JSON}),
        ("/v1/runs", {"content": b"", "headers": JSON}),
        (
            "/v1/runs",
            {"content": b'{"script": {"code": "return 1"}}', "headers": {"content-type": "text/plain"}},
        ),
        ("/v1/runs", {"content": b'{"script": {"code": "return 1"}}'}),
        ("/v1/runs", {"content": b"{" + b" " * 5000 + b"}", "headers": JSON}),
        ("/v1/runs/wait", {"json": {"script": {"code": "--" + "x" * 300_000}}}),
    ],
)
async def test_answers_match_the_fastapi_route(app: Any, path: str, request_: dict[str, Any]) -> None:
    hot, plain = await _both(app, "POST", path, **request_)
    assert _comparable(hot) == _comparable(plain)
    assert hot.status_code < 500


async def test_a_body_in_chunks_and_one_over_the_limit(app: Any) -> None:
    async def call(chunks: list[bytes]) -> tuple[int, dict[str, Any]]:
        messages = [
            {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
            for i, c in enumerate(chunks)
        ]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/runs/wait",
            "raw_path": b"/v1/runs/wait",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"content-type", b"application/json")],
            "server": ("test", 80),
            "client": ("127.0.0.1", 1),
        }
        await app(scope, receive, send)
        return sent[0]["status"], json.loads(sent[1]["body"])

    body = json.dumps({"script": {"code": "return 40 + 2"}}).encode()
    status, answer = await call([body[:10], body[10:20], body[20:]])
    assert (status, answer["status"], answer["result"]) == (200, "succeeded", 42)
    status, answer = await call([b"{" + b" " * 3000, b" " * 3000 + b"}"])
    assert (status, answer["code"]) == (413, "LIMIT_EXCEEDED")


async def test_requests_are_measured_once_under_their_route(app: Any) -> None:
    def count(status: str) -> float:
        labels = {"method": "POST", "route": "/v1/runs/wait", "status": status}
        return REGISTRY.get_sample_value("llmspell_http_request_duration_seconds_count", labels) or 0.0

    before_ok, before_bad = count("200"), count("400")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        assert (await http.post("/v1/runs/wait", json={"script": {"code": "return 1"}})).status_code == 200
        assert (
            await http.post("/v1/runs/wait", json={"script": {"code": "return 1"}, "x": 1})
        ).status_code == 400
    assert (count("200") - before_ok, count("400") - before_bad) == (1.0, 1.0)


async def test_keys_and_scopes_are_checked(app: Any) -> None:

    daemon: Daemon = app.state.control
    _record, reader = await daemon.store.api_keys.create("reader", ["runs:read"])
    _record, writer = await daemon.store.api_keys.create("writer", ["runs:write"])
    await app.state.auth.refresh()
    body = {"json": {"script": {"code": "return 1"}}}
    for headers, status, code in (
        ({}, 401, "UNAUTHENTICATED"),
        ({"X-API-Key": reader + "x"}, 401, "UNAUTHENTICATED"),
        ({"Authorization": f"Bearer {reader}"}, 403, "PERMISSION_DENIED"),
    ):
        hot, plain = await _both(app, "POST", "/v1/runs/wait", headers=headers, **body)
        assert _comparable(hot) == _comparable(plain)
        assert (hot.status_code, hot.json()["code"]) == (status, code)
    hot, plain = await _both(app, "POST", "/v1/runs/wait", headers={"X-API-Key": writer}, **body)
    assert _comparable(hot) == _comparable(plain)
    assert hot.json()["result"] == 1
