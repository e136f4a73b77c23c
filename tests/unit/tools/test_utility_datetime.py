"""datetime-handler."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import ValidationError
from llmspell.tools import default_registry


async def dt(operation: str, **params: Any) -> Any:
    env = await default_registry().invoke(
        "datetime-handler", {"operation": operation, **params}, ExecutionContext()
    )
    assert env["success"] is True and env["operation"] == operation
    return env["result"]


async def test_now_in_a_zone() -> None:
    result = await dt("now", timezone="Asia/Tokyo")
    assert result["timezone"] == "Asia/Tokyo" and result["utc_offset_seconds"] == 9 * 3600
    assert abs(result["timestamp"] - datetime.now(tz=UTC).timestamp()) < 60


async def test_parse_and_format() -> None:
    parsed = await dt("parse", input="2024-02-29T13:45:00Z")
    assert parsed["iso"] == "2024-02-29T13:45:00+00:00" and parsed["weekday"] == "Thursday"
    custom = await dt(
        "parse", input="03/10/2024 08:30", input_format="%m/%d/%Y %H:%M", from_timezone="Europe/Paris"
    )
    assert custom["iso"] == "2024-03-10T08:30:00+01:00"
    from_ts = await dt("parse", input=0)
    assert from_ts["iso"] == "1970-01-01T00:00:00+00:00"
    formatted = await dt("format", input="2024-01-05T00:00:00+00:00", format="%A %d %B %Y")
    assert formatted["formatted"] == "Friday 05 January 2024"


async def test_convert_across_dst() -> None:
    summer = await dt("convert", input="2024-07-01T12:00:00Z", timezone="America/New_York")
    winter = await dt("convert", input="2024-01-01T12:00:00Z", timezone="America/New_York")
    assert summer["iso"] == "2024-07-01T08:00:00-04:00" and winter["iso"] == "2024-01-01T07:00:00-05:00"


async def test_arithmetic_diff_weekday() -> None:
    added = await dt("add", input="2024-01-31T10:00:00+00:00", days=1, hours=2)
    assert added["iso"] == "2024-02-01T12:00:00+00:00"
    subtracted = await dt("subtract", input="2024-03-01T00:00:00+00:00", days=1)
    assert subtracted["date"] == "2024-02-29"
    diff = await dt("diff", input="2024-01-01T00:00:00Z", other="2024-01-02T06:30:00Z")
    assert diff["hours"] == 30.5 and diff["human"] == "1d 6h 30m"
    assert (await dt("weekday", input="2024-12-25")) == {"weekday": "Wednesday", "number": 3}


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"operation": "parse", "input": "not a date"}, "cannot parse"),
        ({"operation": "convert", "input": "2024-01-01", "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"operation": "add", "input": "2024-01-01"}, "give at least one of"),
        ({"operation": "diff", "input": "2024-01-01"}, "'other' is required"),
        ({"operation": "parse"}, "'input' is required"),
        ({"operation": "add", "input": "9999-12-31", "days": 10}, "outside the supported date range"),
        ({"operation": "parse", "input": 1e20}, "out of range"),
        ({"operation": "teleport"}, "operation"),
    ],
)
async def test_refusals(params: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        await default_registry().invoke("datetime-handler", params, ExecutionContext())
