"""End-to-end: a real ``llmspell serve`` on SQLite, and on Postgres + Redis."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fakes.daemon import LLMSPELL, Daemon, start_daemon


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def daemon(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp(f"daemon-{request.param}")
    if request.param == "postgres":
        database_url = request.getfixturevalue("postgres_url")
        redis_url = request.getfixturevalue("redis_url")
        running = start_daemon(tmp, database_url=database_url, redis_url=redis_url)
    else:
        running = start_daemon(tmp)
    yield running
    assert running.stop() == 0, running.log()


def sse_events(response: httpx.Response) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if not line:
            if current:
                events.append(current)
                if current.get("event") == "end":
                    break
                current = {}
            continue
        field, _, value = line.partition(": ")
        current[field] = json.loads(value) if field == "data" else (int(value) if field == "id" else value)
    return events


def run_body(code: str, **extra: Any) -> dict[str, Any]:
    return {"script": {"code": code, "engine": "lua"}, **extra}


def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def test_health_ready_metrics(daemon: Daemon) -> None:
    with daemon.client() as http:
        assert http.get("/health").json() == {"status": "ok"}
        ready = http.get("/ready")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        http.post("/v1/runs/wait", json=run_body("return 1"))
        metrics = http.get("/metrics").text
        for name in (
            "llmspell_runs_total",
            "llmspell_run_duration_seconds",
            "llmspell_http_request_duration_seconds",
            "llmspell_schedule_fires_total",
        ):
            assert name in metrics
        assert http.get("/openapi.json").json()["info"]["title"] == "llmspell"


def test_wait_returns_result_and_stdout(daemon: Daemon) -> None:
    with daemon.client() as http:
        response = http.post(
            "/v1/runs/wait", json=run_body('print("hi " .. ARGS.who) return {n = 1 + 1}', args={"who": "you"})
        )
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "succeeded"
        assert body["result"] == {"n": 2}
        assert body["stdout"] == "hi you\n"
        assert body["error"] is None
        assert set(body) >= {"id", "status", "result", "stdout", "error", "usage", "duration_ms"}


def test_script_error_is_a_failed_run_not_a_500(daemon: Daemon) -> None:
    with daemon.client() as http:
        body = http.post("/v1/runs/wait", json=run_body('local x = 1\nerror("boom")')).json()
        assert body["status"] == "failed"
        assert body["error"]["code"] == "SCRIPT_ERROR"
        assert body["error"]["details"]["line"] == 2
        timeout = http.post("/v1/runs/wait", json=run_body("while true do end", timeout_s=0.3)).json()
        assert timeout["status"] == "timeout" and timeout["error"]["code"] == "TIMEOUT"


def test_background_run_get_and_list(daemon: Daemon) -> None:
    with daemon.client() as http:
        created = http.post("/v1/runs", json=run_body("return 42"))
        assert created.status_code == 202
        run_id = created.json()["id"]
        assert created.json()["status"] in ("queued", "running", "succeeded")
        done = wait_for(lambda: (r := http.get(f"/v1/runs/{run_id}").json())["status"] == "succeeded" and r)
        assert done["result"] == 42
        listed = http.get("/v1/runs", params={"status": "succeeded", "limit": 5}).json()
        assert listed["items"] and all(item["status"] == "succeeded" for item in listed["items"])


def test_stream_and_resume_with_last_event_id(daemon: Daemon) -> None:
    with daemon.client() as http:
        code = 'for i = 1, 5 do print("line " .. i) end return "done"'
        with http.stream("POST", "/v1/runs/stream", json=run_body(code)) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = sse_events(response)
        kinds = [e["event"] for e in events]
        assert kinds[0] == "status" and kinds[-1] == "end"
        assert [e["data"]["text"] for e in events if e["event"] == "stdout"] == [
            f"line {i}\n" for i in range(1, 6)
        ]
        assert [e["id"] for e in events] == list(range(1, len(events) + 1))
        run_id = (
            events[0]["data"].get("run_id")
            or http.get("/v1/runs", params={"limit": 1}).json()["items"][0]["id"]
        )
        with http.stream("GET", f"/v1/runs/{run_id}/events", headers={"Last-Event-ID": "3"}) as response:
            resumed = sse_events(response)
        assert [e["id"] for e in resumed] == [e["id"] for e in events if e["id"] > 3]


def test_cancel_running_and_queued(daemon: Daemon) -> None:
    with daemon.client() as http:
        run_id = http.post("/v1/runs", json=run_body("while true do end", timeout_s=30)).json()["id"]
        wait_for(lambda: http.get(f"/v1/runs/{run_id}").json()["status"] == "running")
        started = time.monotonic()
        http.post(f"/v1/runs/{run_id}/cancel")
        wait_for(lambda: http.get(f"/v1/runs/{run_id}").json()["status"] == "cancelled", timeout=5)
        assert time.monotonic() - started < 2.0
        assert http.post("/v1/runs/nope/cancel").status_code == 404


def test_idempotency_key_returns_same_run(daemon: Daemon) -> None:
    with daemon.client() as http:
        headers = {"Idempotency-Key": f"key-{time.monotonic_ns()}"}
        first = http.post("/v1/runs", json=run_body("return 1"), headers=headers).json()
        second = http.post("/v1/runs", json=run_body("return 1"), headers=headers).json()
        assert first["id"] == second["id"]


def test_scripts_versions_and_syntax_check(daemon: Daemon) -> None:
    with daemon.client() as http:
        name = f"greet-{time.monotonic_ns()}"
        v1 = http.post("/v1/scripts", json={"name": name, "code": 'return "v1"', "description": "d"})
        assert v1.status_code == 201 and v1.json()["version"] == 1
        v2 = http.post("/v1/scripts", json={"name": name, "code": 'return "v2 " .. (ARGS[1] or "")'}).json()
        assert v2["version"] == 2
        assert http.get(f"/v1/scripts/{name}", params={"version": 1}).json()["code"] == 'return "v1"'
        assert name in [s["name"] for s in http.get("/v1/scripts").json()["items"]]
        ran = http.post("/v1/runs/wait", json={"script": {"name": name}, "args": ["x"]}).json()
        assert ran["result"] == "v2 x"
        bad = http.post("/v1/scripts", json={"name": "bad", "code": "local x = \n\n = 1"})
        assert bad.status_code == 400 and bad.json()["code"] == "VALIDATION"
        assert bad.json()["details"]["line"] == 3
        assert http.delete(f"/v1/scripts/{name}").status_code == 204
        assert http.get(f"/v1/scripts/{name}").status_code == 404


def test_schedules_fire_pause_trigger(daemon: Daemon) -> None:
    with daemon.client() as http:
        name = f"tick-{time.monotonic_ns()}"
        http.post("/v1/scripts", json={"name": name, "code": 'return "tick"'})
        created = http.post("/v1/schedules", json={"name": name, "script": name, "interval_s": 1})
        assert created.status_code == 201, created.text
        schedule_id = created.json()["id"]
        wait_for(lambda: len(http.get(f"/v1/schedules/{schedule_id}/runs").json()["items"]) >= 2, timeout=10)
        paused = http.post(f"/v1/schedules/{schedule_id}/pause").json()
        assert paused["enabled"] is False
        time.sleep(0.3)
        count = len(http.get(f"/v1/schedules/{schedule_id}/runs").json()["items"])
        time.sleep(2.5)
        assert len(http.get(f"/v1/schedules/{schedule_id}/runs").json()["items"]) == count
        triggered = http.post(f"/v1/schedules/{schedule_id}/trigger")
        assert triggered.status_code == 202 and triggered.json()["schedule_id"] == schedule_id
        patched = http.patch(
            f"/v1/schedules/{schedule_id}", json={"cron": "*/5 * * * *", "timezone": "Europe/Paris"}
        )
        assert patched.json()["cron"] == "*/5 * * * *" and patched.json()["interval_s"] is None
        assert http.delete(f"/v1/schedules/{schedule_id}").status_code == 204
        assert http.get(f"/v1/schedules/{schedule_id}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cron": "not a cron"}, "cron"),
        ({"cron": "* * * * *", "timezone": "Mars/Olympus"}, "timezone"),
        ({"interval_s": -1}, "interval_s"),
        ({}, "cron"),
    ],
)
def test_invalid_schedules_are_400(daemon: Daemon, body: dict[str, Any], field: str) -> None:
    with daemon.client() as http:
        http.post("/v1/scripts", json={"name": "noop", "code": "return 1"})
        response = http.post(
            "/v1/schedules", json={"name": f"bad-{time.monotonic_ns()}", "script": "noop", **body}
        )
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "VALIDATION"


def test_hostile_input_is_4xx(daemon: Daemon) -> None:
    with daemon.client() as http:
        big = http.post(
            "/v1/runs", content=b"{" + b" " * 2_000_000 + b"}", headers={"content-type": "application/json"}
        )
        assert big.status_code == 413 and big.json()["code"] == "LIMIT_EXCEEDED"
        big_script = http.post("/v1/runs/wait", json=run_body("--" + "x" * 300_000))
        assert big_script.status_code == 413
        bad_json = http.post("/v1/runs", content=b"{not json", headers={"content-type": "application/json"})
        assert bad_json.status_code == 400 and bad_json.json()["code"] == "VALIDATION"
        engine = http.post("/v1/runs", json={"script": {"code": "return 1", "engine": "cobol"}})
        assert engine.status_code == 400 and "lua" in engine.json()["detail"]
        assert http.get("/v1/runs/does-not-exist").status_code == 404
        assert http.get("/v1/runs/does-not-exist/events").status_code == 404
        assert http.get("/v1/schedules/nope").status_code == 404
        assert http.get("/v1/tools/nope").status_code == 404
        assert http.post("/v1/runs", json={"script": {}}).status_code == 400
        assert http.post("/v1/runs", json={"nope": 1}).status_code == 400
        assert http.get("/v1/runs", params={"limit": 0}).status_code == 400
        assert http.get("/v1/runs/x/events", headers={"Last-Event-ID": "abc"}).status_code in (400, 404)


def test_non_finite_and_huge_numbers_are_400(daemon: Daemon) -> None:
    def post(path: str, body: str) -> httpx.Response:
        return http.post(path, content=body.encode(), headers={"content-type": "application/json"})

    with daemon.client() as http:
        http.post("/v1/scripts", json={"name": "numbers", "code": "return 1"}).raise_for_status()
        schedule = '{"name": "n-%s", "script": "numbers", %s}'
        for path, body, field in [
            ("/v1/runs", '{"script": {"code": "return 1"}, "timeout_s": NaN}', "timeout_s"),
            ("/v1/runs/wait", '{"script": {"code": "return 1"}, "timeout_s": Infinity}', "timeout_s"),
            ("/v1/schedules", schedule % ("a", '"interval_s": NaN'), "interval_s"),
            ("/v1/schedules", schedule % ("b", '"interval_s": 1e300'), "interval_s"),
            (
                "/v1/schedules",
                schedule % ("c", '"interval_s": 60, "catchup_window_s": NaN'),
                "catchup_window_s",
            ),
        ]:
            answer = post(path, body)
            assert answer.status_code == 400, (body, answer.text)
            assert answer.json()["code"] == "VALIDATION" and field in answer.text, answer.text
        assert http.get("/v1/schedules").status_code == 200  # nothing unreadable was stored


def test_results_without_a_json_form(daemon: Daemon) -> None:
    with daemon.client() as http:
        shapes = http.post("/v1/runs/wait", json=run_body("return {f = print, n = 0/0, ok = true}")).json()
        assert shapes["status"] == "succeeded" and shapes["result"] == {
            "f": "<function>",
            "n": None,
            "ok": True,
        }
        binary = http.post("/v1/runs/wait", json=run_body('return "\\255\\254"')).json()
        assert binary["status"] == "failed" and binary["error"]["code"] == "VALIDATION", binary
        assert "UTF-8" in binary["error"]["message"]


def test_tools_over_rest(daemon: Daemon) -> None:
    with daemon.client() as http:
        names = [t["name"] for t in http.get("/v1/tools").json()["items"]]
        assert "calculator" in names
        info = http.get("/v1/tools/calculator").json()
        assert info["schema"]["type"] == "object"
        result = http.post("/v1/tools/calculator/invoke", json={"params": {"input": "2 + 3 * 4"}}).json()
        assert result["success"] is True
        bad = http.post("/v1/tools/calculator/invoke", json={"params": {"nope": 1}}).json()
        assert bad["success"] is False and bad["error"]["code"] == "VALIDATION"


def test_api_keys_401_and_403(daemon: Daemon) -> None:
    env = daemon.cli_env()
    name = f"reader-{time.monotonic_ns()}"
    created = subprocess.run(
        [LLMSPELL, "keys", "create", name, "--scope", "runs:read"], env=env, capture_output=True, text=True
    )
    assert created.returncode == 0, created.stderr
    key = _raw_key(created.stdout)
    try:
        with httpx.Client(base_url=daemon.url, timeout=10) as http:
            denied = wait_for(lambda: (r := http.get("/v1/runs")).status_code == 401 and r, timeout=10)
            assert denied.json()["code"] == "UNAUTHENTICATED"
            assert http.get("/v1/runs", headers={"Authorization": f"Bearer {key}"}).status_code == 200
            assert http.get("/v1/runs", headers={"X-API-Key": key}).status_code == 200
            forbidden = http.post("/v1/runs", json=run_body("return 1"), headers={"X-API-Key": key})
            assert forbidden.status_code == 403 and forbidden.json()["code"] == "PERMISSION_DENIED"
            assert http.get("/v1/runs", headers={"X-API-Key": key + "x"}).status_code == 401
            assert http.get("/health").status_code == 200 and http.get("/metrics").status_code == 200
    finally:
        revoked = subprocess.run([LLMSPELL, "keys", "revoke", name], env=env, capture_output=True, text=True)
        assert revoked.returncode == 0, revoked.stderr
    with httpx.Client(base_url=daemon.url, timeout=10) as http:
        wait_for(lambda: http.get("/v1/runs").status_code == 200, timeout=10)


def _raw_key(output: str) -> str:
    for token in output.split():
        if token.startswith("lsk_"):
            return token
    raise AssertionError(f"no key in output: {output!r}")


def _cli(daemon: Daemon, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LLMSPELL, *args, "--server", daemon.url],
        env=daemon.cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_cli_client_commands(daemon: Daemon, tmp_path_factory: pytest.TempPathFactory) -> None:
    script = tmp_path_factory.mktemp("cli") / "greet.lua"
    name = f"greet{time.monotonic_ns()}"
    script.write_text('for i = 1, 3 do print("line " .. i) end\nreturn "bye"\n')
    pushed = _cli(daemon, "scripts", "push", str(script), "--name", name, "--output", "json")
    assert pushed.returncode == 0, pushed.stderr
    assert json.loads(pushed.stdout)["version"] == 1
    listed = _cli(daemon, "scripts", "list", "--output", "json")
    assert name in [s["name"] for s in json.loads(listed.stdout)]
    assert _cli(daemon, "scripts", "list").returncode == 0

    with daemon.client() as http:
        run_id = http.post("/v1/runs", json={"script": {"name": name}}).json()["id"]
    logs = _cli(daemon, "runs", "logs", run_id, "-f")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout == "line 1\nline 2\nline 3\nbye\n"
    assert "run ended: succeeded" in logs.stderr
    got = json.loads(_cli(daemon, "runs", "get", run_id, "--output", "json").stdout)
    assert got["result"] == "bye"
    runs = json.loads(_cli(daemon, "runs", "list", "--output", "json", "--limit", "5").stdout)
    assert run_id in [r["id"] for r in runs]
    assert run_id[:8] in _cli(daemon, "runs", "list").stdout

    created = _cli(
        daemon,
        "schedules",
        "create",
        f"s-{name}",
        "--script",
        name,
        "--cron",
        "0 3 * * *",
        "--timezone",
        "Europe/Berlin",
        "--output",
        "json",
    )
    assert created.returncode == 0, created.stderr
    schedule_id = json.loads(created.stdout)["id"]
    assert (
        json.loads(_cli(daemon, "schedules", "pause", schedule_id, "--output", "json").stdout)["enabled"]
        is False
    )
    assert (
        json.loads(_cli(daemon, "schedules", "resume", schedule_id, "--output", "json").stdout)["enabled"]
        is True
    )
    assert schedule_id in _cli(daemon, "schedules", "list", "--output", "json").stdout
    assert _cli(daemon, "schedules", "delete", schedule_id).returncode == 0

    missing = _cli(daemon, "runs", "get", "nope")
    assert missing.returncode == 2 and missing.stderr.startswith("llmspell: NOT_FOUND")
    bad_cron = _cli(daemon, "schedules", "create", "x", "--script", name, "--cron", "nope")
    assert bad_cron.returncode == 2 and "VALIDATION" in bad_cron.stderr
    unreachable = subprocess.run(
        [LLMSPELL, "runs", "list", "--server", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert unreachable.returncode == 1 and "cannot reach the daemon" in unreachable.stderr


def test_webhook_receives_the_finished_run(daemon: Daemon) -> None:
    import http.server
    import queue
    import threading

    received: queue.Queue[dict[str, Any]] = queue.Queue()

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.put({"run_id": self.headers["X-Llmspell-Run-Id"], **json.loads(self.rfile.read(length))})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        with daemon.client() as http_client:
            run_id = http_client.post("/v1/runs", json=run_body("return 'hooked'", webhook=url)).json()["id"]
        delivery = received.get(timeout=10)
        assert delivery["run_id"] == run_id and delivery["id"] == run_id
        assert delivery["status"] == "succeeded" and delivery["result"] == "hooked"
    finally:
        server.shutdown()
        server.server_close()


CRON_SCRIPT = """
local made = Tool.execute("cron-scheduler", {operation = "create", name = ARGS.name, script = "noop",
  cron = "0 4 * * *", timezone = "UTC"%s})
