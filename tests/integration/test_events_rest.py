"""``/v1/events`` (SSE tail, publish) and ``/v1/hooks`` against real daemons: scopes, replicas via Redis."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes.daemon import LLMSPELL, Daemon, next_event, start_daemon, tail_events


@pytest.fixture
def replicas(tmp_path: Path, make_postgres_url: Any, redis_url: str) -> Iterator[tuple[Daemon, Daemon]]:
    database = make_postgres_url()
    first = start_daemon(tmp_path / "a", database_url=database, redis_url=redis_url)
    second = start_daemon(tmp_path / "b", database_url=database, redis_url=redis_url)
    yield first, second
    assert first.stop() == 0, first.log()
    assert second.stop() == 0, second.log()


@pytest.mark.postgres
def test_events_cross_replicas_and_from_scripts(replicas: tuple[Daemon, Daemon]) -> None:
    first, second = replicas
    out = tail_events(second.url, "deploy.*")
    with first.client() as http:
        published = http.post("/v1/events", json={"type": "deploy.started", "data": {"v": 1}})
        assert published.status_code == 201 and published.json()["type"] == "deploy.started"
        http.post("/v1/events", json={"type": "other.event", "data": 0})
        http.post("/v1/events", json={"type": "deploy.finished", "data": {"v": 2}, "correlation_id": "c-1"})
        bad = http.post("/v1/events", json={"data": 1})
        assert bad.status_code == 400 and bad.json()["code"] == "VALIDATION"
    got = [next_event(out), next_event(out)]
    assert [(e["type"], e["data"]) for e in got] == [
        ("deploy.started", {"v": 1}),
        ("deploy.finished", {"v": 2}),
    ]
    assert got[1]["correlation_id"] == "c-1" and got[0]["sequence"] < got[1]["sequence"]
    # A script's Event.publish on one replica reaches operators on the other.
    with first.client() as http:
        run = http.post(
            "/v1/runs/wait", json={"script": {"code": 'return Event.publish("deploy.script", {x=1})'}}
        )
        assert run.json()["status"] == "succeeded", run.json()
    event = next_event(out)
    assert event["type"] == "deploy.script" and event["data"] == {"x": 1} and event["language"] == "lua"


def test_event_and_hook_scopes(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path)
    try:
        env = daemon.cli_env()
        keys = {}
        for scope in ("events:read", "events:write", "runs:read"):
            created = subprocess.run(
                [LLMSPELL, "keys", "create", f"k-{scope}", "--scope", scope],
                env=env,
                capture_output=True,
                text=True,
            )
            assert created.returncode == 0, created.stderr
            keys[scope] = next(t for t in created.stdout.split() if t.startswith("lsk_"))
        with httpx.Client(base_url=daemon.url, timeout=10) as http:
            deadline = time.monotonic() + 10
            while http.post("/v1/events", json={"type": "x"}).status_code != 401:
                assert time.monotonic() < deadline, "API keys were not picked up"
                time.sleep(0.05)

            def auth(scope: str) -> dict[str, str]:
                return {"Authorization": f"Bearer {keys[scope]}"}

            denied = http.post("/v1/events", json={"type": "x"}, headers=auth("events:read"))
            assert denied.status_code == 403 and denied.json()["code"] == "PERMISSION_DENIED"
            assert http.get("/v1/hooks", headers=auth("events:write")).status_code == 403
            assert (
                http.post("/v1/hooks", json={"name": "metrics"}, headers=auth("runs:read")).status_code == 403
            )
            out = tail_events(daemon.url, "*", auth("events:read"))
            sent = http.post("/v1/events", json={"type": "a.b", "data": [1]}, headers=auth("events:write"))
            assert sent.status_code == 201
            assert next_event(out)["id"] == sent.json()["id"]
            with http.stream("GET", "/v1/events", headers=auth("runs:read")) as refused:
                assert refused.status_code == 403
    finally:
        assert daemon.stop() == 0, daemon.log()


def test_admin_hooks_rest(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path)
    try:
        with daemon.client() as http:
            listing = http.get("/v1/hooks").json()
            assert {b["name"] for b in listing["builtins"]} >= {"caching", "rate_limit", "cost", "voting"}
            created = http.post(
                "/v1/hooks",
                json={
                    "name": "voting",
                    "points": ["BeforeToolExecution"],
                    "options": {"hooks": [{"name": "security", "options": {"deny_tools": ["calculator"]}}]},
                },
            )
            assert created.status_code == 201, created.text
            hook_id = created.json()["items"][0]["id"]
            run = http.post(
                "/v1/runs/wait", json={"script": {"code": 'return Tool.execute("calculator", {input="1"})'}}
            )
            # A member's deny-list error goes through the composite to the caller.
            assert run.json()["status"] == "failed" and run.json()["error"]["code"] == "SANDBOX_VIOLATION"
            bad = http.post("/v1/hooks", json={"name": "caching", "options": {"ttl_s": -1}})
            assert bad.status_code == 400 and bad.json()["code"] == "VALIDATION"
            bad_point = http.post("/v1/hooks", json={"name": "metrics", "points": ["Nope"]})
            assert bad_point.status_code == 400 and "unknown hook point" in bad_point.json()["detail"]
            assert http.delete(f"/v1/hooks/{hook_id}").status_code == 204
            assert http.delete(f"/v1/hooks/{hook_id}").json()["code"] == "NOT_FOUND"
    finally:
        assert daemon.stop() == 0, daemon.log()
