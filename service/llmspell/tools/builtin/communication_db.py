"""database-connector: run SQL over SQLAlchemy URLs (SQLite and PostgreSQL), read-only by default.

Read-only is enforced twice: a statement check (one statement; it starts with SELECT,
WITH, EXPLAIN, SHOW, VALUES or a read-only PRAGMA) and the engine itself (a ``READ ONLY``
transaction on PostgreSQL; ``mode=ro`` plus ``PRAGMA query_only`` on SQLite). Writes need
both ``allow_write=true`` in the parameters and ``LLMSPELL_DATABASE_CONNECTOR_ALLOW_WRITE=1``
in the configuration. ``LLMSPELL_DATABASE_CONNECTOR_URL`` is the default URL.

SQLite files go through the sandbox path check; PostgreSQL hosts through the network policy.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import os
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from llmspell.core.context import ExecutionContext, SandboxPolicy
from llmspell.core.errors import ConfigError, SandboxViolation, Timeout, ToolError, ValidationError
from llmspell.tools.base import BaseTool, ToolOutput
from llmspell.tools.sandbox import check_url, resolve_path

__all__ = ["DatabaseConnectorTool", "is_read_only", "jsonable"]

_READ_KEYWORDS = {"select", "with", "explain", "show", "values", "pragma", "table"}
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_STRINGS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_TRUTHY = {"1", "true", "yes", "on"}


def _strip(sql: str) -> str:
    return _COMMENTS.sub(" ", _STRINGS.sub("''", sql)).strip()


def is_read_only(sql: str) -> bool:
    """True when ``sql`` is a single statement that only reads.

    This is the first line of defence; the read-only transaction is the second (it also
    catches data-modifying CTEs and functions with side effects).
    """
    body = _strip(sql).rstrip("; \t\n")
    if not body or ";" in body:
        return False
    keyword = body.split(None, 1)[0].lower()
    if keyword not in _READ_KEYWORDS:
        return False
    return not (keyword == "pragma" and "=" in body)


def _single_statement(sql: str) -> None:
    if ";" in _strip(sql).rstrip("; \t\n"):
        raise ValidationError("query must be a single SQL statement", details={"field": "query"})


def jsonable(value: Any) -> Any:
    """A database value as JSON: decimals as strings, dates ISO 8601, bytes base64."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


def _write_allowed_by_config() -> bool:
    return os.environ.get("LLMSPELL_DATABASE_CONNECTOR_ALLOW_WRITE", "").strip().lower() in _TRUTHY


