"""``?limit=&cursor=`` pages cut from a whole, ordered list (for lists the control plane
answers in one piece).

The cursor has the store's form (URL-safe base64 of the JSON list of the sort key of the last
item returned), so a store-side page can replace this one without breaking clients' cursors.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..core.errors import ValidationError

__all__ = ["page"]

Item = TypeVar("Item")

_INVALID = "invalid cursor; pass the next_cursor returned by the previous page"


def _encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode(cursor: str, count: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != count:
        raise ValidationError(_INVALID, details={"field": "cursor"})
    return values


def page(
    items: Sequence[Item],
    key: Callable[[Item], tuple[str | int, ...]],
    width: int,
    limit: int,
    cursor: str | None,
) -> tuple[list[Item], str | None]:
    """The items after ``cursor`` (at most ``limit``) and the cursor of the next page.

    ``items`` must be sorted by ``key``, whose tuples have ``width`` values of fixed types; a
    cursor stays valid when items are added or removed.
    """
    remaining = list(items)
    if cursor is not None:
        after = _decode(cursor, width)
        try:
            remaining = [item for item in remaining if list(key(item)) > after]
        except TypeError:
            raise ValidationError(_INVALID, details={"field": "cursor"}) from None
    chosen = remaining[:limit]
    next_cursor = _encode(list(key(chosen[-1]))) if len(remaining) > limit else None
    return chosen, next_cursor
