"""Row and run ids: time-ordered UUIDs, so new rows land at the right edge of their indexes.

Random (version 4) keys scatter a batch's inserts over as many B-tree pages as it has
rows, and every page touched is written out at commit; time-ordered keys of one batch
share a page or two.
"""

from __future__ import annotations

import os
import time
import uuid

__all__ = ["new_id", "uuid7"]


def uuid7() -> uuid.UUID:
    """A time-ordered UUID version 7 (RFC 9562): 48-bit Unix milliseconds, then random bits."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & (2**48 - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & (2**62 - 1)
    return uuid.UUID(int=value)


def new_id() -> str:
    """A fresh id: 32 hex digits of a UUID version 7."""
    return uuid7().hex
