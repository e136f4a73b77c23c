"""A daemon across real outages of its PostgreSQL and Redis (cut and restored by a TCP proxy
between them): it answers 503 problems, never 500, logs each outage once, and comes back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from fakes.daemon import Daemon, start_daemon
from fakes.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres


def _through(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


def _until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.1)


@pytest.fixture
def proxied(
    tmp_path: Path, make_postgres_url: Callable[[], str], redis_url: str
) -> Iterator[tuple[Daemon, TcpProxy, TcpProxy]]:
    database = make_postgres_url()
    pg = TcpProxy("127.0.0.1", urlsplit(database).port or 5432)
    redis = TcpProxy("127.0.0.1", urlsplit(redis_url).port or 6379)
    daemon = start_daemon(tmp_path, database_url=_through(database, pg), redis_url=_through(redis_url, redis))
    yield daemon, pg, redis
    try:
        assert daemon.stop() == 0, daemon.log()
    finally:
        pg.close()
        redis.close()


def _status(http: httpx.Client, method: str, path: str, **kwargs: object) -> int:
    response = http.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert response.status_code != 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
    return response.status_code


def test_database_and_redis_outages(proxied: tuple[Daemon, TcpProxy, TcpProxy]) -> None:
    daemon, pg, redis = proxied
    run = {"script": {"code": "return 1"}}
    with daemon.client() as http:
        assert http.post("/v1/runs/wait", json=run).json()["status"] == "succeeded"

        busy = {"script": {"code": 'local t = os.clock() while os.clock() - t < 1.5 do end return "done"'}}
        in_flight = http.post("/v1/runs", json=busy).json()["id"]
        _until(lambda: http.get(f"/v1/runs/{in_flight}").json()["status"] == "running", "the run runs")
        pg.cut()
        _until(lambda: http.get("/ready").status_code == 503, "/ready reports the database")
        assert http.get("/health").status_code == 200
        assert _status(http, "POST", "/v1/runs", json=run) == 503
        waited = http.post("/v1/runs/wait", json={"script": {"code": "return 'offline'"}})
        assert waited.status_code == 200 and waited.json()["result"] == "offline", waited.text
        assert _status(http, "GET", "/v1/runs") == 503
        time.sleep(2)  # every background loop retries; the run in flight ends meanwhile
        pg.restore()
        _until(lambda: http.get("/ready").status_code == 200, "/ready recovers")
        _until(lambda: http.get(f"/v1/runs/{in_flight}").json()["status"] != "running", "the run is stored")
        stored = http.get(f"/v1/runs/{in_flight}").json()
        assert (stored["status"], stored["result"], stored["attempts"]) == ("succeeded", "done", 1), stored
        _until(
            lambda: http.get(f"/v1/runs/{waited.json()['id']}").status_code == 200, "the wait run is stored"
        )
        assert http.post("/v1/runs/wait", json=run).json()["status"] == "succeeded"
        created = http.post("/v1/runs", json=run).json()
        _until(
            lambda: http.get(f"/v1/runs/{created['id']}").json()["status"] == "succeeded",
            "a background run after the outage succeeds",
        )

        redis.cut()
        _until(lambda: http.get("/ready").status_code == 503, "/ready reports Redis")
        during = [http.post("/v1/runs", json=run) for _ in range(5)]  # events: stored, not live
        assert all(response.status_code == 202 for response in during), [r.text for r in during]
        for response in during:
            run_id = response.json()["id"]
            _until(lambda: http.get(f"/v1/runs/{run_id}").json()["status"] == "succeeded", "runs succeed")  # noqa: B023
        redis.restore()
        _until(lambda: http.get("/ready").status_code == 200, "/ready recovers from the Redis outage")
        assert http.post("/v1/runs/wait", json=run).json()["status"] == "succeeded"

    log = daemon.log()  # an outage is a line per loop and one when it is over, no traceback
    assert log.count("claiming runs failed") == 1 and log.count("claiming runs works again") == 1, log
    assert log.count("publishing run events to the hub failed") <= 1, log
    assert "Traceback" not in log, log
