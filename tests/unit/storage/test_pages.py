"""Pagination cursors and limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from llmspell.core.errors import ValidationError
from llmspell.storage.sql._pages import check_limit, decode_cursor, decode_time_cursor, encode_cursor


def test_cursor_round_trip() -> None:
    stamp = datetime(2026, 5, 1, 12, 30, 1, 123456, tzinfo=UTC)
    cursor = encode_cursor(stamp, "abc")
    assert "=" not in cursor and "/" not in cursor
    assert decode_time_cursor(cursor) == (stamp, "abc")
    assert decode_cursor(encode_cursor("name"), 1) == ["name"]


@pytest.mark.parametrize("bad", ["", "!!!", encode_cursor("a", "b"), encode_cursor(1)])
def test_bad_time_cursors(bad: str) -> None:
    with pytest.raises(ValidationError, match="invalid cursor"):
        decode_time_cursor(bad)


def test_wrong_arity_cursor() -> None:
    with pytest.raises(ValidationError, match="invalid cursor"):
        decode_cursor(encode_cursor("a", "b"), 1)


def test_check_limit() -> None:
    assert check_limit(1) == 1 and check_limit(1000) == 1000
    for bad in (0, -1, 1001):
        with pytest.raises(ValidationError, match="between 1 and 1000"):
            check_limit(bad)
