"""Agent definitions as JSON (what ``POST /v1/agents`` takes and the daemon stores).

An LLM agent::

    {"name": "helper", "model": "openai/gpt-4o-mini", "system_prompt": "...",
     "tools": ["calculator"], "temperature": 0.2, "max_tokens": 500,
     "max_tool_calls": 8, "timeout_s": 30, "memory_limit": 50,
     "response_format": {...}, "base_url": "...", "api_key": "...",
     "description": "...", "capabilities": ["math"]}

``model`` may also be a full provider configuration object:
``{"provider"|"type": "openai", "name"|"model": "gpt-4o-mini", "base_url": ..., "api_key": ...,
"temperature": ..., "max_tokens": ...}``; it is flattened into the fields above.

A composite agent over other stored agents::

    {"name": "team", "type": "pipeline"|"delegate", "agents": ["researcher", "writer"],
     "default": "writer", "router": "router-agent"}

Every mistake is a ``VALIDATION`` error naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..core.errors import ValidationError
from .llm_agent import AgentConfig

__all__ = ["AGENT_TYPES", "config_from_definition", "normalize_definition", "public_definition"]

AGENT_TYPES: Final = ("llm", "delegate", "pipeline")

_LLM_FIELDS: Final = {
    "name",
    "type",
    "model",
    "system_prompt",
    "temperature",
    "max_tokens",
    "base_url",
    "api_key",
    "tools",
    "max_tool_calls",
    "timeout_s",
    "memory_limit",
    "response_format",
    "description",
    "capabilities",
}
_ALIASES: Final = {"system": "system_prompt", "timeout": "timeout_s"}
_MODEL_FIELDS: Final = {
    "provider",
    "type",
    "name",
    "model",
    "base_url",
    "api_key",
    "temperature",
    "max_tokens",
    "response_format",
}
_COMPOSITE_FIELDS: Final = {"name", "type", "agents", "default", "router", "description", "capabilities"}
_CONFIG_FIELDS: Final = _LLM_FIELDS - {"type", "description", "capabilities"}


def _fail(field: str, message: str) -> ValidationError:
    return ValidationError(f"{field} {message}", details={"field": field})


def _names(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, dict) and not value:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise _fail(field, "must be a list of names")
    return list(value)


def _model(value: Any, out: dict[str, Any]) -> None:
    """Flatten ``model`` (a spec string or a provider configuration object) into ``out``."""
    if isinstance(value, str):
        if not value.strip():
            raise _fail("model", "must be 'provider/model' or a provider configuration object")
        out["model"] = value.strip()
        return
    if not isinstance(value, Mapping):
        raise _fail("model", "must be 'provider/model' or a provider configuration object")
    unknown = sorted(set(value) - _MODEL_FIELDS)
    if unknown:
        raise _fail(f"model.{unknown[0]}", f"is not a model field ({', '.join(sorted(_MODEL_FIELDS))})")
    provider = value.get("provider") or value.get("type")
    name = value.get("name") or value.get("model")
    if not isinstance(name, str) or not name.strip():
        raise _fail("model.name", "is required (the model's name, e.g. 'gpt-4o-mini')")
    if provider is not None and (not isinstance(provider, str) or not provider.strip()):
        raise _fail("model.provider", "must be a provider name such as 'openai'")
    out["model"] = f"{provider.strip()}/{name.strip()}" if provider else name.strip()
    for key in ("base_url", "api_key", "temperature", "max_tokens", "response_format"):
        if value.get(key) is not None:
            out.setdefault(key, value[key])


def normalize_definition(body: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``body`` and return the canonical definition the daemon stores.

    Raises:
        ValidationError: an unknown or malformed field (``details.field`` names it).
    """
    if not isinstance(body, Mapping):
        raise _fail("definition", "must be a JSON object")
    raw = {_ALIASES.get(key, key): value for key, value in body.items()}
    kind = raw.get("type") or "llm"
    if kind not in AGENT_TYPES:
        raise _fail("type", f"must be one of {', '.join(AGENT_TYPES)}, got {kind!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or "/" in name:
        raise _fail("name", "must be 1 to 200 characters without '/'")
    capabilities = _names(raw.get("capabilities"), "capabilities")
    description = raw.get("description") or ""
    if not isinstance(description, str):
        raise _fail("description", "must be a string")
    if kind != "llm":
        unknown = sorted(set(raw) - _COMPOSITE_FIELDS)
        if unknown:
            raise _fail(
                unknown[0], f"is not a field of {kind} agents ({', '.join(sorted(_COMPOSITE_FIELDS))})"
            )
        agents = _names(raw.get("agents"), "agents")
        if not agents:
            raise _fail("agents", "needs at least one stored agent name")
        if name in agents:
            raise _fail("agents", f"must not contain the composite itself ({name!r})")
        out: dict[str, Any] = {"name": name, "type": kind, "agents": agents}
        for key in ("default", "router"):
            if raw.get(key) is not None:
                if kind != "delegate":
                    raise _fail(key, "is only a field of delegate agents")
                if not isinstance(raw[key], str) or not raw[key]:
                    raise _fail(key, "must be an agent name")
                out[key] = raw[key]
        if out.get("default") is not None and out["default"] not in agents:
            raise _fail("default", f"must be one of the agents ({', '.join(agents)})")
        return {**out, "description": description, "capabilities": capabilities}
    unknown = sorted(set(raw) - _LLM_FIELDS)
    if unknown:
        raise _fail(unknown[0], f"is not an agent field ({', '.join(sorted(_LLM_FIELDS))})")
    out = {key: value for key, value in raw.items() if key != "model" and value is not None}
    if raw.get("model") is None:
        raise _fail("model", "is required: 'provider/model' or {provider, name, base_url, api_key}")
    _model(raw["model"], out)
    out["tools"] = _names(raw.get("tools"), "tools")
    out.update(type="llm", description=description, capabilities=capabilities)
    config_from_definition(out)  # every field checked the way agents will be built
    return out


def config_from_definition(definition: Mapping[str, Any]) -> AgentConfig:
    """The :class:`AgentConfig` of a canonical LLM definition.

    Raises:
        ValidationError: a field is out of range.
    """
    fields = {key: value for key, value in definition.items() if key in _CONFIG_FIELDS}
    fields["tools"] = tuple(fields.get("tools") or ())
    for key in ("temperature", "timeout_s"):
        if key in fields and (isinstance(fields[key], bool) or not isinstance(fields[key], int | float)):
            raise _fail(key, "must be a number")
    for key in ("system_prompt", "base_url", "api_key"):
        if key in fields and not isinstance(fields[key], str):
            raise _fail(key, "must be a string")
    if "response_format" in fields and not isinstance(fields["response_format"], Mapping):
        raise _fail("response_format", 'must be an object such as {"type": "json_object"}')
    return AgentConfig(**fields)


def public_definition(definition: Mapping[str, Any]) -> dict[str, Any]:
    """``definition`` without secrets: ``api_key`` becomes ``has_api_key``."""
    view = {key: value for key, value in definition.items() if key != "api_key"}
    if definition.get("type", "llm") == "llm":
        view["has_api_key"] = bool(definition.get("api_key"))
    return view
