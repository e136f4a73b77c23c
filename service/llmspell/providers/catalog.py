"""The providers llmspell knows without configuration: endpoints and credential variables.

OpenAI-compatible providers (``wire="openai"``) go over the direct httpx path; the others
(``wire="litellm"``) through litellm, imported only when one is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["KNOWN_PROVIDERS", "LITELLM_PROVIDERS", "ProviderInfo", "Wire", "wire_of"]

Wire = Literal["openai", "litellm"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ProviderInfo:
    """A built-in provider: default endpoint and where its API key comes from."""

    name: str
    wire: Wire
    base_url: str | None = None
    api_key_env: str | None = None
    base_url_env: str | None = None


def _openai(name: str, base_url: str, key_env: str | None = None) -> ProviderInfo:
    return ProviderInfo(name=name, wire="openai", base_url=base_url, api_key_env=key_env)


KNOWN_PROVIDERS: dict[str, ProviderInfo] = {
    info.name: info
    for info in (
        ProviderInfo(
            name="openai",
            wire="openai",
            base_url="https://api.openai.com/v1",
            api_key_env="OPENAI_API_KEY",
            base_url_env="OPENAI_BASE_URL",
        ),
        _openai("ollama", "http://127.0.0.1:11434/v1"),
        _openai("vllm", "http://127.0.0.1:8000/v1", "VLLM_API_KEY"),
        _openai("lmstudio", "http://127.0.0.1:1234/v1"),
        _openai("llamacpp", "http://127.0.0.1:8080/v1"),
        _openai("groq", "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
        _openai("together", "https://api.together.xyz/v1", "TOGETHER_API_KEY"),
        _openai("deepseek", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
        _openai("mistral", "https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
        _openai("openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
        _openai("fireworks", "https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY"),
        _openai("xai", "https://api.x.ai/v1", "XAI_API_KEY"),
        _openai("perplexity", "https://api.perplexity.ai", "PERPLEXITY_API_KEY"),
        _openai("cerebras", "https://api.cerebras.ai/v1", "CEREBRAS_API_KEY"),
        ProviderInfo(name="anthropic", wire="litellm", api_key_env="ANTHROPIC_API_KEY"),
        ProviderInfo(name="gemini", wire="litellm", api_key_env="GEMINI_API_KEY"),
        ProviderInfo(name="cohere", wire="litellm", api_key_env="COHERE_API_KEY"),
        ProviderInfo(
            name="azure", wire="litellm", api_key_env="AZURE_API_KEY", base_url_env="AZURE_API_BASE"
        ),
        ProviderInfo(name="bedrock", wire="litellm"),
        ProviderInfo(name="vertex_ai", wire="litellm"),
        ProviderInfo(name="huggingface", wire="litellm", api_key_env="HF_TOKEN"),
        ProviderInfo(name="replicate", wire="litellm", api_key_env="REPLICATE_API_KEY"),
    )
}

# Provider prefixes litellm routes itself (a subset of ``litellm.provider_list``, kept here
# so that parsing a spec never imports litellm).
LITELLM_PROVIDERS: frozenset[str] = frozenset(
    {
        "anthropic",
        "azure",
        "azure_ai",
        "bedrock",
        "cohere",
        "cohere_chat",
        "databricks",
        "gemini",
        "hosted_vllm",
        "huggingface",
        "litellm_proxy",
        "nvidia_nim",
        "ollama_chat",
        "openai",
        "replicate",
        "sagemaker",
        "vertex_ai",
        "watsonx",
        "ai21",
        "cloudflare",
        "fireworks_ai",
        "friendliai",
        "voyage",
        "text-completion-openai",
        "custom_openai",
    }
)


def wire_of(provider_type: str) -> Wire:
    """The wire path for a provider ``type``: ``openai`` for OpenAI-compatible ones."""
    info = KNOWN_PROVIDERS.get(provider_type)
    if provider_type == "openai" or (info is not None and info.wire == "openai"):
        return "openai"
    return "litellm"
