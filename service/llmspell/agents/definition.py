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

:func:`agent_from_definition` builds the agent of a stored definition (the daemon's
``/v1/agents/{name}/execute`` and scripts' ``Agent.get`` of a stored agent both use it);
:func:`stored_agent_info` describes one the way ``Agent.list`` describes live agents.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from ..core.errors import LLMSpellError, NotFound, ValidationError
from .composite import DelegateAgent, PipelineAgent
from .llm_agent import AgentConfig, LLMAgent

if TYPE_CHECKING:
    from ..core.abc import BaseAgent
    from ..core.config import Settings
    from .abc import ToolProvider

__all__ = [
    "AGENT_TYPES",
    "MAX_DEPTH",
    "DefinitionLoader",
    "agent_from_definition",
    "config_from_definition",
    "normalize_definition",
    "public_definition",
    "stored_agent_info",
]

AGENT_TYPES: Final = ("llm", "delegate", "pipeline")
MAX_DEPTH: Final = 8
"""How deep stored composites may nest (deeper is taken for a cycle)."""

DefinitionLoader = Callable[[str], Awaitable[Mapping[str, Any]]]
"""``load(name)`` → the stored definition called ``name``; raises NotFound."""

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


async def agent_from_definition(
    definition: Mapping[str, Any],
    load: DefinitionLoader,
    *,
    tools: ToolProvider | None = None,
    settings: Settings | None = None,
) -> BaseAgent:
    """A fresh agent for the canonical ``definition``.

    The members and router of a composite are stored agents: ``load`` gives their
    definitions, built the same way. Nothing is registered anywhere.

    Args:
        definition: a definition as :func:`normalize_definition` returns it.
        load: where member definitions come from.
        tools: the tool source of the LLM agents built.
        settings: model resolution and prices of the LLM agents built.

    Raises:
        NotFound: a member (or router) is not stored.
        ValidationError: composites nest more than :data:`MAX_DEPTH` deep (a cycle?).
        ConfigError: a model spec the configuration cannot resolve.
    """
    return await _build(definition, load, tools, settings, 0)


async def _build(
    definition: Mapping[str, Any],
    load: DefinitionLoader,
    tools: ToolProvider | None,
    settings: Settings | None,
    depth: int,
) -> BaseAgent:
    name = str(definition["name"])
    if depth > MAX_DEPTH:
        raise ValidationError(
            f"agent {name!r} nests composites more than {MAX_DEPTH} deep (a cycle?)", details={"agent": name}
        )
    kind = definition.get("type", "llm")
    if kind == "llm":
        return LLMAgent(config_from_definition(definition), tools=tools, settings=settings)

    async def member(member_name: str) -> BaseAgent:
        return await _build(await load(member_name), load, tools, settings, depth + 1)

    members = [await member(member_name) for member_name in definition["agents"]]
    description = str(definition.get("description", ""))
    if kind == "pipeline":
        return PipelineAgent(name, members, description=description)
    router = definition.get("router")
    return DelegateAgent(
        name,
        members,
        router=await member(router) if router else None,
        default=definition.get("default"),
        description=description,
    )


async def stored_agent_info(
    definition: Mapping[str, Any],
    definitions: Mapping[str, Mapping[str, Any]],
    *,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """The :func:`~llmspell.agents.registry.agent_info` of the agent ``definition`` builds.

    ``definitions`` (name → definition) holds the composites' members. A definition that
    cannot be built (a member deleted since, a model the configuration cannot resolve) is
    described from its JSON with ``state: "error"`` and ``error`` (why), so that one broken
    definition does not hide the others.
    """
    from .registry import agent_info

    async def load(name: str) -> Mapping[str, Any]:
        found = definitions.get(name)
        if found is None:
            raise NotFound.named("agent", name)
        return found

    def declared(name: str) -> tuple[str, ...]:
        return tuple((definitions.get(name) or {}).get("capabilities") or ())

    name = str(definition["name"])
    try:
        agent = await agent_from_definition(definition, load, settings=settings)
    except LLMSpellError as exc:
        info: dict[str, Any] = {
            "name": name,
            "type": definition.get("type", "llm"),
            "model": definition.get("model"),
            "tools": list(definition.get("tools") or ()),
            "state": "error",
            "capabilities": sorted(set(declared(name))),
            "error": exc.message,
        }
        if "agents" in definition:
            info["agents"] = list(definition["agents"])
        return info
    return agent_info(agent, declared(name), declared)
