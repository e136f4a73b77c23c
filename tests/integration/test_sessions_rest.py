"""REST /v1/state and /v1/sessions against real daemons (SQLite; Postgres + Redis), with restarts."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from fakes.daemon import Daemon, start_daemon


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> dict[str, str | None]:
    if request.param == "postgres":
        return {
            "database_url": request.getfixturevalue("make_postgres_url")(),
            "redis_url": request.getfixturevalue("redis_url"),
        }
    return {"database_url": None, "redis_url": None}


MAX_VALUE_BYTES = 100_000


def _start(tmp: Path, backend: dict[str, str | None], data_dir: Path | None = None) -> Daemon:
    env = {"LLMSPELL_STATE__MAX_VALUE_BYTES": str(MAX_VALUE_BYTES)}
    if data_dir is not None:
        env["LLMSPELL_DATA_DIR"] = str(data_dir)
    return start_daemon(tmp, database_url=backend["database_url"], redis_url=backend["redis_url"], env=env)


def test_state_rest_survives_restart(tmp_path: Path, backend: dict[str, str | None]) -> None:
    data_dir = tmp_path / "data"
    first = _start(tmp_path, backend, data_dir)
    try:
        with first.client() as http:
            put = http.put("/v1/state/user:alice/prefs/theme", json={"value": {"dark": True}})
            assert put.status_code == 200 and put.json()["version"] == 1 and put.headers["etag"] == '"1"'
            again = http.put(
                "/v1/state/user:alice/prefs/theme", json={"value": 2}, headers={"If-Match": '"1"'}
            )
            assert again.json()["version"] == 2
            stale = http.put("/v1/state/user:alice/prefs/theme", json={"value": 3, "expected_version": 1})
            assert stale.status_code == 409 and stale.json()["code"] == "CONFLICT"
            assert stale.headers["content-type"].startswith("application/problem+json")
            bad = http.put("/v1/state/nonsense/k", json={"value": 1})
            assert bad.status_code == 400 and bad.json()["code"] == "VALIDATION"
            assert http.put("/v1/state/global/n", json={"value": 5, "ttl_s": 3600}).status_code == 200
            big = http.put("/v1/state/global/big", json={"value": "x" * MAX_VALUE_BYTES})
            assert big.status_code == 413 and big.json()["code"] == "LIMIT_EXCEEDED", big.text
            assert big.json()["details"]["limit"] == MAX_VALUE_BYTES
    finally:
        assert first.stop() == 0, first.log()
    second = _start(tmp_path, backend, data_dir)
    try:
        with second.client() as http:
            got = http.get("/v1/state/user:alice/prefs/theme")
            assert got.status_code == 200 and got.json()["value"] == 2 and got.json()["version"] == 2
            listed = http.get("/v1/state/user:alice").json()
            assert listed["keys"] == ["prefs/theme"] and listed["next_cursor"] is None
            assert http.get("/v1/state/user:bob").json()["keys"] == []
            assert http.get("/v1/state/user:bob/prefs/theme").json()["code"] == "NOT_FOUND"
            assert http.delete("/v1/state/user:alice/prefs/theme").status_code == 204
            assert http.delete("/v1/state/user:alice/prefs/theme").status_code == 404
            # A run writes through its own manager; the daemon's reads see it at once.
            code = 'State.save("global", "n", State.load("global", "n") + 1) return State.load("global", "n")'
            run = http.post("/v1/runs/wait", json={"script": {"code": code}}).json()
            assert run["status"] == "succeeded" and run["result"] == 6, run["error"]
            assert http.get("/v1/state/global/n").json()["value"] == 6
    finally:
        assert second.stop() == 0, second.log()


def test_sessions_and_artifacts_rest(tmp_path: Path, backend: dict[str, str | None]) -> None:
    daemon = _start(tmp_path, backend)
    try:
        with daemon.client() as http:
            created = http.post("/v1/sessions", json={"name": "s1", "tags": ["x", "y"], "metadata": {"k": 1}})
            assert created.status_code == 201
            session = created.json()
            sid = session["id"]
            assert session["status"] == "active" and session["tags"] == ["x", "y"]
            assert http.get(f"/v1/sessions/{sid}").json()["metadata"] == {"k": 1}
            assert [s["id"] for s in http.get("/v1/sessions", params={"tag": ["x"]}).json()["items"]] == [sid]
            assert http.get("/v1/sessions", params={"tag": "nope"}).json()["items"] == []
            assert http.get("/v1/sessions/nope").status_code == 404

            raw = http.post(
                f"/v1/sessions/{sid}/artifacts",
                params={"name": "pic.png", "type": "image", "metadata": '{"w": 2}'},
                content=b"\x89PNG-bytes",
                headers={"Content-Type": "image/png"},
            )
            assert raw.status_code == 201, raw.text
            art = raw.json()
            assert art["media_type"] == "image/png" and art["size"] == 10 and art["metadata"] == {"w": 2}
            js = http.post(
                f"/v1/sessions/{sid}/artifacts", json={"name": "pic.png", "content_base64": "AAEC"}
            )
            assert js.status_code == 201 and js.json()["version"] == 2
            down = http.get(f"/v1/sessions/{sid}/artifacts/{art['id']}")
            assert down.status_code == 200 and down.content == b"\x89PNG-bytes"
            assert (
                down.headers["content-type"] == "image/png"
                and down.headers["etag"] == f'"{art["content_hash"]}"'
            )
            latest = http.get(f"/v1/sessions/{sid}/artifacts/pic.png")
            assert latest.content == b"\x00\x01\x02" and latest.headers["x-artifact-version"] == "2"
            assert len(http.get(f"/v1/sessions/{sid}/artifacts").json()["items"]) == 2
            assert http.get(f"/v1/sessions/{sid}/artifacts/missing").json()["code"] == "NOT_FOUND"

            done = http.post(f"/v1/sessions/{sid}/complete").json()
            assert done["status"] == "completed" and done["ended_at"] is not None
            assert http.post(f"/v1/sessions/{sid}/resume").json()["code"] == "VALIDATION"
            exported = http.get(f"/v1/sessions/{sid}/export").json()
            assert exported["session"]["id"] == sid and len(exported["artifacts"]) == 2
            assert http.delete(f"/v1/sessions/{sid}").status_code == 204
            assert http.get(f"/v1/sessions/{sid}").status_code == 404

            # A run started with a session sees it as current.
            other = http.post("/v1/sessions", json={"name": "s2"}).json()["id"]
            code = 'State.save("session", "k", 1) return {Session.get_current(), State.load("session", "k")}'
            run = http.post("/v1/runs/wait", json={"script": {"code": code}, "session_id": other}).json()
            assert run["result"] == [other, 1], run
            assert http.get(f"/v1/state/session:{other}/k").json()["value"] == 1
    finally:
        assert daemon.stop() == 0, daemon.log()


class _PeakRss:
    """Samples a process's RSS in a thread; ``peak`` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.start = self.peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 1e6


