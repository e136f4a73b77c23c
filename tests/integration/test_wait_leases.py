"""Runs of POST /v1/runs/wait are stored when they end: the lease loop must leave them be."""

from __future__ import annotations

from pathlib import Path

from fakes.daemon import start_daemon

# Waits 3.5 s on an await (no CPU): several renewals of a 1.5 s lease (every 0.5 s) pass meanwhile.
SLOW = 'local id = Event.subscribe("nobody.*") Event.receive(id, 3500) return "done"'


def test_a_wait_run_outlives_lease_renewals(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path, env={"LLMSPELL_SERVER__LEASE_S": "1.5"})
    try:
        with daemon.client() as http:
            done = http.post("/v1/runs/wait", json={"script": {"code": SLOW}}, timeout=30).json()
            assert (done["status"], done["result"], done["error"]) == ("succeeded", "done", None)
            # The idempotent kind is stored before it runs, and its lease is renewed.
            keyed = http.post(
                "/v1/runs/wait",
                json={"script": {"code": SLOW}},
                headers={"Idempotency-Key": "slow-1"},
                timeout=30,
            ).json()
            assert (keyed["status"], keyed["result"]) == ("succeeded", "done")
            assert http.get(f"/v1/runs/{done['id']}").json()["status"] == "succeeded"
    finally:
        assert daemon.stop() == 0, daemon.log()
