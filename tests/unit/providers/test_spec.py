from __future__ import annotations

import pytest
from llmspell.core.config import ProviderConfig, Settings
from llmspell.core.errors import ConfigError
from llmspell.providers import parse_model_spec


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY"):
        monkeypatch.delenv(name, raising=False)


pytestmark = pytest.mark.usefixtures("clean_env")


def test_provider_and_model() -> None:
    spec = parse_model_spec("openai/gpt-4o-mini", Settings())
    assert (spec.provider, spec.model, spec.type, spec.wire) == ("openai", "gpt-4o-mini", "openai", "openai")
    assert spec.base_url == "https://api.openai.com/v1"
    assert spec.label == "openai/gpt-4o-mini"


def test_bare_model_uses_default_provider() -> None:
    spec = parse_model_spec("llama3", Settings(default_provider="ollama"))
    assert (spec.provider, spec.model, spec.type) == ("ollama", "llama3", "ollama")
    assert spec.base_url == "http://127.0.0.1:11434/v1"


def test_routed_provider_keeps_the_rest_as_model() -> None:
    spec = parse_model_spec("openrouter/meta/llama-3-70b", Settings())
    assert (spec.provider, spec.model, spec.wire) == ("openrouter", "meta/llama-3-70b", "openai")


def test_named_provider_from_config() -> None:
    settings = Settings(providers={"local": ProviderConfig(type="openai", base_url="http://127.0.0.1:9/v1/")})
    spec = parse_model_spec("local/qwen", settings)
    assert (spec.provider, spec.model, spec.type) == ("local", "qwen", "openai")
    assert spec.base_url == "http://127.0.0.1:9/v1"


def test_litellm_providers_route_through_litellm() -> None:
    spec = parse_model_spec("anthropic/claude-3-5-sonnet", Settings())
    assert spec.wire == "litellm"
    assert spec.litellm_model == "anthropic/claude-3-5-sonnet"
    lite = Settings(providers={"x": ProviderConfig(type="litellm", base_url="http://127.0.0.1:9/v1")})
    assert parse_model_spec("x/qwen", lite).litellm_model == "openai/qwen"
    assert parse_model_spec("x/hosted_vllm/qwen", lite).litellm_model == "hosted_vllm/qwen"


@pytest.mark.parametrize("text", ["", "   ", "/gpt", "openai/", "openai//gpt"])
def test_malformed_specs(text: str) -> None:
    with pytest.raises(ConfigError, match=r"model spec|provider/model"):
        parse_model_spec(text, Settings())


def test_unknown_provider_names_it() -> None:
    with pytest.raises(ConfigError, match=r"unknown provider 'nope'.*\[providers\.nope\]"):
        parse_model_spec("nope/model", Settings())


def test_named_provider_with_unknown_type() -> None:
    settings = Settings(providers={"odd": ProviderConfig(type="carrier-pigeon")})
    with pytest.raises(ConfigError, match="unknown type 'carrier-pigeon'"):
        parse_model_spec("odd/m", settings)


def test_endpoint_and_key_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/env")
    assert parse_model_spec("openai/m", Settings()).api_key == "from-env"
    assert parse_model_spec("openai/m", Settings()).base_url == "http://127.0.0.1:1/env"
    general = Settings(base_url="http://127.0.0.1:2/settings", api_key="from-settings")
    spec = parse_model_spec("openai/m", general)
    assert (spec.base_url, spec.api_key) == ("http://127.0.0.1:2/settings", "from-settings")
    named = Settings(
        base_url="http://127.0.0.1:2/settings",
        api_key="from-settings",
        providers={"openai": ProviderConfig(base_url="http://127.0.0.1:3/named", api_key="from-named")},
    )
    spec = parse_model_spec("openai/m", named)
    assert (spec.base_url, spec.api_key) == ("http://127.0.0.1:3/named", "from-named")
    spec = parse_model_spec("openai/m", named, base_url="http://127.0.0.1:4/explicit", api_key="explicit")
    assert (spec.base_url, spec.api_key) == ("http://127.0.0.1:4/explicit", "explicit")


def test_general_endpoint_does_not_leak_into_other_protocols(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "anthropic-key")
    settings = Settings(base_url="http://127.0.0.1:2/v1", api_key="openai-style")
    spec = parse_model_spec("anthropic/claude-3-5-haiku", settings)
    assert (spec.base_url, spec.api_key) == (None, "anthropic-key")


def test_api_key_env_of_named_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_LOCAL_KEY", "secret")
    settings = Settings(
        providers={"local": ProviderConfig(base_url="http://127.0.0.1:9/v1", api_key_env="MY_LOCAL_KEY")}
    )
    spec = parse_model_spec("local/m", settings)
    assert spec.api_key == "secret"
    assert "secret" not in repr(spec)
