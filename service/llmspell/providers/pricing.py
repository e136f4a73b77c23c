"""Token prices (USD per million tokens) and the cost of a call.

A short built-in table of common models, overridden and extended by ``[prices]`` in the
configuration (``[prices."openai/gpt-4o-mini"] input_per_mtok = 0.15`` ...). An unknown
model has an unknown cost: ``None``, never 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.config import Settings

__all__ = ["KNOWN_PRICES", "Price", "cost_usd", "price_for"]


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million input and output tokens."""

    input_per_mtok: float
    output_per_mtok: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok) / 1_000_000


KNOWN_PRICES: dict[str, Price] = {
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4-turbo": Price(10.00, 30.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    "o1": Price(15.00, 60.00),
    "o3": Price(2.00, 8.00),
    "o3-mini": Price(1.10, 4.40),
    "o4-mini": Price(1.10, 4.40),
    "claude-3-5-sonnet": Price(3.00, 15.00),
    "claude-3-7-sonnet": Price(3.00, 15.00),
    "claude-sonnet-4": Price(3.00, 15.00),
    "claude-3-5-haiku": Price(0.80, 4.00),
    "claude-3-haiku": Price(0.25, 1.25),
    "claude-3-opus": Price(15.00, 75.00),
    "claude-opus-4": Price(15.00, 75.00),
    "gemini-1.5-flash": Price(0.075, 0.30),
    "gemini-1.5-pro": Price(1.25, 5.00),
    "gemini-2.0-flash": Price(0.10, 0.40),
    "deepseek-chat": Price(0.27, 1.10),
    "deepseek-reasoner": Price(0.55, 2.19),
    "mistral-large-latest": Price(2.00, 6.00),
    "mistral-small-latest": Price(0.20, 0.60),
}

# Dated snapshots ("gpt-4o-mini-2024-07-18", "claude-3-5-sonnet-20241022") and
# "-latest" aliases share their family's price.
_SUFFIX = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|-latest)$")


def _candidates(provider: str, model: str) -> Iterator[str]:
    for name in (model, model.rsplit("/", 1)[-1]):
        yield f"{provider}/{name}"
        yield name
        stripped = _SUFFIX.sub("", name)
        if stripped != name:
            yield f"{provider}/{stripped}"
            yield stripped


def price_for(provider: str, model: str, settings: Settings | None = None) -> Price | None:
    """The price of ``provider``'s ``model``: configured prices first, then the built-in table."""
    configured = settings.prices if settings is not None else {}
    for key in _candidates(provider, model):
        if key in configured:
            entry = configured[key]
            return Price(entry.input_per_mtok, entry.output_per_mtok)
    for key in _candidates(provider, model):
        if key in KNOWN_PRICES:
            return KNOWN_PRICES[key]
    return None


def cost_usd(
    provider: str,
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    settings: Settings | None = None,
) -> float | None:
    """USD cost of the tokens, or None when the model's price is unknown."""
    price = price_for(provider, model, settings)
    return None if price is None else price.cost(prompt_tokens, completion_tokens)
