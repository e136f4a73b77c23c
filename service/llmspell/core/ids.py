"""Row and run ids: time-ordered UUIDs, so new rows land at the right edge of their indexes.

Random (version 4) keys scatter a batch's inserts over as many B-tree pages as it has
rows, and every page touched is written out at commit; time-ordered keys of one batch
share a page or two.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

__all__ = ["new_id", "uuid7"]

# Random bits come from the OS's CSPRNG in blocks: one getrandom call per 1,638 ids, not
# one per id. Each thread draws from its own block; a forked child starts a new one.
_BLOCK = 16_384
_local = threading.local()
os.register_at_fork(after_in_child=lambda: _local.__dict__.clear())


def _random80() -> int:
    local = _local
    block: bytes = getattr(local, "block", b"")
    at: int = getattr(local, "at", _BLOCK)
    if at + 10 > len(block):
        block, at = os.urandom(_BLOCK), 0
        local.block = block
    local.at = at + 10
    return int.from_bytes(block[at : at + 10], "big")


def _uuid7_int() -> int:
    millis = time.time_ns() // 1_000_000
    rand = _random80()
    value = (millis & (2**48 - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & (2**62 - 1)
    return value


def uuid7() -> uuid.UUID:
    """A time-ordered UUID version 7 (RFC 9562): 48-bit Unix milliseconds, then random bits."""
    return uuid.UUID(int=_uuid7_int())


def new_id() -> str:
    """A fresh id: 32 hex digits of a UUID version 7."""
    return f"{_uuid7_int():032x}"
