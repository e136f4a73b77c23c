"""End-to-end CLI: state, session, backup, gc and replay commands as subprocesses (SQLite)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from fakes.daemon import LLMSPELL
from fakes.llm_server import FakeLLMServer


def cli(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([LLMSPELL, *args], env=env, capture_output=True, text=True, timeout=120)
    if ok:
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    env["LLMSPELL_DATA_DIR"] = str(tmp_path / "data")
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    return env


def test_state_session_backup_restore_cycle(tmp_path: Path) -> None:
    env = _env(tmp_path)
    cli(env, "db", "upgrade")
    cli(env, "state", "set", "user:1", "prefs", '{"theme": "dark"}')
    conflict = cli(env, "state", "set", "user:1", "prefs", "1", "--expected-version", "7", ok=False)
    assert conflict.returncode == 1 and "CONFLICT" in conflict.stderr
    assert json.loads(cli(env, "state", "get", "user:1", "prefs").stdout)["value"] == {"theme": "dark"}
    assert cli(env, "state", "list", "user:1").stdout.split() == ["prefs"]
    assert "scanned 1 values, would upgrade 0" in cli(env, "state", "migrate", "--dry-run").stdout

    script = tmp_path / "make.lua"
    script.write_text(
        'local id = Session.create{name = "cli", tags = {"e2e"}}\n'
        'Artifact.store(id, "text", "a.txt", string.rep("x", 400000))\n'
        'Artifact.store(id, "text", "b.txt", "small")\n'
        "return id\n"
    )
    made = cli(env, "run", str(script), "--output", "json")
    session_id = json.loads(made.stdout)["result"]
    listed = json.loads(cli(env, "session", "list", "--json", "--tag", "e2e").stdout)
    assert [s["id"] for s in listed] == [session_id]
    shown = json.loads(cli(env, "session", "show", session_id).stdout)
    assert [a["name"] for a in shown["artifacts"]] == ["a.txt", "b.txt"]

    created = json.loads(cli(env, "backup", "create", "--json").stdout)
    assert created["counts"]["artifacts"] == 2 and created["counts"]["state_entries"] == 1
    assert created["id"] in cli(env, "backup", "list").stdout
    assert "ok" in cli(env, "backup", "verify", created["path"]).stdout
    cli(env, "state", "set", "global", "later", "1")
    incremental = json.loads(cli(env, "backup", "create", "--incremental", "--json").stdout)
    assert incremental["kind"] == "incremental" and incremental["counts"]["state_entries"] == 1

    # Wipe everything but the backups, then restore both into a fresh database.
    backups = tmp_path / "data" / "backups"
    kept = tmp_path / "kept"
    shutil.copytree(backups, kept)
    shutil.rmtree(tmp_path / "data")
    cli(env, "db", "upgrade")
    assert cli(env, "state", "get", "user:1", "prefs", ok=False).returncode == 1
    for name in sorted(p.name for p in kept.glob("*.tar.gz")):
        cli(env, "backup", "restore", str(kept / name))
    assert json.loads(cli(env, "state", "get", "user:1", "prefs").stdout)["value"] == {"theme": "dark"}
    assert json.loads(cli(env, "state", "get", "global", "later").stdout)["value"] == 1
    exported = json.loads(cli(env, "session", "export", session_id).stdout)
    contents = {a["name"]: a["content_base64"] for a in exported["artifacts"]}
    import base64

    assert base64.b64decode(contents["a.txt"]) == b"x" * 400000
    assert base64.b64decode(contents["b.txt"]) == b"small"

    assert "completed" in cli(env, "session", "complete", session_id).stdout
    assert json.loads(cli(env, "gc", "--json", "--sessions-days", "0").stdout)["sessions"] == 1
    assert cli(env, "session", "show", session_id, ok=False).returncode != 0
    assert not list((tmp_path / "data" / "blobs").glob("*/*"))  # unreferenced content is freed


def test_session_replay_command_with_the_llm_server_stopped(tmp_path: Path) -> None:
    env = _env(tmp_path)
    cli(env, "db", "upgrade")
    server = FakeLLMServer().start()
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'llmspell.db'}"
    try:
        session_id = asyncio.run(_record(url, tmp_path, server.base_url))
    finally:
        server.stop()
    env.update(
        {
            "LLMSPELL_PROVIDERS__FAKE__TYPE": "openai",
            "LLMSPELL_PROVIDERS__FAKE__BASE_URL": server.base_url,
            "LLMSPELL_PROVIDERS__FAKE__API_KEY": "sk",
        }
    )
    report = json.loads(cli(env, "session", "replay", session_id, "--json").stdout)
    assert report["identical"] and report["runs"][0]["calls"] == 3


async def _record(url: str, tmp_path: Path, base_url: str) -> Any:
    from llmspell.core.config import ProviderConfig, load_settings
    from llmspell.runtime.replay import record_run
    from llmspell.storage import open_store

    settings = load_settings(
        database_url=url,
        data_dir=str(tmp_path / "data"),
        providers={"fake": ProviderConfig(type="openai", base_url=base_url, api_key="sk")},
    )
    code = 'local a = Agent.create{model = "fake/fake-model", tools = {"calculator"}} return a:execute("calc: 1+1").text'
    async with open_store(url) as store:
        session = await store.sessions.create(name="replayed")
        outcome = await record_run(store, session.id, code, settings_loader=lambda: settings)
        assert outcome.error is None, outcome.error
        return session.id
