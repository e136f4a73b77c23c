"""``llmspell db`` and ``llmspell keys`` through the typer app, on SQLite and Postgres."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from llmspell.cli.app import app
from llmspell.storage import open_store
from typer.testing import CliRunner


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    make: Callable[[], str] = request.getfixturevalue("make_postgres_url")
    return make()


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_db_commands(db_url: str) -> None:
    code, out, _ = _run("db", "current", "--database-url", db_url)
    assert code == 0 and "revision none" in out and "needs 'llmspell db upgrade'" in out
    code, out, _ = _run("db", "upgrade", "--database-url", db_url)
    assert code == 0 and "revision 0004" in out
    code, out, _ = _run("db", "current", "--database-url", db_url)
    assert code == 0 and "up to date" in out
    code, out, _ = _run("db", "downgrade", "base", "--database-url", db_url)
    assert code == 0 and "revision none" in out


def test_keys_need_a_migrated_database(db_url: str) -> None:
    code, _, err = _run("keys", "list", "--database-url", db_url)
    assert code == 1 and "run 'llmspell db upgrade' first" in err and len(err.strip().splitlines()) == 1


def test_keys_create_list_revoke(db_url: str) -> None:
    assert _run("db", "upgrade", "--database-url", db_url)[0] == 0
    code, out, _ = _run(
        "keys", "create", "ci", "--scope", "runs:read", "--scope", "runs:write", "--database-url", db_url
    )
    assert code == 0
    raw_key = out.strip().splitlines()[-1]
    assert raw_key.startswith("lsk_")
    code, out, _ = _run("keys", "create", "default", "--json", "--database-url", db_url)
    created = json.loads(out)
    assert code == 0 and "admin" not in created["scopes"] and created["key"].startswith("lsk_")

    async def verify() -> bool:
        async with open_store(db_url) as store:
            return await store.api_keys.verify(raw_key) is not None

    assert asyncio.run(verify())
    code, out, _ = _run("keys", "list", "--json", "--database-url", db_url)
    listed = json.loads(out)
    assert code == 0 and [k["name"] for k in listed] == ["ci", "default"]
    assert all("key" not in k for k in listed) and raw_key not in out
    code, out, _ = _run("keys", "list", "--database-url", db_url)
    assert code == 0 and "ci" in out and "active" in out
    code, out, _ = _run("keys", "revoke", "ci", "--database-url", db_url)
    assert code == 0 and "Revoked API key 'ci'" in out
    assert not asyncio.run(verify())
    code, _, err = _run("keys", "revoke", "ci", "--database-url", db_url)
    assert code != 0 and "No active API key" in err
    code, _, err = _run("keys", "create", "bad", "--scope", "root", "--database-url", db_url)
    assert code != 0 and "unknown scope 'root'" in err


def test_bad_url_is_one_line() -> None:
    code, _, err = _run("db", "current", "--database-url", "mysql://localhost/x")
    assert code == 2 and "Unsupported database URL scheme 'mysql'" in err
    assert "Traceback" not in err