_BLOCK = os.urandom(1 << 20)


def _chunks(total: int, size: int = 1 << 20) -> Iterator[bytes]:
    block = _BLOCK
    sent = 0
    while sent < total:
        piece = block[: min(size, total - sent)]
        sent += len(piece)
        yield piece


def test_200mb_artifact_streams_with_bounded_memory(tmp_path: Path) -> None:
    total = 200 * 1024 * 1024
    expected = hashlib.sha256()
    for piece in _chunks(total):
        expected.update(piece)
    daemon = start_daemon(tmp_path)
    try:
        with httpx.Client(base_url=daemon.url, timeout=120) as http:
            sid = http.post("/v1/sessions", json={"name": "big"}).json()["id"]
            http.get(f"/v1/sessions/{sid}/artifacts")  # warm the persistence services
            with _PeakRss(daemon.process.pid) as upload_rss:
                made = http.post(
                    f"/v1/sessions/{sid}/artifacts",
                    params={"name": "big.bin"},
                    content=_chunks(total),
                    headers={"Content-Type": "application/octet-stream"},
                )
            assert made.status_code == 201, made.text
            assert made.json()["size"] == total and made.json()["content_hash"] == expected.hexdigest()
            got = hashlib.sha256()
            received = 0
            with (
                _PeakRss(daemon.process.pid) as download_rss,
                http.stream("GET", f"/v1/sessions/{sid}/artifacts/big.bin") as response,
            ):
                assert response.status_code == 200
                assert int(response.headers["content-length"]) == total
                for chunk in response.iter_bytes():
                    got.update(chunk)
                    received += len(chunk)
            assert received == total and got.hexdigest() == expected.hexdigest()
        print(f"RSS growth: upload {upload_rss.growth_mb:.1f} MB, download {download_rss.growth_mb:.1f} MB")
        assert upload_rss.growth_mb < 50, f"upload grew RSS by {upload_rss.growth_mb:.1f} MB"
        assert download_rss.growth_mb < 50, f"download grew RSS by {download_rss.growth_mb:.1f} MB"
        blobs = list((daemon.data_dir / "blobs").glob("*/*"))
        assert [b.name for b in blobs] == [expected.hexdigest()]
    finally:
        assert daemon.stop() == 0, daemon.log()
