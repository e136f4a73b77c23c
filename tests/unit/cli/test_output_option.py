"""``--output text|json`` (``-o``) on every command that prints JSON; ``--json`` as a hidden alias.

In-process through the typer app: database commands on a SQLite file under ``tmp_path``,
daemon commands against a patched ``DaemonClient`` (nothing is listened on or dialled).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from llmspell.cli.app import app
from typer.testing import CliRunner

# Commands that take the shared format option (path, then the ones that also keep --json).
FORMAT_COMMANDS = {
    "agent create",
    "agent get",
    "agent list",
    "agent run",
    "backup create",
    "backup list",
    "config show",
    "events tail",
    "gc",
    "hooks add",
    "hooks list",
    "keys create",
    "keys list",
    "providers",
    "runs cancel",
    "runs get",
    "runs list",
    "runs logs",
    "runs timeline",
    "schedules create",
    "schedules list",
    "schedules pause",
    "schedules resume",
    "schedules trigger",
    "scripts list",
    "scripts push",
    "session list",
    "session replay",
    "session show",
    "state get",
    "state migrate",
    "tool info",
    "tool invoke",
    "tool list",
    "tool search",
    "version",
    "workflow create",
    "workflow list",
    "workflow run",
}
# Commands that printed only JSON before they took the option: JSON stays their default.
JSON_DEFAULT_COMMANDS = {"agent get", "session show", "state get"}
JSON_ALIAS_COMMANDS = {
    "backup create",
    "backup list",
    "gc",
    "keys create",
    "keys list",
    "session list",
    "session replay",
    "state migrate",
}


# Typer ships its own copy of click (typer._click): walk the command tree by duck typing.
def _commands(command: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from _commands(sub, f"{path} {name}".strip())
    else:
        yield path, command


def _option(command: Any, flag: str) -> Any:
    for param in command.params:
        if flag in param.opts:
            return param
    return None


def test_every_format_option_is_the_shared_one() -> None:
    with_output: set[str] = set()
    with_alias: set[str] = set()
    for path, command in _commands(typer.main.get_command(app)):
        output = _option(command, "--output")
        if output is not None and path != "session export":  # there -o is a file path
            with_output.add(path)
            assert output.opts == ["--output", "-o"], path
            assert output.help == "Output format.", path  # the one definition in cli/_options.py
            assert output.default == ("json" if path in JSON_DEFAULT_COMMANDS else "text"), path
        alias = _option(command, "--json")
        if alias is not None:
            with_alias.add(path)
            assert alias.hidden and alias.is_flag, path
    assert with_output == FORMAT_COMMANDS
    assert with_alias == JSON_ALIAS_COMMANDS


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result.stdout


FLAGS = [["--output", "json"], ["-o", "json"], ["--json"]]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from llmspell.core.config import get_settings

    for name in [n for n in os.environ if n.startswith("LLMSPELL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LLMSPELL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    _run("db", "upgrade")
    yield tmp_path
    get_settings.cache_clear()


@pytest.mark.parametrize("flag", FLAGS, ids=lambda f: " ".join(f))
def test_database_commands_print_json(
    data_dir: Path, flag: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    created = json.loads(_run("keys", "create", "ci", *flag))
    assert created["key"].startswith("lsk_")
    assert [k["id"] for k in json.loads(_run("keys", "list", *flag))] == [created["id"]]
    assert json.loads(_run("session", "list", *flag)) == []
    assert json.loads(_run("state", "migrate", *flag))["scanned"] == 0
    assert "sessions" in json.loads(_run("gc", *flag))
    backups = str(data_dir / "backups")
    manifest = json.loads(_run("backup", "create", "--dir", backups, *flag))
    assert [m["id"] for m in json.loads(_run("backup", "list", "--dir", backups, *flag))] == [manifest["id"]]

    class Report:
        identical = True
        runs: list[dict[str, Any]] = []

        def to_dict(self) -> dict[str, Any]:
            return {"identical": True, "runs": []}

    async def replay(*_args: Any, **_kwargs: Any) -> Report:
        return Report()

    monkeypatch.setattr("llmspell.runtime.replay.replay_session", replay)
    assert json.loads(_run("session", "replay", "s1", *flag)) == {"identical": True, "runs": []}


def test_database_commands_default_to_text(data_dir: Path) -> None:
    created = _run("keys", "create", "plain")
    assert created.startswith("Created API key 'plain'")
    assert _run("state", "migrate", "--output", "text").startswith("scanned 0 values")
    assert _run("gc").startswith("removed ")


def _seed(*actions: Any) -> None:
    import asyncio

    from llmspell.cli.db_cmd import resolve_database_url
    from llmspell.cli.state_cmd import with_persistence

    async def seed(p: Any) -> None:
        for action in actions:
            await action(p)

    asyncio.run(with_persistence(resolve_database_url(None), seed))


@pytest.fixture
def stored(data_dir: Path) -> None:
    async def session(p: Any) -> None:
        await p.sessions.create("démo [/x]", tags=["a"], metadata={"k": [1]}, session_id="s1")
        await p.artifacts.put("s1", "notes.txt", b"hello", media_type="text/plain")

    async def state(p: Any) -> None:
        await p.state.set("user:1", "prefs", {"theme": "dark", "ü": "[bold]x"})

    _seed(session, state)


def _json_document(value: Any) -> str:
    # The exact bytes session show and state get printed before they took --output.
    return json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n"


@pytest.mark.parametrize(
    "flag", [[], ["--output", "json"], ["-o", "json"]], ids=lambda f: " ".join(f) or "default"
)
def test_session_show_and_state_get_keep_their_json(stored: None, flag: list[str]) -> None:
    shown = _run("session", "show", "s1", *flag)
    session = json.loads(shown)
    assert session["name"] == "démo [/x]" and [a["name"] for a in session["artifacts"]] == ["notes.txt"]
    assert shown == _json_document(session)
    entry = _run("state", "get", "user:1", "prefs", *flag)
    assert json.loads(entry)["value"] == {"theme": "dark", "ü": "[bold]x"}
    assert entry == _json_document(json.loads(entry))


def test_session_show_and_state_get_print_tables(stored: None) -> None:
    shown = _run("session", "show", "s1", "-o", "text")
    # Stored brackets are printed as they are, not read as rich markup.
    assert "session s1" in shown and "démo [/x]" in shown and "active" in shown
    assert "artifacts" in shown and "notes.txt" in shown and "text/plain" in shown
    entry = _run("state", "get", "user:1", "prefs", "--output", "text")
    assert "user:1/prefs" in entry and '"ü": "[bold]x"' in entry and "schema_version" in entry
    for text in (shown, entry):
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)


def test_session_show_says_when_there_are_no_artifacts(data_dir: Path) -> None:
    async def session(p: Any) -> None:
        await p.sessions.create("empty", session_id="s2")

    _seed(session)
    assert _run("session", "show", "s2", "-o", "text").rstrip().endswith("no artifacts")


@pytest.mark.parametrize(
    "args", [["session", "show", "nope"], ["state", "get", "user:1", "nope"]], ids=" ".join
)
def test_a_missing_record_is_one_line_in_either_format(data_dir: Path, args: list[str]) -> None:
    for output in ("text", "json"):
        result = CliRunner().invoke(app, [*args, "-o", output])
        assert result.exit_code in (1, 2) and result.stdout == ""
        assert result.stderr.startswith("llmspell: NOT_FOUND: ") and result.stderr.count("\n") == 1


def test_session_export_refuses_a_format_as_its_file(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["session", "export", "s1", "-o", "json"])
    assert result.exit_code == 2 and "always prints JSON" in result.stderr
    assert not (data_dir / "json").exists()


_ROW = {"id": "1", "name": "n", "status": "succeeded", "success": True, "output": {"x": 1}}


@pytest.fixture
def daemon(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[str, str]]:
    from llmspell.cli import events_cmd
    from llmspell.cli.client import DaemonClient

    calls: list[tuple[str, str]] = []

    def request(self: DaemonClient, method: str, path: str, **kwargs: Any) -> Any:
        calls.append((method, path))
        return {"items": [_ROW], **_ROW}

    def events(self: DaemonClient, run_id: str, after: int = 0, follow: bool = True) -> Iterator[Any]:
        yield {"id": 1, "event": "stdout", "data": {"text": "hi"}}
        yield {"id": 2, "event": "end", "data": {"status": "succeeded"}}

    def sse(server: str | None, api_key: str | None, pattern: str) -> Iterator[Any]:
        yield {"id": "e1", "type": "tool.completed", "data": {}}

    monkeypatch.setattr(DaemonClient, "request", request)
    monkeypatch.setattr(DaemonClient, "events", events)
    monkeypatch.setattr(events_cmd, "sse_events", sse)
    monkeypatch.delenv("LLMSPELL_SERVER_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.lua").write_text("return 1\n")
    (tmp_path / "wf.json").write_text("{}")
    return calls


DAEMON_COMMANDS = [
    ["runs", "list"],
    ["runs", "get", "1"],
    ["runs", "cancel", "1"],
    ["runs", "timeline", "1"],
    ["scripts", "push", "s.lua"],
    ["scripts", "list"],
    ["schedules", "create", "s", "--script", "s", "--cron", "* * * * *"],
    ["schedules", "list"],
    ["schedules", "pause", "1"],
    ["schedules", "resume", "1"],
    ["schedules", "trigger", "1"],
    ["agent", "list"],
    ["agent", "create", "a", "--model", "openai/m"],
    ["agent", "run", "a", "hello"],
    ["workflow", "list"],
    ["workflow", "create", "w", "wf.json"],
    ["workflow", "run", "w"],
    ["hooks", "add", "logging"],
]


@pytest.mark.parametrize("args", DAEMON_COMMANDS, ids=" ".join)
@pytest.mark.parametrize("flag", FLAGS[:2], ids=" ".join)
def test_daemon_commands_print_json(daemon: list[tuple[str, str]], args: list[str], flag: list[str]) -> None:
    value = json.loads(_run(*args, *flag))
    assert value == [_ROW] or value["id"] == "1"
    assert daemon


@pytest.mark.parametrize("args", [["runs", "logs", "1"], ["events", "tail", "-n", "1"]], ids=" ".join)
def test_streaming_commands_print_json_lines(daemon: list[tuple[str, str]], args: list[str]) -> None:
    lines = _run(*args, "-o", "json").splitlines()
    assert lines and all("id" in json.loads(line) for line in lines)


@pytest.mark.parametrize(
    "flag", [[], ["--output", "json"], ["-o", "json"]], ids=lambda f: " ".join(f) or "default"
)
def test_agent_get_keeps_its_json(daemon: list[tuple[str, str]], flag: list[str]) -> None:
    # The exact bytes agent get printed before it took --output.
    answer = {"items": [_ROW], **_ROW}  # what the patched DaemonClient.request returns
    assert _run("agent", "get", "a", *flag) == json.dumps(answer, indent=2) + "\n"
    assert daemon == [("GET", "/v1/agents/a")]


def test_agent_get_prints_a_table(daemon: list[tuple[str, str]]) -> None:
    text = _run("agent", "get", "a", "-o", "text")
    assert "agent a" in text and "succeeded" in text and '"x": 1' in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_text_is_still_the_default_for_daemon_commands(daemon: list[tuple[str, str]]) -> None:
    assert "succeeded" in _run("runs", "get", "1")
    with pytest.raises(json.JSONDecodeError):
        json.loads(_run("runs", "list"))


@pytest.mark.parametrize(
    "args",
    [
        ["version"],
        ["config", "show"],
        ["providers"],
        ["tool", "list"],
        ["tool", "info", "calculator"],
        ["tool", "search", "arithmetic"],
        ["tool", "invoke", "calculator", "-p", '{"input": "1+2"}'],
        ["hooks", "list"],
    ],
    ids=" ".join,
)
def test_local_commands_print_json(args: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [n for n in os.environ if n.startswith("LLMSPELL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LLMSPELL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    assert json.loads(_run(*args, "-o", "json"))


def test_an_unknown_format_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["version", "--output", "yaml"])
    assert result.exit_code == 2 and "yaml" in result.stderr


def test_list_tables_print_stored_brackets_as_they_are(stored: None) -> None:
    # A stored "[/x]" read as rich markup raised MarkupError (a traceback) in these tables.
    assert "démo [/x]" in _run("session", "list")
    _run("keys", "create", "[/x]")
    assert "[/x]" in _run("keys", "list")


def test_daemon_tables_print_stored_brackets_as_they_are(capsys: pytest.CaptureFixture[str]) -> None:
    from llmspell.cli.daemon_cmds import _emit

    _emit([{"id": "r1", "script_name": "[/x] [red]job"}], "text", ["id", "script_name"])
    assert "[/x] [red]job" in capsys.readouterr().out
