"""database-connector on a real SQLite file and the machine's PostgreSQL database ``test``."""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from llmspell.core.context import ExecutionContext, SandboxPolicy
from llmspell.core.errors import ConfigError, SandboxViolation, Timeout, ToolError, ValidationError
from llmspell.tools.builtin.communication_db import DatabaseConnectorTool, is_read_only
from llmspell.tools.registry import ToolRegistry

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = (tmp_path / "root").resolve()
    path.mkdir()
    with sqlite3.connect(path / "app.db") as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, score REAL, avatar BLOB)")
        conn.executemany(
            "INSERT INTO users (name, score, avatar) VALUES (?, ?, ?)",
            [(f"user{i}", i * 1.5, b"\x00\x01" if i == 0 else None) for i in range(50)],
        )
    return path


@pytest.fixture
def ctx(root: Path) -> ExecutionContext:
    return ExecutionContext(policy=SandboxPolicy(file_roots=(str(root),), network_allow=("127.0.0.1",)))


@pytest.fixture
def registry() -> ToolRegistry:
    reg = ToolRegistry()
    reg.register(DatabaseConnectorTool())
    return reg


@pytest.fixture
def writes_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSPELL_DATABASE_CONNECTOR_ALLOW_WRITE", "1")


async def query(registry: ToolRegistry, ctx: ExecutionContext, **params: Any) -> dict[str, Any]:
    envelope = await registry.invoke("database-connector", params, ctx)
    assert envelope["success"] is True
    result: dict[str, Any] = envelope["result"]
    return result


def test_statement_check() -> None:
    assert is_read_only("SELECT 1")
    assert is_read_only("  -- comment\n with x as (select 1) select * from x;")
    assert is_read_only("SELECT ';DROP TABLE users' AS s")
    assert is_read_only("PRAGMA table_info(users)")
    assert not is_read_only("PRAGMA journal_mode = DELETE")
    assert not is_read_only("SELECT 1; DROP TABLE users")
    assert not is_read_only("/* SELECT */ DELETE FROM users")
    assert not is_read_only("INSERT INTO users VALUES (1)")
    assert not is_read_only("")


async def test_sqlite_select_with_parameters_and_row_cap(
    registry: ToolRegistry, ctx: ExecutionContext, root: Path
) -> None:
    result = await query(
        registry,
        ctx,
        url="sqlite:///app.db",
        query="SELECT id, name, score, avatar FROM users WHERE score >= :min ORDER BY id",
        parameters={"min": 0},
        max_rows=3,
    )
    assert result["columns"] == ["id", "name", "score", "avatar"]
    assert result["rows"][0] == {"id": 1, "name": "user0", "score": 0.0, "avatar": "AAE="}
    assert result["row_count"] == 3 and result["truncated"] is True
    full = await query(
        registry, ctx, url=f"sqlite:///{root / 'app.db'}", query="SELECT count(*) AS n FROM users"
    )
    assert full["rows"] == [{"n": 50}] and full["truncated"] is False


