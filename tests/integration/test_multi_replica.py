"""Several ``llmspell serve`` replicas on one Postgres + Redis."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes.daemon import Daemon, start_daemon

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

LEASE_ENV = {"LLMSPELL_SERVER__LEASE_S": "2"}


@pytest.fixture
def cluster(
    tmp_path: Path, make_postgres_url: Any, redis_url: str
) -> Iterator[tuple[Daemon, Daemon, Daemon]]:
    """A: API only (claims nothing); B and C: workers. Same database and Redis."""
    database_url = make_postgres_url()
    api = start_daemon(
        tmp_path,
        database_url=database_url,
        redis_url=redis_url,
        env={**LEASE_ENV, "LLMSPELL_SERVER__MAX_CONCURRENT_RUNS": "0"},
    )
    workers = [
        start_daemon(tmp_path, database_url=database_url, redis_url=redis_url, env=LEASE_ENV)
        for _ in range(2)
    ]
    yield api, workers[0], workers[1]
    for daemon in (api, *workers):
        daemon.stop()


def wait_for(predicate: Any, timeout: float, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def events_of(http: httpx.Client, run_id: str, after: int = 0) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    with http.stream("GET", f"/v1/runs/{run_id}/events", headers={"Last-Event-ID": str(after)}) as response:
        for line in response.iter_lines():
            if line.startswith(":"):
                continue
            if not line:
                if current:
                    events.append(current)
                    if current["event"] == "end":
                        break
                    current = {}
                continue
            key, _, value = line.partition(": ")
            current[key] = json.loads(value) if key == "data" else value
    return events


def body(code: str, **extra: Any) -> dict[str, Any]:
    return {"script": {"code": code}, **extra}


def test_200_background_runs_finish_exactly_once(cluster: tuple[Daemon, Daemon, Daemon]) -> None:
    api, _b, _c = cluster
    with api.client() as http:
        ids = [http.post("/v1/runs", json=body(f"return {i} * 2")).json()["id"] for i in range(200)]

        def all_done() -> bool:
            done = 0
            cursor = None
            while True:
                page = http.get(
                    "/v1/runs",
                    params={"status": "succeeded", "limit": 1000, **({"cursor": cursor} if cursor else {})},
                ).json()
                done += len([r for r in page["items"] if r["id"] in set(ids)])
                cursor = page["next_cursor"]
                if not cursor:
                    return done == 200

        wait_for(all_done, timeout=60)
        workers = set()
        for index, run_id in enumerate(ids):
            run = http.get(f"/v1/runs/{run_id}").json()
            assert run["status"] == "succeeded" and run["result"] == index * 2
            assert run["attempts"] == 1
        for run_id in ids[:20]:
            running = [
                e
                for e in events_of(http, run_id)
                if e["event"] == "status" and e["data"]["status"] == "running"
            ]
            assert len(running) == 1
            workers.add(running[0]["data"]["worker"])
        assert workers, "runs were executed by the worker replicas"


def test_sse_on_api_replica_follows_run_on_worker_and_cancel_reaches_it(
    cluster: tuple[Daemon, Daemon, Daemon],
) -> None:
    api, _b, _c = cluster
    code = 'print("started") while true do end'
    with api.client() as http:
        run_id = http.post("/v1/runs", json=body(code, timeout_s=60)).json()["id"]
        seen: list[dict[str, Any]] = []
        follower = threading.Thread(target=lambda: seen.extend(events_of(http, run_id)))
        follower.start()
        wait_for(lambda: http.get(f"/v1/runs/{run_id}").json()["status"] == "running", timeout=10)
        time.sleep(0.3)
        started = time.monotonic()
        assert http.post(f"/v1/runs/{run_id}/cancel").status_code == 200
        wait_for(lambda: http.get(f"/v1/runs/{run_id}").json()["status"] == "cancelled", timeout=5)
        assert time.monotonic() - started < 2.0
        follower.join(10)
        kinds = [e["event"] for e in seen]
        assert kinds[0] == "status" and kinds[-1] == "end"
        assert {"event": "stdout", "id": "2", "data": {"text": "started\n"}} in seen
        assert seen[0]["data"]["worker"] != "", "executed on a worker replica"


def test_killed_replica_runs_are_recovered(cluster: tuple[Daemon, Daemon, Daemon]) -> None:
    api, b, c = cluster
    code = 'local t = os.clock() while os.clock() - t < 3 do end return "done"'
    with api.client() as http:
        retried = http.post("/v1/runs", json=body(code, max_attempts=2, timeout_s=30)).json()["id"]
        once = http.post("/v1/runs", json=body(code, max_attempts=1, timeout_s=30)).json()["id"]
        wait_for(
            lambda: all(http.get(f"/v1/runs/{r}").json()["status"] == "running" for r in (retried, once)),
            timeout=10,
        )
        holders = {}
        for run_id in (retried, once):
            first = events_of_first(http, run_id)
            holders[run_id] = first["data"]["worker"]
        victim_worker = holders[retried]
        # Kill every worker replica holding one of the runs except one survivor.
        victim = b if _worker_of(b, victim_worker) else c
        survivor = c if victim is b else b
        victim.stop(signal.SIGKILL)
        assert survivor.process.poll() is None
        final = wait_for(
            lambda: (r := http.get(f"/v1/runs/{retried}").json())["status"] in ("succeeded", "failed") and r,
            timeout=30,
        )
        assert final["status"] == "succeeded" and final["attempts"] == 2 and final["result"] == "done"
        if holders[once] == victim_worker:
            lost = wait_for(
                lambda: (r := http.get(f"/v1/runs/{once}").json())["status"] == "failed" and r, timeout=30
            )
            assert "lease" in json.dumps(lost["error"]).lower()


def events_of_first(http: httpx.Client, run_id: str) -> dict[str, Any]:
    with http.stream("GET", f"/v1/runs/{run_id}/events") as response:
        current: dict[str, Any] = {}
        for line in response.iter_lines():
            if not line and current:
                return current
            if line and not line.startswith(":"):
                key, _, value = line.partition(": ")
                current[key] = json.loads(value) if key == "data" else value
    raise AssertionError("no event")


def _worker_of(daemon: Daemon, worker_id: str) -> bool:
    return worker_id in daemon.log()


def test_cron_every_second_yields_one_run_per_fire(cluster: tuple[Daemon, Daemon, Daemon]) -> None:
    api, _b, _c = cluster
    with api.client() as http:
        http.post("/v1/scripts", json={"name": "tick", "code": 'return "tick"'})
        schedule = http.post(
            "/v1/schedules",
            json={"name": "every-second", "script": "tick", "cron": "* * * * * *", "overlap": "queue"},
        ).json()
        time.sleep(20)
        http.post(f"/v1/schedules/{schedule['id']}/pause")
        time.sleep(1.5)
        runs = http.get(f"/v1/schedules/{schedule['id']}/runs", params={"limit": 1000}).json()["items"]
        fire_times = [run["fire_time"] for run in runs]
        assert len(fire_times) == len(set(fire_times)), "one run per fire"
        assert 18 <= len(fire_times) <= 23
        wait_for(
            lambda: all(
                r["status"] == "succeeded"
                for r in http.get(f"/v1/schedules/{schedule['id']}/runs", params={"limit": 1000}).json()[
                    "items"
                ]
            ),
            timeout=10,
        )
