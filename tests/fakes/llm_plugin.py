"""Pytest fixtures for the fake LLM server.

``fake_llm`` gives each test a clean server (one server per session, reset before and
after each test): ``.base_url`` (ends in ``/v1``), ``.requests``, ``.push_text(...)``,
``.push_tool_calls([...])``, ``.fail_next(status, n, retry_after=None)``,
``.set_latency(ms)``, ``.reset()``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakes.llm_server import FakeLLMServer

__all__ = ["fake_llm", "fake_llm_server", "pytest_configure"]

# litellm installs these filters when imported; pytest resets filters per test, so
# mirror them here or its harmless warnings fail tests that use the litellm path.
_LITELLM_WARNINGS = (
    "ignore:.*conflict with protected namespace.*",
    "ignore:.*Accessing the.*attribute on the instance is deprecated.*",
    "ignore:.*`ReadOnly` qualifier.*",
)


def pytest_configure(config: pytest.Config) -> None:
    """Register the litellm warning filters."""
    for line in _LITELLM_WARNINGS:
        config.addinivalue_line("filterwarnings", line)


@pytest.fixture(scope="session")
def fake_llm_server() -> Iterator[FakeLLMServer]:
    """The session's fake LLM server (prefer ``fake_llm``, which resets it per test)."""
    server = FakeLLMServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_llm(fake_llm_server: FakeLLMServer) -> Iterator[FakeLLMServer]:
    """A reset fake LLM server for one test."""
    fake_llm_server.reset()
    yield fake_llm_server
    fake_llm_server.reset()
