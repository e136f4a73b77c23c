"""End-to-end: the daemon-client commands (runs, scripts, schedules) as a user at a terminal
meets them: exit codes that say how a followed run ended, one clear line for an unreachable
or mistyped server, whole ids in tables, schedules by name, hints that name the fix."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes.daemon import LLMSPELL, Daemon, start_daemon

ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "PATH": "/usr/bin:/bin", "COLUMNS": "80"}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    running = start_daemon(Path(tmp_path_factory.mktemp("cli-client")))
    yield running
    assert running.stop() == 0, running.log()


def cli(
    daemon: Daemon | None, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    server = ["--server", daemon.url] if daemon is not None else []
    return subprocess.run(
        [LLMSPELL, *args, *server], capture_output=True, text=True, timeout=60, env={**ENV, **(env or {})}
    )


def queue_run(daemon: Daemon, code: str, **extra: Any) -> str:
    with daemon.client() as http:
        created = http.post("/v1/runs", json={"script": {"code": code, "engine": "lua"}, **extra})
        assert created.status_code == 202, created.text
        return str(created.json()["id"])


def one_error_line(done: subprocess.CompletedProcess[str], code: str) -> str:
    """The single stderr line of a failed command, checked to be ``llmspell: CODE: ...``."""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"llmspell: {code}: "), done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    return lines[0]


@pytest.mark.parametrize(
    ("code", "status", "exit_code"),
    [
        ('print("hi") return 1', "succeeded", 0),
        ('print("hi") error("boom")', "failed", 1),
        ('print("hi") while true do end', "timeout", 124),
    ],
)
def test_runs_logs_follow_exits_with_the_run_status(
    daemon: Daemon, code: str, status: str, exit_code: int
) -> None:
    run_id = queue_run(daemon, code, timeout_s=1)
    followed = cli(daemon, "runs", "logs", run_id, "-f")
    assert followed.returncode == exit_code, followed.stderr
    assert followed.stdout.startswith("hi\n") and f"run ended: {status}" in followed.stderr
    as_json = cli(daemon, "runs", "logs", run_id, "-f", "-o", "json")
    assert as_json.returncode == exit_code, as_json.stderr
    events = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert events[-1] == {"id": events[-1]["id"], "event": "end", "data": {"status": status}}
    # Without -f it only prints what the run wrote: printing succeeded.
    assert cli(daemon, "runs", "logs", run_id).returncode == 0


def test_runs_logs_follow_of_a_run_cancelled_meanwhile_exits_130(daemon: Daemon) -> None:
    run_id = queue_run(daemon, 'print("started") while true do end', timeout_s=60)
    follow = subprocess.Popen(
        [LLMSPELL, "runs", "logs", run_id, "-f", "--server", daemon.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    assert follow.stdout is not None and follow.stdout.readline() == "started\n"
    assert cli(daemon, "runs", "cancel", run_id).returncode == 0
    _, err = follow.communicate(timeout=30)
    assert follow.returncode == 130, err
    assert "run ended: cancelled" in err


def test_sigterm_stops_a_follow_cleanly_with_130(daemon: Daemon) -> None:
    run_id = queue_run(daemon, 'print("started") while true do end', timeout_s=60)
    try:
        follow = subprocess.Popen(
            [LLMSPELL, "runs", "logs", run_id, "-f", "--server", daemon.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        assert follow.stdout is not None and follow.stdout.readline() == "started\n"
        follow.send_signal(signal.SIGTERM)
        _, err = follow.communicate(timeout=30)
        assert follow.returncode == 130 and "Traceback" not in err, err
    finally:
        with daemon.client() as http:
            http.post(f"/v1/runs/{run_id}/cancel")


def test_a_daemon_that_does_not_answer_is_unavailable_not_internal() -> None:
    for args in (["runs", "list"], ["runs", "logs", "abc", "-f"], ["scripts", "list"], ["events", "tail"]):
        done = cli(None, *args, "--server", "http://127.0.0.1:9")
        assert done.returncode == 1, (args, done.stderr)
        line = one_error_line(done, "UNAVAILABLE")
        assert "cannot reach the daemon at http://127.0.0.1:9" in line or "cannot follow events" in line


@pytest.mark.parametrize("server", ["127.0.0.1:8080", "ftp://127.0.0.1", "localhost"])
def test_a_server_that_is_not_an_http_url_is_a_usage_error(server: str) -> None:
    for args in (["runs", "list"], ["runs", "logs", "abc", "-f"], ["events", "tail"]):
        done = cli(None, *args, "--server", server)
        assert done.returncode == 2, (args, done.stderr)
        assert f"--server {server!r} is not a valid http:// or https:// URL" in one_error_line(
            done, "CONFIG_ERROR"
        )


def test_tables_print_ids_whole_on_an_80_column_terminal(daemon: Daemon, tmp_path: Path) -> None:
    run_id = queue_run(daemon, 'error("boom")')
    assert cli(daemon, "runs", "logs", run_id, "-f").returncode == 1
    listed = cli(daemon, "runs", "list", "--limit", "5")
    assert listed.returncode == 0 and run_id in listed.stdout, listed.stdout
    got = cli(daemon, "runs", "get", run_id)
    assert run_id in got.stdout and "SCRIPT_ERROR: boom" in got.stdout, got.stdout
    script = tmp_path / "ids.lua"
    script.write_text("return 1\n")
    assert cli(daemon, "scripts", "push", str(script)).returncode == 0
    created = cli(
        daemon, "schedules", "create", "ids-daily", "--script", "ids", "--cron", "0 3 * * *", "-o", "json"
    )
    schedule_id = json.loads(created.stdout)["id"]
    try:
        assert schedule_id in cli(daemon, "schedules", "list").stdout
        assert schedule_id in cli(daemon, "schedules", "pause", schedule_id).stdout
    finally:
        assert cli(daemon, "schedules", "delete", schedule_id).returncode == 0


def test_schedules_actions_take_the_name_too(daemon: Daemon, tmp_path: Path) -> None:
    script = tmp_path / "named.lua"
    script.write_text("return 1\n")
    assert cli(daemon, "scripts", "push", str(script)).returncode == 0
    created = cli(
        daemon, "schedules", "create", "nightly", "--script", "named", "--cron", "0 3 * * *", "-o", "json"
    )
    assert created.returncode == 0, created.stderr
    schedule_id = json.loads(created.stdout)["id"]
    paused = cli(daemon, "schedules", "pause", "nightly", "-o", "json")
    assert paused.returncode == 0, paused.stderr
    assert json.loads(paused.stdout)["id"] == schedule_id and json.loads(paused.stdout)["enabled"] is False
    assert json.loads(cli(daemon, "schedules", "resume", "nightly", "-o", "json").stdout)["enabled"] is True
    triggered = cli(daemon, "schedules", "trigger", "nightly", "-o", "json")
    assert triggered.returncode == 0 and json.loads(triggered.stdout)["schedule_id"] == schedule_id
    assert cli(daemon, "schedules", "delete", "nightly").returncode == 0
    with daemon.client() as http:
        assert http.get(f"/v1/schedules/{schedule_id}").status_code == 404
    missing = cli(daemon, "schedules", "pause", "nightly")
    assert missing.returncode == 2
    assert "No schedule with id or name 'nightly'" in one_error_line(missing, "NOT_FOUND")


def test_scripts_push_of_code_that_does_not_compile_names_the_line(daemon: Daemon, tmp_path: Path) -> None:
    script = tmp_path / "broken.lua"
    script.write_text("local x = \n\n= 1\n")
    pushed = cli(daemon, "scripts", "push", str(script))
    assert pushed.returncode == 2
    assert one_error_line(pushed, "VALIDATION").startswith("llmspell: VALIDATION: line 3: ")


def test_runs_list_limit_zero_is_refused_not_ignored(daemon: Daemon) -> None:
    done = cli(daemon, "runs", "list", "--limit", "0")
    assert done.returncode == 2
    assert "limit" in one_error_line(done, "VALIDATION")


def test_a_missing_or_wrong_key_says_how_to_pass_one(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path)
    try:
        created = subprocess.run(
            [LLMSPELL, "keys", "create", "reader", "--scope", "runs:read", "-o", "json"],
            env={**daemon.cli_env(), **ENV},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert created.returncode == 0, created.stderr
        key = json.loads(created.stdout)["key"]
        deadline = time.monotonic() + 10
        while httpx.get(f"{daemon.url}/v1/runs", timeout=5).status_code != 401:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for args in (["runs", "list"], ["runs", "list", "--api-key", "wrong"]):
            denied = cli(daemon, *args)
            assert denied.returncode == 2
            assert one_error_line(denied, "UNAUTHENTICATED").endswith(
                "; pass --api-key or set LLMSPELL_SERVER_KEY"
            )
        assert cli(daemon, "runs", "list", env={"LLMSPELL_SERVER_KEY": key}).returncode == 0
        lacking = cli(daemon, "runs", "cancel", "abc", "--api-key", key)
        assert lacking.returncode == 2 and "runs:write" in one_error_line(lacking, "PERMISSION_DENIED")
    finally:
        assert daemon.stop() == 0, daemon.log()


def test_scripts_push_of_a_file_that_is_not_utf8_is_one_line(daemon: Daemon, tmp_path: Path) -> None:
    script = tmp_path / "latin1.lua"
    script.write_bytes(b'return "caf\xe9"\n')
    pushed = cli(daemon, "scripts", "push", str(script))
    assert pushed.returncode == 2
    assert f"cannot read the script {script}" in one_error_line(pushed, "VALIDATION")


def test_names_with_spaces_and_query_characters_name_that_item(daemon: Daemon, tmp_path: Path) -> None:
    missing = cli(daemon, "runs", "get", "a b?c#d")
    assert missing.returncode == 2 and "No run named 'a b?c#d'" in one_error_line(missing, "NOT_FOUND")
    script = tmp_path / "odd.lua"
    script.write_text("return 7\n")
    name = "odd name?v=1"
    assert cli(daemon, "scripts", "push", str(script), "--name", name).returncode == 0
    got = cli(daemon, "scripts", "get", name)
    assert (got.returncode, got.stdout) == (0, "return 7\n"), got.stderr
    assert cli(daemon, "scripts", "delete", name).returncode == 0
    with daemon.client() as http:
        assert name not in [s["name"] for s in http.get("/v1/scripts").json()["items"]]


def test_events_tail_refuses_a_negative_count(daemon: Daemon) -> None:
    done = cli(daemon, "events", "tail", "--count", "-1")
    assert done.returncode == 2 and "Traceback" not in done.stderr and "--count" in done.stderr
