"""Per-model quirks: what a model accepts (streaming, tools, vision, JSON schema output).

Decided from the provider type and the model name by a short table of patterns. Unknown
models of OpenAI-compatible servers are assumed to stream and call tools but not to see
images: a wrong "no" gives a clear error, a wrong "yes" a confusing provider error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Capabilities", "capabilities_for"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Capabilities:
    """What a model accepts."""

    streaming: bool = True
    tools: bool = True
    vision: bool = False
    json_schema: bool = False

    def names(self) -> list[str]:
        """The names of the capabilities that are on, e.g. ``["streaming", "tools"]``."""
        flags = {"streaming": self.streaming, "tools": self.tools, "vision": self.vision}
        flags["json_schema"] = self.json_schema
        return [name for name, on in flags.items() if on]

    def to_dict(self) -> dict[str, bool]:
        return {
            "streaming": self.streaming,
            "tools": self.tools,
            "vision": self.vision,
            "json_schema": self.json_schema,
        }


_VISION = re.compile(
    r"gpt-4o|gpt-4\.1|gpt-4-turbo|gpt-4-vision|gpt-5|o1(?!-mini)|o3|o4|chatgpt-4o|claude-3|claude-(opus|sonnet|haiku)"
    r"|gemini|llava|bakllava|vision|-vl\b|-vl-|qwen2\.5-vl|pixtral|gemma3|llama-?3\.2-?(11|90)b|moondream|minicpm-v",
    re.IGNORECASE,
)
_JSON_SCHEMA = re.compile(
    r"gpt-4o|gpt-4\.1|gpt-5|o1|o3|o4|gemini|claude-(3|opus|sonnet|haiku)", re.IGNORECASE
)
_NO_TOOLS = re.compile(r"gpt-3\.5-turbo-instruct|davinci|babbage|o1-mini|o1-preview|embedding", re.IGNORECASE)
_ANY_JSON_SCHEMA_TYPES = frozenset({"vllm", "ollama", "llamacpp", "lmstudio"})


def capabilities_for(provider_type: str, model: str) -> Capabilities:
    """Capabilities of ``model`` served by a provider of type ``provider_type``."""
    name = model.rsplit("/", 1)[-1] if "/" in model else model
    vision = bool(_VISION.search(name))
    tools = not _NO_TOOLS.search(name)
    json_schema = bool(_JSON_SCHEMA.search(name)) or provider_type in _ANY_JSON_SCHEMA_TYPES
    return Capabilities(streaming=True, tools=tools, vision=vision, json_schema=json_schema)
