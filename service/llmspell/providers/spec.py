"""Model specs: the one parser of ``provider/model`` strings.

Grammar::

    spec     := model | provider "/" model
    model    := segment ("/" segment)*      # routed: openrouter/meta/llama → model "meta/llama"
    provider := a named provider from config | a built-in provider | a litellm provider

A bare model uses ``settings.default_provider``. Endpoint and key precedence (first set
wins): explicit per-agent override, the named provider's config, ``settings.base_url`` /
``settings.api_key`` (``LLMSPELL_BASE_URL`` / ``LLMSPELL_API_KEY``; OpenAI-compatible and
default providers only), the provider's environment variables (``OPENAI_API_KEY``,
``OPENAI_BASE_URL``, ...), the provider's default endpoint.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..core.errors import ConfigError
from .catalog import KNOWN_PROVIDERS, LITELLM_PROVIDERS, Wire, wire_of

if TYPE_CHECKING:
    from ..core.config import Settings

__all__ = ["ModelSpec", "parse_model_spec"]

_DEFAULT_TIMEOUT_S = 60.0
_DEFAULT_MAX_RETRIES = 3


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelSpec:
    """A resolved model: which provider, which model, where and with which key.

    Attributes:
        provider: the provider name as written (or the default provider's name).
        model: the model name sent to the provider (may contain ``/`` for routed providers).
        type: the provider type deciding the wire protocol (``openai``, ``ollama``,
            ``anthropic``, ``litellm``, ...).
        base_url: the endpoint, or None to let the provider's library decide.
        api_key: the key, or None (never shown in ``repr``).
        timeout_s: the per-attempt HTTP timeout.
        max_retries: retries after the first attempt on 429/5xx/connection errors.
        spec: the text that was parsed.
    """

    provider: str
    model: str
    type: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = _DEFAULT_TIMEOUT_S
    max_retries: int = _DEFAULT_MAX_RETRIES
    spec: str = ""

    @property
    def wire(self) -> Wire:
        """``openai`` for the direct httpx path, ``litellm`` for everything else."""
        return wire_of(self.type)

    @property
    def label(self) -> str:
        """``provider/model``, as reported in outputs and used for pricing."""
        return f"{self.provider}/{self.model}"

    @property
    def litellm_model(self) -> str:
        """The model name as litellm expects it (``anthropic/claude-...``, ``openai/x``...)."""
        if self.type == "litellm":
            if "/" in self.model or self.base_url is None:
                return self.model
            return f"openai/{self.model}"
        return f"{self.type}/{self.model}"


def parse_model_spec(
    spec: str,
    settings: Settings | None = None,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
) -> ModelSpec:
    """Parse ``spec`` into a :class:`ModelSpec` using ``settings`` (default: the process settings).

    Args:
        spec: ``model``, ``provider/model`` or ``provider/sub/model``.
        settings: the configuration; read with ``get_settings()`` when omitted.
        base_url: a per-agent endpoint override.
        api_key: a per-agent key override.

    Raises:
        ConfigError: the spec is empty or malformed, or names an unknown provider.
    """
    text = spec.strip() if isinstance(spec, str) else ""
    if not text:
        raise ConfigError("empty model spec: use 'provider/model', e.g. 'openai/gpt-4o-mini'")
    if text.startswith("/") or text.endswith("/") or "//" in text:
        raise ConfigError(
            f"model spec {text!r} has an empty provider or model part: use 'provider/model'",
            details={"spec": text},
        )
    if settings is None:
        from ..core.config import get_settings

        settings = get_settings()
    head, sep, rest = text.partition("/")
    provider, model = (head, rest) if sep else (settings.default_provider, text)
    named = settings.providers.get(provider)
    provider_type = named.type if named is not None else provider
    if not _is_known_type(provider_type):
        if named is not None:
            raise ConfigError(
                f"provider {provider!r} has unknown type {provider_type!r}: use 'openai' (any "
                "OpenAI-compatible server), 'litellm', or a provider name such as 'anthropic'",
                details={"provider": provider, "type": provider_type},
            )
        raise ConfigError(
            f"unknown provider {provider!r} in model spec {text!r}: add [providers.{provider}] "
            f"to llmspell.toml or use one of {', '.join(sorted(KNOWN_PROVIDERS))}",
            details={"spec": text, "provider": provider},
        )
    info = KNOWN_PROVIDERS.get(provider_type)
    general = wire_of(provider_type) == "openai" or provider == settings.default_provider
    settings_key = settings.api_key.get_secret_value() if settings.api_key is not None else None
    resolved_url = _first(
        base_url,
        named.base_url if named is not None else None,
        settings.base_url if general else None,
        os.environ.get(info.base_url_env) if info is not None and info.base_url_env else None,
        info.base_url if info is not None else None,
    )
    resolved_key = _first(
        api_key,
        named.resolved_api_key() if named is not None else None,
        settings_key if general else None,
        os.environ.get(info.api_key_env) if info is not None and info.api_key_env else None,
    )
    return ModelSpec(
        provider=provider,
        model=model,
        type=provider_type,
        base_url=resolved_url.rstrip("/") if resolved_url else None,
        api_key=resolved_key,
        timeout_s=named.timeout_s if named is not None else _DEFAULT_TIMEOUT_S,
        max_retries=named.max_retries if named is not None else _DEFAULT_MAX_RETRIES,
        spec=text,
    )


def _is_known_type(provider_type: str) -> bool:
    return (
        provider_type in ("openai", "litellm")
        or provider_type in KNOWN_PROVIDERS
        or (provider_type in LITELLM_PROVIDERS)
    )


def _first(*values: str | None) -> str | None:
    for value in values:
        if value:
            return value
    return None
