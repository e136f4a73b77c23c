"""Garbage-collector settings for a process running many scripts at once."""

from __future__ import annotations

import gc

__all__ = ["tune_collector"]

# Full collections walk every live object. With 1,000 runs waiting on an LLM call (about
# 400 live objects each) the default rule (a full pass after 10 middle-generation passes
# once the old generation grew by a quarter) ran 5-6 full passes of ~200 ms per burst.
# A finished run frees its objects by reference counting (engine.py breaks the only
# cycle), so deferring full passes does not let garbage pile up.
_FULL_AFTER = 100


def tune_collector() -> None:
    """Defer full collections (the daemon calls this at start-up)."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, _FULL_AFTER)
