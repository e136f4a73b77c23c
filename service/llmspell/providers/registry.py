"""Chat-model construction (cached) and the provider listing behind ``Provider.list()/get()``.

The wire path is chosen through one static table of lazily imported names, so neither
httpx nor litellm is imported before a model of theirs is created.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from .catalog import KNOWN_PROVIDERS, wire_of
from .spec import ModelSpec

if TYPE_CHECKING:
    from ..core.config import Settings
    from .abc import ChatModel

__all__ = ["clear_model_cache", "get_chat_model", "get_provider", "list_providers", "model_wrapper"]

_WIRES: dict[str, str] = {
    "openai": "llmspell.providers.openai_compat:OpenAICompatModel",
    "litellm": "llmspell.providers.litellm_adapter:LiteLLMModel",
}

_MAX_CACHED = 256
_models: dict[ModelSpec, ChatModel] = {}
_models_lock = threading.Lock()


#: The interception point for the current run (session recording and replay): when set,
#: every model :func:`get_chat_model` hands out in this context is passed through it.
model_wrapper: ContextVar[Callable[[ChatModel], ChatModel] | None] = ContextVar(
    "llmspell_model_wrapper", default=None
)


def get_chat_model(spec: ModelSpec) -> ChatModel:
    """The chat model for ``spec`` (one instance per distinct spec; connections are pooled),
    wrapped by :data:`model_wrapper` when the current context sets one.

    Raises:
        ProviderError: the spec lacks what its wire path needs (e.g. a base URL).
        ConfigError: the wire path's library is not installed.
    """
    wrap = model_wrapper.get()
    model = _cached_model(spec)
    return model if wrap is None else wrap(model)


def _cached_model(spec: ModelSpec) -> ChatModel:
    model = _models.get(spec)
    if model is not None:
        return model
    module_name, _, attribute = _WIRES[spec.wire].partition(":")
    factory = getattr(importlib.import_module(module_name), attribute)
    created: ChatModel = factory(spec)
    with _models_lock:
        if len(_models) >= _MAX_CACHED:
            _models.pop(next(iter(_models)))
        return _models.setdefault(spec, created)


def clear_model_cache() -> None:
    """Forget the cached models (their pooled clients stay with their event loops)."""
    with _models_lock:
        _models.clear()


_NO_VISION_MODELS = frozenset({"deepseek", "cerebras", "perplexity", "cohere"})


def _describe(
    name: str, provider_type: str, base_url: str | None, *, configured: bool, key: bool
) -> dict[str, Any]:
    # Provider-level flags say whether *some* model of the provider has the capability;
    # ``capabilities_for(type, model)`` decides per model.
    return {
        "name": name,
        "type": provider_type,
        "wire": wire_of(provider_type),
        "base_url": base_url,
        "configured": configured,
        "has_api_key": key,
        "capabilities": {
            "streaming": True,
            "tools": True,
            "vision": provider_type not in _NO_VISION_MODELS,
            "json_schema": provider_type not in _NO_VISION_MODELS,
        },
        "model_dependent": ["vision", "json_schema"],
    }


def list_providers(settings: Settings | None = None) -> list[dict[str, Any]]:
    """Configured providers first, then built-in ones: name, type, wire, base_url, capabilities.

    Never includes secrets: ``has_api_key`` says whether a key is available.
    """
    from .spec import parse_model_spec

    if settings is None:
        from ..core.config import get_settings

        settings = get_settings()
    listed: list[dict[str, Any]] = []
    names = list(settings.providers) + [name for name in KNOWN_PROVIDERS if name not in settings.providers]
    for name in names:
        spec = parse_model_spec(f"{name}/model", settings)
        entry = _describe(
            name,
            spec.type,
            spec.base_url,
            configured=name in settings.providers,
            key=spec.api_key is not None,
        )
        entry["default"] = name == settings.default_provider
        listed.append(entry)
    return listed


def get_provider(name: str, settings: Settings | None = None) -> dict[str, Any] | None:
    """One entry of :func:`list_providers`, or None when no provider has that name."""
    for entry in list_providers(settings):
        if entry["name"] == name:
            return entry
    return None
