"""Opaque pagination cursors and limit checks."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from ...core.errors import ValidationError

__all__ = ["check_limit", "decode_cursor", "decode_time_cursor", "encode_cursor"]

MAX_PAGE = 1000


def check_limit(limit: int) -> int:
    """``limit`` when it is between 1 and 1000. Raises ValidationError."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
    return limit


def encode_cursor(*values: str | int | datetime) -> str:
    """An opaque, URL-safe cursor for the position after ``values``."""
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, count: int) -> list[Any]:
    """The ``count`` values of a cursor made by :func:`encode_cursor`. Raises ValidationError."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != count:
        raise ValidationError("invalid cursor; pass the next_cursor returned by the previous page")
    return values


def decode_time_cursor(cursor: str) -> tuple[datetime, str]:
    """A ``(timestamp, id)`` cursor. Raises ValidationError."""
    stamp, row_id = decode_cursor(cursor, 2)
    try:
        return datetime.fromisoformat(str(stamp)), str(row_id)
    except ValueError:
        raise ValidationError("invalid cursor; pass the next_cursor returned by the previous page") from None
