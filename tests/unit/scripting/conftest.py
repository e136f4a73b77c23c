from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from llmspell.core.context import ExecutionContext, Limits
from llmspell.runtime.runner import RunOutcome, execute_script

Runner = Callable[..., Awaitable[RunOutcome]]


@pytest.fixture
def run_lua() -> Runner:
    """Run Lua source with small limits; returns the RunOutcome."""

    async def run(source: str, *, timeout_s: float = 2.0, memory_mb: int = 32, **kwargs: Any) -> RunOutcome:
        limits = Limits(timeout_s=timeout_s, memory_mb=memory_mb, output_bytes=200_000)
        ctx = ExecutionContext(limits=limits)
        return await execute_script(source, script_name="t.lua", ctx=ctx, **kwargs)

    return run
