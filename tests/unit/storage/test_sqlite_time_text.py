"""The fast SQLite timestamp text is exactly what SQLAlchemy's processors write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from llmspell.storage.sql._prepared import sqlite_utc_text
from llmspell.storage.sql._tables import UTCDateTime
from sqlalchemy.dialects import sqlite

DIALECT = sqlite.dialect()


def _sqlalchemy_text(value: datetime | None) -> object:
    column_type = UTCDateTime()
    process = column_type.dialect_impl(DIALECT).bind_processor(DIALECT)
    assert process is not None
    return process(value)


@pytest.mark.parametrize(
    "value",
    [
        None,
        datetime(2026, 12, 3, 16, 20, 1, 123456, tzinfo=UTC),
        datetime(2026, 12, 3, 16, 20, 1, tzinfo=UTC),  # no microseconds: still six digits
        datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2026, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=-8))),
    ],
)
def test_same_text_as_sqlalchemy(value: datetime | None) -> None:
    assert sqlite_utc_text(value) == _sqlalchemy_text(value)


def test_naive_datetimes_are_refused_as_by_the_column_type() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        sqlite_utc_text(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="naive datetime"):
        _sqlalchemy_text(datetime(2026, 1, 1))