local listed = Tool.execute("cron-scheduler", {operation = "list"%s})
local found = false
for _, s in ipairs(listed.result) do if s.name == ARGS.name then found = true end end
local paused = Tool.execute("cron-scheduler", {operation = "pause", id = made.result.id%s})
Tool.execute("cron-scheduler", {operation = "delete", id = made.result.id%s})
return {found = found, enabled = paused.result.enabled}
"""


def test_cron_scheduler_tool_inside_the_daemon(daemon: Daemon) -> None:
    with daemon.client() as http:
        http.post("/v1/scripts", json={"name": "noop", "code": "return 1"})
        name = f"from-script-{time.monotonic_ns()}"
        body = http.post(
            "/v1/runs/wait", json=run_body(CRON_SCRIPT % ("", "", "", ""), args={"name": name})
        ).json()
        assert body["status"] == "succeeded", body
        assert body["result"] == {"found": True, "enabled": False}
        assert name not in [s["name"] for s in http.get("/v1/schedules").json()["items"]]


def test_cron_scheduler_tool_against_a_server(daemon: Daemon) -> None:
    with daemon.client() as http:
        http.post("/v1/scripts", json={"name": "noop", "code": "return 1"})
    server = f', server = "{daemon.url}"'
    done = subprocess.run(
        [
            LLMSPELL,
            "exec",
            CRON_SCRIPT % (server, server, server, server),
            "--output",
            "json",
            "--",
            "--name",
            f"remote-{time.monotonic_ns()}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=daemon.cli_env(),
    )
    assert json.loads(done.stdout)["result"] == {"found": True, "enabled": False}, done.stdout + done.stderr
    alone = subprocess.run(
        [LLMSPELL, "exec", 'return Tool.execute("cron-scheduler", {operation = "list"})'],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in daemon.cli_env().items() if k != "LLMSPELL_SERVER_URL"},
    )
    assert alone.returncode == 2 and "CONFIG_ERROR" in alone.stderr and "server" in alone.stderr
    invalid = subprocess.run(
        [LLMSPELL, "exec", 'return Tool.execute("cron-scheduler", {operation = "explode"})'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert invalid.returncode == 1 and "VALIDATION" in invalid.stderr


def test_runs_of_a_session_are_recorded_and_replayable(daemon: Daemon) -> None:
    with daemon.client() as http:
        session = http.post("/v1/sessions", json={"name": f"s-{time.monotonic_ns()}"})
        assert session.status_code in (200, 201), session.text
        session_id = session.json()["id"]
        code = (
            'State.save("session", "n", 41) local r = Tool.execute("calculator", {input = "1 + 41"}) '
            'print("sum", r.result.value) return State.load("session", "n") + 1'
        )
        body = http.post("/v1/runs/wait", json=run_body(code, session_id=session_id)).json()
        assert body["status"] == "succeeded" and body["result"] == 42, body
    replay = subprocess.run(
        [LLMSPELL, "session", "replay", session_id, "--json"],
        env=daemon.cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert replay.returncode == 0, replay.stderr
    report = json.loads(replay.stdout)
    assert report["identical"] is True and len(report["runs"]) == 1