async def _engine_url(raw: str, policy: SandboxPolicy, *, read_only: bool) -> tuple[Any, str]:
    """Normalise ``raw`` to an async driver URL after the sandbox checks; returns (URL, dialect)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ValidationError(f"not a database URL: {raw!r}", details={"field": "url"}) from exc
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:"):
            return url.set(drivername="sqlite+aiosqlite", database=":memory:"), "sqlite"
        path = resolve_path(database, policy, for_write=not read_only, must_exist=read_only)
        if read_only:
            # URI mode lets SQLite itself refuse writes (mode=ro), whatever the statement.
            return url.set(
                drivername="sqlite+aiosqlite", database=f"file:{path}", query={"mode": "ro", "uri": "true"}
            ), "sqlite"
        return url.set(drivername="sqlite+aiosqlite", database=str(path)), "sqlite"
    if backend in ("postgresql", "postgres"):
        if not url.host or "host" in url.query:
            raise ValidationError(
                "PostgreSQL URL needs an explicit TCP host (no sockets)", details={"field": "url"}
            )
        host = f"[{url.host}]" if ":" in url.host else url.host
        await check_url(f"http://{host}:{url.port or 5432}/", policy)
        return url.set(drivername="postgresql+asyncpg"), "postgresql"
    raise ValidationError(
        f"unsupported database {backend!r}; use sqlite:///file.db or postgresql://host/db",
        details={"field": "url"},
    )


@asynccontextmanager
async def _db_errors() -> AsyncIterator[None]:
    """Translate SQLAlchemy/driver errors (the one boundary for this tool)."""
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    try:
        yield
    except DBAPIError as exc:
        text = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        lowered = text.lower()
        if "read-only" in lowered or "readonly" in lowered or "query_only" in lowered:
            raise SandboxViolation(f"the database refused a write in read-only mode: {text}") from exc
        if "statement timeout" in lowered or "canceling statement" in lowered:
            raise Timeout(f"query exceeded timeout_s: {text}") from exc
        raise ToolError(f"database error: {text}") from exc
    except SQLAlchemyError as exc:
        raise ToolError(f"database error: {exc}") from exc
    except OSError as exc:
        raise ToolError(f"cannot connect to the database: {exc.strerror or exc}") from exc


class DatabaseConnectorTool(BaseTool):
    """Run one SQL statement against SQLite or PostgreSQL; read-only unless allowed twice."""

    name = "database-connector"
    category = "communication"
    description = (
        "Run one SQL statement on SQLite or PostgreSQL (SQLAlchemy URL) with bound parameters; "
        "read-only by default, row cap and timeout."
    )
    security_level = "privileged"
    timeout_s = 65.0
    schema = {
        "type": "object",
        "properties": {
            "url": {
                "type": "string",
                "minLength": 1,
                "description": "sqlite:///path.db or postgresql://user@host/db "
                "(default: LLMSPELL_DATABASE_CONNECTOR_URL).",
            },
            "query": {"type": "string", "minLength": 1, "maxLength": 100_000},
            "parameters": {"type": "object", "description": "Bound parameters for :name placeholders."},
            "max_rows": {"type": "integer", "minimum": 1, "maximum": 100_000, "default": 1000},
            "timeout_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 60, "default": 30},
            "allow_write": {
                "type": "boolean",
                "default": False,
                "description": "Also needs LLMSPELL_DATABASE_CONNECTOR_ALLOW_WRITE=1.",
            },
        },
        "required": ["query"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        raw_url = params.get("url") or os.environ.get("LLMSPELL_DATABASE_CONNECTOR_URL")
        if not raw_url:
            raise ConfigError("no database: pass url or set LLMSPELL_DATABASE_CONNECTOR_URL")
        sql: str = params["query"]
        _single_statement(sql)
        write = bool(params.get("allow_write", False))
        if write and not _write_allowed_by_config():
            raise SandboxViolation(
                "writes are disabled by configuration; set LLMSPELL_DATABASE_CONNECTOR_ALLOW_WRITE=1"
            )
        if not write and not is_read_only(sql):
            raise SandboxViolation(
                "database-connector is read-only: only SELECT/WITH/EXPLAIN/SHOW/VALUES run; "
                "pass allow_write=true (and enable it in configuration) to write"
            )
        url, dialect = await _engine_url(raw_url, ctx.policy, read_only=not write)
        timeout = float(params.get("timeout_s", 30))
        max_rows: int = params.get("max_rows", 1000)
        async with _db_errors():
            result = await self._run(
                url, dialect, sql, params.get("parameters") or {}, write, timeout, max_rows
            )
        return ToolOutput(
            operation="write" if write else "query",
            result=result,
            message=(
                f"{len(result['rows'])} row(s)" + (" (truncated)" if result["truncated"] else "")
                if result["columns"]
                else f"{result['rows_affected']} row(s) affected"
            ),
            metadata={"dialect": dialect},
        )

    @staticmethod
    async def _run(
        url: Any, dialect: str, sql: str, bound: dict[str, Any], write: bool, timeout: float, max_rows: int
    ) -> dict[str, Any]:
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine
        from sqlalchemy.pool import NullPool

        connect_args: dict[str, Any] = {"timeout": timeout} if dialect == "postgresql" else {}
        engine = create_async_engine(url, poolclass=NullPool, connect_args=connect_args)
        try:
            async with engine.connect() as conn:
                if dialect == "postgresql":
                    if not write:  # must come first in the transaction
                        await conn.execute(text("SET TRANSACTION READ ONLY"))
                    await conn.execute(text(f"SET LOCAL statement_timeout = {int(timeout * 1000)}"))
                elif not write:
                    await conn.execute(text("PRAGMA query_only = ON"))
                cursor = await conn.execute(text(sql), bound)
                columns: list[str] = list(cursor.keys()) if cursor.returns_rows else []
                rows: list[dict[str, Any]] = []
                truncated = False
                if cursor.returns_rows:
                    fetched = cursor.fetchmany(max_rows + 1)
                    truncated = len(fetched) > max_rows
                    rows = [
                        {col: jsonable(value) for col, value in zip(columns, row, strict=True)}
                        for row in fetched[:max_rows]
                    ]
                    cursor.close()
                affected = None if cursor.returns_rows else cursor.rowcount
                if write:
                    await conn.commit()
                else:
                    await conn.rollback()
        finally:
            await engine.dispose()
        return {
            "columns": columns,
            "rows": rows,
            "row_count": len(rows),
            "rows_affected": affected,
            "truncated": truncated,
        }
