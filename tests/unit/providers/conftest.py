from __future__ import annotations

import pytest
from fakes.llm_server import FakeLLMServer
from llmspell.core.config import ProviderConfig, Settings


@pytest.fixture
def settings(fake_llm: FakeLLMServer) -> Settings:
    """Settings with providers pointing at the fake server: ``fake`` (httpx) and ``fakelite`` (litellm)."""
    return Settings(
        providers={
            "fake": ProviderConfig(
                type="openai", base_url=fake_llm.base_url, api_key="sk-direct", max_retries=2
            ),
            "fakelite": ProviderConfig(
                type="litellm", base_url=fake_llm.base_url, api_key="sk-lite", max_retries=2
            ),
        }
    )
