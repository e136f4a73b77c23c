from __future__ import annotations

from collections.abc import Iterator

import pytest
from llmspell.hooks import process_hooks, result_cache


@pytest.fixture(autouse=True)
def clean_process_hooks() -> Iterator[None]:
    """Each test starts and ends with no process-wide hooks and an empty result cache."""
    process_hooks().clear()
    result_cache().clear()
    yield
    process_hooks().clear()
    result_cache().clear()
