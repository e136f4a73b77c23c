"""Core statements compiled once and run on the driver's own connection (the hot paths)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Float
from sqlalchemy.engine import Dialect as SADialect
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import Select
from sqlalchemy.types import TypeEngine

from ...core.errors import ValidationError
from ._tables import UTCDateTime

__all__ = ["Prepared", "sqlite_utc_text"]

_Processor = Callable[[Any], Any] | None
_NOTHING = object()


class Prepared:
    """A Core statement compiled once for one dialect.

    Executing a Core statement costs SQLAlchemy a cache-key walk, a compiled-cache lookup,
    an execution context and per-row processing, several times the cost of the driver call
    on these small statements. A Prepared keeps the SQL text with the driver's
    placeholders, SQLAlchemy's own bind processors in parameter order and its result
    processors by column, so the values stored and read are exactly the Core ones.

    Every varying value must be a named ``bindparam``; bind parameters holding a value
    (``.values(status="running")``) keep it.

    Args:
        statement: a SELECT, or a DML statement (with RETURNING when rows are wanted).
        dialect: the engine's dialect (its paramstyle decides the placeholders).
    """

    __slots__ = ("_binds", "_columns", "_defaults", "sql")

    def __init__(self, statement: Select[Any] | UpdateBase, dialect: SADialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        binds = compiled.binds
        self._binds: list[tuple[str, _Processor]] = []
        self._defaults: dict[str, Any] = {}
        for name in compiled.positiontup or ():
            bind = binds[name]
            type_ = bind.type
            processor: _Processor = type_.dialect_impl(dialect).bind_processor(dialect)
            if isinstance(type_, UTCDateTime) and dialect.name == "sqlite":
                processor = sqlite_utc_text  # the same text, one C call instead of two layers
            if processor is not None and isinstance(type_, DateTime | UTCDateTime):
                # Rows of a batch share their timestamps (one "now" per batch).
                processor = _last_value_memo(processor)
            self._binds.append((name, processor))
            if not bind.required:
                self._defaults[name] = bind.effective_value
        self._columns: list[tuple[str, _Processor]] = [
            (str(column.key), _result_processor(column.type, dialect))
            for column in statement.exported_columns
        ]

    def args(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """The driver's positional arguments for ``params`` (ValidationError for a value
        a column type refuses, like a naive datetime)."""
        values = {**self._defaults, **params} if self._defaults else params
        try:
            return tuple([values[name] if p is None else p(values[name]) for name, p in self._binds])
        except (ValueError, TypeError) as exc:
            raise ValidationError(f"invalid value: {exc}") from exc

    def rows(self, raw: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
        """Driver rows as ``{column key: value}`` after the columns' result processing."""
        columns = self._columns
        return [
            {
                key: value if processor is None or value is None else processor(value)
                for (key, processor), value in zip(columns, row, strict=True)
            }
            for row in raw
        ]


def sqlite_utc_text(value: datetime | None) -> str | None:
    """What :class:`UTCDateTime` and SQLAlchemy's SQLite ``DATETIME`` bind together make of
    ``value``: naive UTC as ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _result_processor(type_: TypeEngine[Any], dialect: SADialect) -> _Processor:
    impl = type_.dialect_impl(dialect)
    if isinstance(impl, Float) and not impl.asdecimal:
        # Both drivers return floats; asyncpg's processor would want the column's type OID.
        return None
    return impl.result_processor(dialect, None)


def _last_value_memo(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    # One tuple, swapped in one assignment: safe if two threads share the statement.
    last: tuple[Any, Any] = (_NOTHING, None)

    def process(value: Any) -> Any:
        nonlocal last
        seen, result = last
        if value is not seen:  # datetimes are immutable: the same object, the same result
            result = processor(value)
            last = (value, result)
        return result

    return process
