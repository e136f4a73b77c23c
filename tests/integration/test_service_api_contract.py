"""The REST API against shared/SERVICE-API.md, item by item, on a real ``llmspell serve``.

Each test pins one place where the daemon once differed from the contract.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from fakes.daemon import LLMSPELL, Daemon, daemon_on_backend, start_daemon
from llmspell.server.grpc.gen.llmspell.v1 import runs_pb2, runs_pb2_grpc


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def daemon(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    yield from daemon_on_backend(request, tmp_path_factory, "contract")


@pytest.fixture
def http(daemon: Daemon) -> Iterator[httpx.Client]:
    with daemon.client() as client:
        yield client


def _sse_ids(text: str) -> list[tuple[int, str]]:
    """``(id, event)`` of every SSE frame in ``text``."""
    frames: list[tuple[int, str]] = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and line[0] != ":")
        if "id" in fields:
            frames.append((int(fields["id"]), fields["event"]))
    return frames


def _all_pages(http: httpx.Client, path: str, limit: int) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        answer = http.get(path, params=params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "pagination does not end"


# Conventions: pagination `?limit=&cursor=` with `next_cursor` in the body.


def test_schedules_list_honours_limit_and_cursor(http: httpx.Client) -> None:
    script = f"contract-{uuid.uuid4().hex[:8]}"
    assert http.post("/v1/scripts", json={"name": script, "code": "return 1"}).status_code == 201
    names = [f"{script}-{n}" for n in range(5)]
    for name in names:
        created = http.post("/v1/schedules", json={"name": name, "script": script, "interval_s": 3600})
        assert created.status_code == 201, created.text

    pages = _all_pages(http, "/v1/schedules", limit=2)
    assert all(len(page) <= 2 for page in pages)
    listed = [item["name"] for page in pages for item in page]
    assert len(listed) == len(set(listed)), "a schedule was listed twice"
    assert set(names) <= set(listed)

    bad = http.get("/v1/schedules", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400 and bad.json()["code"] == "VALIDATION"


def test_artifacts_list_honours_limit_and_cursor(http: httpx.Client) -> None:
    session = http.post("/v1/sessions", json={"name": "paged"}).json()["id"]
    for name in ("a.txt", "b.txt", "a.txt", "c.txt"):
        stored = http.post(
            f"/v1/sessions/{session}/artifacts",
            params={"name": name},
            content=b"x",
            headers={"content-type": "text/plain"},
        )
        assert stored.status_code == 201, stored.text

    pages = _all_pages(http, f"/v1/sessions/{session}/artifacts", limit=2)
    assert [len(page) for page in pages] == [2, 2]
    listed = [(item["name"], item["version"]) for page in pages for item in page]
    assert listed == [("a.txt", 1), ("a.txt", 2), ("b.txt", 1), ("c.txt", 1)]

    bad = http.get(f"/v1/sessions/{session}/artifacts", params={"cursor": "???"})
    assert bad.status_code == 400 and bad.json()["code"] == "VALIDATION"


# Runs: `POST /v1/runs/stream` ... `Last-Event-ID` resumes without loss.


def test_run_stream_resumes_with_last_event_id(http: httpx.Client) -> None:
    body = {"script": {"code": "print('a') print('b') print('c') return 5"}}
    key = {"Idempotency-Key": f"contract-stream-{uuid.uuid4().hex}"}
    first = http.post("/v1/runs/stream", json=body, headers=key)
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/event-stream")
    frames = _sse_ids(first.text)
    assert frames[0][0] == 1 and frames[-1][1] == "end"

    resumed = http.post("/v1/runs/stream", json=body, headers={**key, "Last-Event-ID": "3"})
    assert resumed.status_code == 200, resumed.text
    assert resumed.headers["x-run-id"] == first.headers["x-run-id"]
    assert _sse_ids(resumed.text) == [frame for frame in frames if frame[0] > 3]

    bad = http.post("/v1/runs/stream", json=body, headers={**key, "Last-Event-ID": "x"})
    assert bad.status_code == 400 and bad.json()["code"] == "VALIDATION"


async def test_grpc_stream_resumes_with_last_event_id(daemon: Daemon) -> None:
    request = runs_pb2.CreateRunRequest(
        script=runs_pb2.ScriptRef(code="print('a') print('b') return 5", engine="lua"),
        idempotency_key=f"contract-grpc-{uuid.uuid4().hex}",
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{daemon.grpc_port}") as channel:
        runs = runs_pb2_grpc.RunsStub(channel)
        first = [(event.id, event.event) async for event in runs.Stream(request, timeout=30)]
        assert first[0][0] == 1 and first[-1][1] == "end"
        resumed = runs.Stream(request, timeout=30, metadata=(("last-event-id", "2"),))
        assert [(event.id, event.event) async for event in resumed] == [f for f in first if f[0] > 2]


# Conventions: OpenAPI at /openapi.json; errors are problem+json (a bad request is 400).


def test_openapi_declares_problem_400_not_422(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, f"{method.upper()} {path} declares 422"
    create = spec["paths"]["/v1/runs"]["post"]["responses"]
    assert "application/problem+json" in create["400"]["content"]
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["properties"])
    # What it declares is what it answers.
    answer = http.post("/v1/runs", json={"script": {"code": "return 1"}, "bogus": 1})
    assert answer.status_code == 400 and answer.headers["content-type"] == "application/problem+json"


# Auth: every route but /health, /ready and /metrics (configurable) needs a key.


def _create_key(daemon: Daemon, scope: str) -> str:
    created = subprocess.run(
        [LLMSPELL, "keys", "create", f"k-{uuid.uuid4().hex[:6]}", "--scope", scope],
        env=daemon.cli_env(),
        capture_output=True,
        text=True,
    )
    assert created.returncode == 0, created.stderr
    return next(token for token in created.stdout.split() if token.startswith("lsk_"))


def _wait_for_keys(http: httpx.Client) -> None:
    deadline = time.monotonic() + 15
    while http.get("/v1/runs").status_code != 401:
        assert time.monotonic() < deadline, "API keys were not picked up"
        time.sleep(0.05)


def test_public_paths_are_configurable(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path, env={"LLMSPELL_SERVER__PUBLIC_PATHS": json.dumps(["/health", "/ready"])})
    try:
        key = _create_key(daemon, "runs:read")
        with httpx.Client(base_url=daemon.url, timeout=10) as http:
            _wait_for_keys(http)
            assert http.get("/health").status_code == 200
            assert http.get("/ready").status_code == 200
            refused = http.get("/metrics")
            assert refused.status_code == 401 and refused.json()["code"] == "UNAUTHENTICATED"
            assert http.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
            allowed = http.get("/metrics", headers={"Authorization": f"Bearer {key}"})
            assert allowed.status_code == 200 and "llmspell_runs_total" in allowed.text
    finally:
        assert daemon.stop() == 0, daemon.log()


def test_only_the_public_paths_skip_auth(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path)
    try:
        key = _create_key(daemon, "runs:read")
        with httpx.Client(base_url=daemon.url, timeout=10) as http:
            _wait_for_keys(http)
            for public in ("/health", "/ready", "/metrics"):
                assert http.get(public).status_code == 200, public
            for private in ("/openapi.json", "/docs", "/redoc"):
                refused = http.get(private)
                assert refused.status_code == 401, private
                assert refused.headers["content-type"] == "application/problem+json"
                assert http.get(private, headers={"X-API-Key": key}).status_code == 200, private
    finally:
        assert daemon.stop() == 0, daemon.log()
