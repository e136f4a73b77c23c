"""Pricing, capabilities, the provider listing, the CLI command and the import cost."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from llmspell.core.config import PriceConfig, ProviderConfig, Settings
from llmspell.providers import capabilities_for, cost_usd, get_provider, list_providers, price_for
from typer.testing import CliRunner


def test_known_prices_and_dated_snapshots() -> None:
    price = price_for("openai", "gpt-4o-mini")
    assert price is not None and (price.input_per_mtok, price.output_per_mtok) == (0.15, 0.60)
    assert price_for("openai", "gpt-4o-mini-2024-07-18") == price
    assert price_for("openrouter", "openai/gpt-4o-mini") == price
    assert cost_usd("openai", "gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)


def test_unknown_model_cost_is_none_not_zero() -> None:
    assert price_for("local", "my-finetune") is None
    assert cost_usd("local", "my-finetune", 1000, 1000) is None


def test_configured_prices_override_and_extend() -> None:
    settings = Settings(
        prices={
            "local/my-finetune": PriceConfig(input_per_mtok=1.0, output_per_mtok=2.0),
            "gpt-4o-mini": PriceConfig(input_per_mtok=10.0, output_per_mtok=10.0),
        }
    )
    assert cost_usd("local", "my-finetune", 1_000_000, 500_000, settings) == pytest.approx(2.0)
    assert cost_usd("openai", "gpt-4o-mini", 1_000_000, 0, settings) == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("provider_type", "model", "vision", "tools"),
    [
        ("openai", "gpt-4o-mini", True, True),
        ("openai", "gpt-3.5-turbo", False, True),
        ("anthropic", "claude-3-5-sonnet-20241022", True, True),
        ("ollama", "llava:13b", True, True),
        ("ollama", "llama3", False, True),
        ("openai", "gpt-3.5-turbo-instruct", False, False),
    ],
)
def test_capabilities(provider_type: str, model: str, vision: bool, tools: bool) -> None:
    caps = capabilities_for(provider_type, model)
    assert (caps.vision, caps.tools, caps.streaming) == (vision, tools, True)
    assert ("vision" in caps.names()) is vision


def test_list_providers_has_configured_first_and_no_secrets() -> None:
    settings = Settings(
        default_provider="local",
        providers={
            "local": ProviderConfig(type="openai", base_url="http://127.0.0.1:9/v1", api_key="sk-secret")
        },
    )
    listed = list_providers(settings)
    assert listed[0]["name"] == "local" and listed[0]["configured"] and listed[0]["default"]
    assert listed[0]["has_api_key"] is True
    assert "sk-secret" not in json.dumps(listed)
    assert {"openai", "anthropic", "ollama"} <= {entry["name"] for entry in listed}
    anthropic = get_provider("anthropic", settings)
    assert anthropic is not None and anthropic["wire"] == "litellm"
    assert get_provider("nope", settings) is None


def test_cli_providers_json(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    from llmspell.cli.app import app
    from llmspell.core.config import get_settings

    monkeypatch.setenv("LLMSPELL_PROVIDERS__MINE__BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("LLMSPELL_PROVIDERS__MINE__API_KEY", "sk-hidden")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["providers", "--output", "json"])
        table = CliRunner().invoke(app, ["providers"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    mine = next(entry for entry in json.loads(result.output) if entry["name"] == "mine")
    assert mine["base_url"] == "http://127.0.0.1:9/v1" and mine["has_api_key"] is True
    assert "sk-hidden" not in result.output
    assert table.exit_code == 0 and "mine" in table.output


def test_import_is_light() -> None:
    code = (
        "import sys, llmspell.providers, llmspell.agents\n"
        "heavy = [m for m in ('httpx', 'aiohttp', 'litellm', 'openai') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
