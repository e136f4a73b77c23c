"""LLM providers: model specs, the chat-model interface, the httpx and litellm paths.

Importing this package is cheap (no httpx, no litellm): the wire modules load when a
model of theirs is first created with :func:`get_chat_model`.
"""

from __future__ import annotations

from .abc import (
    ChatChunk,
    ChatMessage,
    ChatModel,
    ChatRequest,
    ChatResponse,
    ContentPart,
    FinishReason,
    TokenUsage,
    ToolCall,
    ToolSpec,
)
from .capabilities import Capabilities, capabilities_for
from .catalog import KNOWN_PROVIDERS, ProviderInfo
from .pricing import Price, cost_usd, price_for
from .registry import clear_model_cache, get_chat_model, get_provider, list_providers
from .retry import RetryPolicy
from .spec import ModelSpec, parse_model_spec

__all__ = [
    "KNOWN_PROVIDERS",
    "Capabilities",
    "ChatChunk",
    "ChatMessage",
    "ChatModel",
    "ChatRequest",
    "ChatResponse",
    "ContentPart",
    "FinishReason",
    "ModelSpec",
    "Price",
    "ProviderInfo",
    "RetryPolicy",
    "TokenUsage",
    "ToolCall",
    "ToolSpec",
    "capabilities_for",
    "clear_model_cache",
    "cost_usd",
    "get_chat_model",
    "get_provider",
    "list_providers",
    "parse_model_spec",
    "price_for",
]
