"""``llmspell hooks``, ``events tail`` and ``runs timeline`` against a real daemon."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakes.daemon import Daemon, start_daemon

LLMSPELL = str(Path(sys.executable).with_name("llmspell"))


def cli(daemon: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    env["HOME"] = str(daemon.data_dir)
    return subprocess.run(
        [LLMSPELL, *args, "--server", daemon.url], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.fixture
def daemon(tmp_path: Path) -> Daemon:
    configured = [{"name": "metrics", "points": ["BeforeToolExecution"]}]
    started = start_daemon(tmp_path, env={"LLMSPELL_HOOKS": json.dumps(configured)})
    yield started  # type: ignore[misc]
    assert started.stop() == 0, started.log()


def test_hooks_list_add_remove(daemon: Daemon) -> None:
    listed = cli(daemon, "hooks", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    body = json.loads(listed.stdout)
    assert "BeforeToolExecution" in body["points"]["tool"]
    configured = [h for h in body["items"] if h["source"] == "config"]
    assert [(h["name"], h["point"]) for h in configured] == [("metrics", "BeforeToolExecution")]
    assert configured[0]["breaker"]["state"] == "closed"

    added = cli(
        daemon, "hooks", "add", "security", "-p", "BeforeToolExecution", "--option", 'deny_tools=["calc*"]'
    )
    assert added.returncode == 0, added.stderr
    hook_id = added.stdout.split()[0]
    with daemon.client() as http:
        run = http.post(
            "/v1/runs/wait", json={"script": {"code": 'return Tool.execute("calculator", {input="1+1"})'}}
        )
        assert run.json()["status"] == "failed" and run.json()["error"]["code"] == "SANDBOX_VIOLATION"
    text = cli(daemon, "hooks", "list")
    assert text.returncode == 0 and f"{hook_id} " in text.stdout and "breaker closed calls 1" in text.stdout
    assert cli(daemon, "hooks", "remove", hook_id).returncode == 0
    again = cli(daemon, "hooks", "remove", hook_id)
    assert again.returncode == 2 and again.stderr.startswith("llmspell: NOT_FOUND:")
    with daemon.client() as http:
        run = http.post(
            "/v1/runs/wait", json={"script": {"code": 'return Tool.execute("calculator", {input="1+1"})'}}
        )
        assert run.json()["status"] == "succeeded", run.json()
    bad = cli(daemon, "hooks", "add", "nope")
    assert bad.returncode == 2 and "unknown built-in hook 'nope'" in bad.stderr


def test_events_tail_follows_published_events(daemon: Daemon) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    tail = subprocess.Popen(
        [LLMSPELL, "events", "tail", "deploy.*", "-n", "2", "-o", "json", "--server", daemon.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        # Publish until the tail (which subscribes asynchronously) has seen two matching events.
        deadline = time.monotonic() + 20
        n = 0
        while tail.poll() is None and time.monotonic() < deadline:
            n += 1
            assert cli(daemon, "events", "publish", "other.thing", "1").returncode == 0
            assert cli(daemon, "events", "publish", "deploy.done", json.dumps({"n": n})).returncode == 0
        out, err = tail.communicate(timeout=20)
    finally:
        if tail.poll() is None:
            tail.kill()
    assert tail.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["type"] for e in events] == ["deploy.done", "deploy.done"]
    assert events[0]["data"]["n"] < events[1]["data"]["n"] and events[0]["source"] == "rest"


def test_runs_timeline_shows_tool_and_hook_events(daemon: Daemon) -> None:
    script = """
    Hook.register("BeforeToolExecution", function(ctx)
      return {action="modified", data={tool=ctx.data.tool, params={input="6*7"}}}
    end)
    return Tool.execute("calculator", {input="1+1"}).result.value
    """
    with daemon.client() as http:
        run = http.post("/v1/runs/wait", json={"script": {"code": script}}).json()
    assert run["status"] == "succeeded" and run["result"] == 42, run
    done = cli(daemon, "runs", "timeline", run["id"])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"run {run['id']}  status succeeded")
    kinds = [line.split()[3] for line in lines[1:]]
    assert "hook" in kinds and "end" in kinds
    hook_line = next(line for line in lines if " hook " in line)
    assert "at BeforeToolExecution on tool:calculator -> modified" in hook_line
    as_json = json.loads(cli(daemon, "runs", "timeline", run["id"], "-o", "json").stdout)
    offsets = [item["offset_ms"] for item in as_json["items"]]
    assert offsets[0] == 0.0 and all(o >= -1000 for o in offsets)
    missing = cli(daemon, "runs", "timeline", "nope")
    assert missing.returncode == 2 and "NOT_FOUND" in missing.stderr
