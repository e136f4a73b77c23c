"""datetime-handler: now, parse, format, time-zone conversion, arithmetic and differences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ...core.context import ExecutionContext
from ...core.errors import ValidationError
from ..base import BaseTool, ToolOutput

__all__ = ["DatetimeHandlerTool", "describe", "parse_datetime"]

_OPERATIONS = ("now", "parse", "format", "convert", "add", "subtract", "diff", "weekday", "info")
_UNITS = ("weeks", "days", "hours", "minutes", "seconds", "milliseconds")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _zone(name: str | None, field: str = "timezone") -> tzinfo:
    if name is None or name.upper() in ("UTC", "Z"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(
            f"unknown time zone {name!r}; use an IANA name like 'Europe/Paris' or 'UTC'",
            details={"field": field},
        ) from exc


def parse_datetime(value: Any, *, input_format: str | None = None, zone: tzinfo = UTC) -> datetime:
    """Parse ISO 8601 text, text in ``input_format`` (strptime), or a Unix timestamp.

    Naive results are taken to be in ``zone``.
    """
    if isinstance(value, bool):
        raise ValidationError("a date-time must be text or a Unix timestamp", details={"field": "input"})
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, tz=UTC).astimezone(zone)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValidationError(f"timestamp {value} is out of range", details={"field": "input"}) from exc
    text = str(value).strip()
    try:
        if input_format:
            parsed = datetime.strptime(text, input_format)
        else:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError as exc:
        hint = f"format {input_format!r}" if input_format else "ISO 8601 (2024-05-01T12:00:00+02:00)"
        raise ValidationError(f"cannot parse {text!r} as {hint}: {exc}", details={"field": "input"}) from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def describe(dt: datetime) -> dict[str, Any]:
    """The JSON description of a date-time the tool returns."""
    offset = dt.utcoffset() or timedelta(0)
    return {
        "iso": dt.isoformat(),
        "timestamp": dt.timestamp(),
        "date": dt.date().isoformat(),
        "time": dt.time().replace(tzinfo=None).isoformat(),
        "timezone": str(dt.tzinfo),
        "utc_offset_seconds": int(offset.total_seconds()),
        "weekday": _WEEKDAYS[dt.weekday()],
        "year": dt.year,
        "month": dt.month,
        "day": dt.day,
        "hour": dt.hour,
        "minute": dt.minute,
        "second": dt.second,
    }


def _delta(params: dict[str, Any]) -> timedelta:
    amounts = {unit: params[unit] for unit in _UNITS if unit in params}
    if not amounts:
        raise ValidationError(f"give at least one of {', '.join(_UNITS)}", details={"field": "days"})
    try:
        return timedelta(**amounts)
    except OverflowError as exc:
        raise ValidationError("the amount of time is too large") from exc


class DatetimeHandlerTool(BaseTool):
    """Work with dates, times and time zones (IANA names through zoneinfo)."""

    name = "datetime-handler"
    category = "utility"
    description = (
        "Dates and times: now, parse, format (strftime), convert between time zones, add/subtract "
        "durations, diff two date-times, weekday."
    )
    schema = {
        "type": "object",
        "properties": {
            "operation": {"type": "string", "enum": list(_OPERATIONS)},
            "input": {
                "type": ["string", "number"],
                "description": "A date-time: ISO 8601 text, text in input_format, or a Unix timestamp.",
            },
            "other": {"type": ["string", "number"], "description": "The second date-time (diff)."},
            "input_format": {"type": "string", "maxLength": 200, "description": "strptime format of input."},
            "format": {"type": "string", "maxLength": 200, "description": "strftime format of the output."},
            "timezone": {"type": "string", "description": "IANA zone for now/convert (default UTC)."},
            "from_timezone": {"type": "string", "description": "Zone of naive input (default UTC)."},
            **{unit: {"type": "number"} for unit in _UNITS},
        },
        "required": ["operation"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        operation = params["operation"]
        source_zone = _zone(params.get("from_timezone"), "from_timezone")
        if operation == "now":
            current = datetime.now(tz=_zone(params.get("timezone")))
            return ToolOutput(operation=operation, result=self._out(current, params))
        self.require(params, "input", operation=operation)
        dt = parse_datetime(params["input"], input_format=params.get("input_format"), zone=source_zone)
        if operation == "diff":
            self.require(params, "other", operation=operation)
            other = parse_datetime(params["other"], input_format=params.get("input_format"), zone=source_zone)
            seconds = (other - dt).total_seconds()
            return ToolOutput(
                operation=operation,
                result={
                    "seconds": seconds,
                    "minutes": seconds / 60,
                    "hours": seconds / 3600,
                    "days": seconds / 86400,
                    "human": _human(seconds),
                },
            )
        if operation == "weekday":
            return ToolOutput(
                operation=operation, result={"weekday": _WEEKDAYS[dt.weekday()], "number": dt.isoweekday()}
            )
        if operation == "convert":
            self.require(params, "timezone", operation=operation)
            dt = dt.astimezone(_zone(params["timezone"]))
        elif operation in ("add", "subtract"):
            delta = _delta(params)
            try:
                # Wall-clock arithmetic in the zone, then normalised (DST-aware via astimezone).
                dt = (dt + delta if operation == "add" else dt - delta).astimezone(dt.tzinfo)
            except OverflowError as exc:
                raise ValidationError("the result is outside the supported date range") from exc
        elif operation == "format":
            self.require(params, "format", operation=operation)
        return ToolOutput(operation=operation, result=self._out(dt, params))

    @staticmethod
    def _out(dt: datetime, params: dict[str, Any]) -> dict[str, Any]:
        result = describe(dt)
        if "format" in params:
            try:
                result["formatted"] = dt.strftime(params["format"])
            except ValueError as exc:
                raise ValidationError(f"invalid format: {exc}", details={"field": "format"}) from exc
        return result


def _human(seconds: float) -> str:
    sign = "-" if seconds < 0 else ""
    remaining = int(abs(seconds))
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, remaining = divmod(remaining, size)
        if amount or (unit == "s" and not parts):
            parts.append(f"{amount}{unit}")
    return sign + " ".join(parts)
