"""Request cost in USD: input and output tokens priced apart, per model.

Prices come from the config's ``[prices]`` table when a model has one, otherwise from the
``genai-prices`` package, looked up once per model at start-up. genai-prices' own ``calc_price``
takes ~100 µs a call (Decimal arithmetic, lookups); the gateway prices every request, so the
looked-up rates are kept as floats, threshold tiers included (a long-context surcharge applies to
all tokens once the input crosses it, as genai-prices computes it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import genai_prices

from tierroute.config import GatewayConfig, split_model_ref

logger = logging.getLogger(__name__)

_MTOK = 1_000_000.0


@dataclass(frozen=True, slots=True)
class Rate:
    """USD per million tokens of one direction; ``tiers`` = ((input tokens above, rate), ...)."""

    base: float
    tiers: tuple[tuple[int, float], ...] = ()

    def per_mtok(self, input_tokens: int) -> float:
        """The rate that applies when the request has ``input_tokens`` input tokens."""
        for start, rate in reversed(self.tiers):
            if input_tokens > start:
                return rate
        return self.base


@dataclass(frozen=True, slots=True)
class Price:
    """A model's input and output rates and where they came from."""

    input: Rate
    output: Rate
    source: str  # "config" or "genai-prices"

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for one request."""
        return (
            prompt_tokens * self.input.per_mtok(prompt_tokens)
            + completion_tokens * self.output.per_mtok(prompt_tokens)
        ) / _MTOK


def _rate(value: Any) -> Rate | None:
    if value is None:
        return None
    if isinstance(value, Decimal | int | float):
        return Rate(float(value))
    base = getattr(value, "base", None)
    tiers = getattr(value, "tiers", None)
    if base is None or tiers is None:
        return None
    return Rate(float(base), tuple((int(t.start), float(t.price)) for t in tiers))


def lookup_genai_price(
    model: str, *, provider_id: str | None = None, base_url: str | None = None
) -> Price | None:
    """Rates from genai-prices: by provider id, else by API URL, else by model name alone."""
    candidates: list[tuple[str | None, str | None]] = []
    if provider_id:
        candidates.append((provider_id, None))
    if base_url:
        candidates.append((None, base_url))
    candidates.append((None, None))
    names = [model]
    if "/" in model:  # aggregator names such as "google/gemini-2.5-flash"
        names.append(model.rsplit("/", 1)[1])
    empty = genai_prices.Usage(input_tokens=0, output_tokens=0)
    for name in names:
        for by_id, by_url in candidates:
            try:
                if by_id is not None:
                    calc = genai_prices.calc_price(empty, name, provider_id=by_id)
                else:
                    calc = genai_prices.calc_price(empty, name, provider_api_url=by_url)
            except LookupError:
                continue
            input_rate = _rate(getattr(calc.model_price, "input_mtok", None))
            output_rate = _rate(getattr(calc.model_price, "output_mtok", None))
            if input_rate is not None and output_rate is not None:
                return Price(input_rate, output_rate, "genai-prices")
    return None


class PriceBook:
    """Prices of every configured model, resolved once."""

    def __init__(self, prices: Mapping[str, Price | None]) -> None:
        self._prices = dict(prices)

    @classmethod
    def from_config(cls, config: GatewayConfig) -> PriceBook:
        """Config overrides first, then genai-prices; unpriced models are logged once."""
        prices: dict[str, Price | None] = {}
        for ref in config.model_names():
            override = config.prices.get(ref)
            if override is not None:
                prices[ref] = Price(Rate(override.input), Rate(override.output), "config")
                continue
            provider_name, model = split_model_ref(ref)
            provider = config.providers[provider_name]
            prices[ref] = lookup_genai_price(
                model, provider_id=provider.price_provider, base_url=provider.base_url
            )
        book = cls(prices)
        if book.unpriced():
            logger.warning(
                'no price known for %s: their cost counts as 0; set [prices."provider:model"]',
                ", ".join(book.unpriced()),
            )
        return book

    def price(self, ref: str) -> Price | None:
        """The model's price, None when unknown."""
        return self._prices.get(ref)

    def cost(self, ref: str, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for one request on ``ref``; 0.0 when its price is unknown."""
        price = self._prices.get(ref)
        return price.cost(prompt_tokens, completion_tokens) if price is not None else 0.0

    def unpriced(self) -> Sequence[str]:
        """Models whose price is unknown."""
        return [ref for ref, price in self._prices.items() if price is None]