async def test_sqlite_is_read_only_by_default(
    registry: ToolRegistry, ctx: ExecutionContext, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for sql in (
        "DELETE FROM users",
        "UPDATE users SET name = 'x'",
        "DROP TABLE users",
        "PRAGMA user_version = 3",
    ):
        with pytest.raises(SandboxViolation, match="read-only"):
            await registry.invoke("database-connector", {"url": "sqlite:///app.db", "query": sql}, ctx)
    # allow_write alone is not enough: configuration must enable writes too.
    with pytest.raises(SandboxViolation, match="LLMSPELL_DATABASE_CONNECTOR_ALLOW_WRITE"):
        await registry.invoke(
            "database-connector",
            {"url": "sqlite:///app.db", "query": "DELETE FROM users", "allow_write": True},
            ctx,
        )
    # And configuration alone is not enough either.
    monkeypatch.setenv("LLMSPELL_DATABASE_CONNECTOR_ALLOW_WRITE", "1")
    with pytest.raises(SandboxViolation):
        await registry.invoke(
            "database-connector", {"url": "sqlite:///app.db", "query": "DELETE FROM users"}, ctx
        )
    with sqlite3.connect(root / "app.db") as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (50,)


async def test_sqlite_engine_refuses_writes_the_check_missed(
    registry: ToolRegistry, ctx: ExecutionContext, root: Path
) -> None:
    # A statement that starts like a read but writes: the engine's read-only mode stops it.
    sql = "WITH x AS (SELECT 1) INSERT INTO users (name) SELECT 'sneaky' FROM x"
    with pytest.raises(SandboxViolation):
        await registry.invoke("database-connector", {"url": "sqlite:///app.db", "query": sql}, ctx)
    with sqlite3.connect(root / "app.db") as conn:
        assert conn.execute("SELECT count(*) FROM users WHERE name = 'sneaky'").fetchone() == (0,)


@pytest.mark.usefixtures("writes_enabled")
async def test_sqlite_writes_when_enabled_twice(
    registry: ToolRegistry, ctx: ExecutionContext, root: Path
) -> None:
    result = await query(
        registry,
        ctx,
        url="sqlite:///app.db",
        query="UPDATE users SET name = :name WHERE id <= 2",
        parameters={"name": "renamed"},
        allow_write=True,
    )
    assert result["rows_affected"] == 2 and result["columns"] == []
    created = await query(
        registry, ctx, url="sqlite:///new.db", query="CREATE TABLE t (x INT)", allow_write=True
    )
    assert created["rows_affected"] is not None and (root / "new.db").exists()
    with sqlite3.connect(root / "app.db") as conn:
        assert conn.execute("SELECT count(*) FROM users WHERE name = 'renamed'").fetchone() == (2,)


async def test_sqlite_sandbox_and_errors(
    registry: ToolRegistry, ctx: ExecutionContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with sqlite3.connect(tmp_path / "outside.db") as conn:
        conn.execute("CREATE TABLE s (x)")
    with pytest.raises(SandboxViolation):
        await registry.invoke(
            "database-connector", {"url": f"sqlite:///{tmp_path / 'outside.db'}", "query": "SELECT 1"}, ctx
        )
    with pytest.raises(SandboxViolation):
        await registry.invoke(
            "database-connector", {"url": "sqlite:///../outside.db", "query": "SELECT 1"}, ctx
        )
    with pytest.raises(ToolError, match="no such table"):
        await registry.invoke(
            "database-connector", {"url": "sqlite:///app.db", "query": "SELECT * FROM nope"}, ctx
        )
    with pytest.raises(ValidationError, match="single"):
        await registry.invoke(
            "database-connector", {"url": "sqlite:///app.db", "query": "SELECT 1; SELECT 2"}, ctx
        )
    with pytest.raises(ValidationError, match="unsupported"):
        await registry.invoke("database-connector", {"url": "mysql://h/db", "query": "SELECT 1"}, ctx)
    with pytest.raises(ValidationError, match="max_rows"):
        await registry.invoke(
            "database-connector", {"url": "sqlite://", "query": "SELECT 1", "max_rows": 0}, ctx
        )
    monkeypatch.delenv("LLMSPELL_DATABASE_CONNECTOR_URL", raising=False)
    with pytest.raises(ConfigError, match="LLMSPELL_DATABASE_CONNECTOR_URL"):
        await registry.invoke("database-connector", {"query": "SELECT 1"}, ctx)
    monkeypatch.setenv("LLMSPELL_DATABASE_CONNECTOR_URL", "sqlite://")
    assert (await query(registry, ctx, query="SELECT 2 AS two"))["rows"] == [{"two": 2}]


# ----------------------------------------------------------------- PostgreSQL


@pytest.fixture
async def pg_table(
    registry: ToolRegistry, ctx: ExecutionContext, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[str]:
    name = f"llmspell_dbtool_{secrets.token_hex(4)}"
    monkeypatch.setenv("LLMSPELL_DATABASE_CONNECTOR_ALLOW_WRITE", "1")
    await query(
        registry,
        ctx,
        url=PG_URL,
        query=f"CREATE TABLE {name} (id serial PRIMARY KEY, label text)",
        allow_write=True,
    )
    await query(
        registry,
        ctx,
        url=PG_URL,
        query=f"INSERT INTO {name} (label) VALUES ('a'), ('b'), ('c')",
        allow_write=True,
    )
    monkeypatch.delenv("LLMSPELL_DATABASE_CONNECTOR_ALLOW_WRITE")
    yield name
    monkeypatch.setenv("LLMSPELL_DATABASE_CONNECTOR_ALLOW_WRITE", "1")
    await query(registry, ctx, url=PG_URL, query=f"DROP TABLE {name}", allow_write=True)


@pytest.mark.postgres
async def test_postgres_read_types_and_cap(
    registry: ToolRegistry, ctx: ExecutionContext, pg_table: str
) -> None:
    rows = await query(
        registry, ctx, url=PG_URL, query=f"SELECT id, label FROM {pg_table} ORDER BY id", max_rows=2
    )
    assert rows["rows"] == [{"id": 1, "label": "a"}, {"id": 2, "label": "b"}] and rows["truncated"] is True
    typed = await query(
        registry,
        ctx,
        url="postgresql+asyncpg://postgres@127.0.0.1/test",
        query=(
            "SELECT 1.50::numeric AS n, DATE '2024-01-02' AS d, '\\x0102'::bytea AS b, CAST(:p AS text) AS p"
        ),
        parameters={"p": "bound"},
    )
    assert typed["rows"] == [{"n": "1.50", "d": "2024-01-02", "b": "AQI=", "p": "bound"}]


@pytest.mark.postgres
async def test_postgres_read_only_transaction(
    registry: ToolRegistry, ctx: ExecutionContext, pg_table: str
) -> None:
    sneaky = f"WITH x AS (INSERT INTO {pg_table} (label) VALUES ('z') RETURNING id) SELECT * FROM x"
    with pytest.raises(SandboxViolation, match="read-only"):
        await registry.invoke("database-connector", {"url": PG_URL, "query": sneaky}, ctx)
    with pytest.raises(SandboxViolation):
        await registry.invoke("database-connector", {"url": PG_URL, "query": f"DELETE FROM {pg_table}"}, ctx)
    count = await query(registry, ctx, url=PG_URL, query=f"SELECT count(*) AS n FROM {pg_table}")
    assert count["rows"] == [{"n": 3}]


@pytest.mark.postgres
async def test_postgres_timeout_and_network_policy(
    registry: ToolRegistry, ctx: ExecutionContext, root: Path
) -> None:
    started = time.monotonic()
    with pytest.raises(Timeout):
        await registry.invoke(
            "database-connector", {"url": PG_URL, "query": "SELECT pg_sleep(10)", "timeout_s": 0.5}, ctx
        )
    assert time.monotonic() - started < 5
    closed = ExecutionContext(policy=SandboxPolicy(file_roots=(str(root),)))
    with pytest.raises(SandboxViolation):
        await registry.invoke("database-connector", {"url": PG_URL, "query": "SELECT 1"}, closed)
    with pytest.raises(ValidationError, match="host"):
        await registry.invoke("database-connector", {"url": "postgresql:///test", "query": "SELECT 1"}, ctx)
