"""Prices from the gateway config for offline figures: the report (``Pricing``) and ``eval``.

Both price each tier's primary model as the gateway does (config, else genai-prices).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tierroute.config import GatewayConfig
from tierroute.gateway.costs import PriceBook
from tierroute.reporting.queries import TokenCell
from tierroute.tier_costs import TOP_TIER, TierCost

# Prices a request: (provider:model, prompt tokens, completion tokens) -> USD, None if unknown.
PriceFn = Callable[[str, int, int], float | None]


@dataclass(frozen=True)
class Pricing:
    """Where tiers go and what tokens cost (from the gateway config's chains and prices)."""

    primary: dict[str, str]  # tier -> primary provider:model
    top_tier: str
    price: PriceFn

    @property
    def top_model(self) -> str | None:
        """The top tier's primary model: the "everything on the top model" counterfactual."""
        return self.primary.get(self.top_tier)


def priced(cells: Sequence[TokenCell], model: str | None, price: PriceFn) -> float | None:
    """USD of the requests in ``cells`` on ``model``; None when the model has no price."""
    if model is None:
        return None
    total = 0.0
    for cell in cells:
        # n requests of prompt size p: p*n input tokens at p's rate, their completions together.
        first = price(model, cell.prompt_tokens, cell.completion_tokens)
        rest = price(model, cell.prompt_tokens, 0) if cell.requests > 1 else 0.0
        if first is None or rest is None:
            return None
        total += first + (cell.requests - 1) * rest
    return total


def pricing_from_config(config: GatewayConfig) -> Pricing:
    """Tier chains and prices of the gateway config (config overrides, else genai-prices)."""
    book = PriceBook.from_config(config)

    def price(ref: str, prompt_tokens: int, completion_tokens: int) -> float | None:
        found = book.price(ref)
        return None if found is None else found.cost(prompt_tokens, completion_tokens)

    primary = {tier: config.chain(tier)[0] for tier in config.tiers}
    return Pricing(primary, TOP_TIER, price)


def tier_costs_from_config(config: GatewayConfig) -> dict[str, TierCost]:
    """Each tier's primary model priced as the gateway prices it (config, else genai-prices).

    Models without a known price cost 0 (the gateway logs which).
    """
    book = PriceBook.from_config(config)
    costs: dict[str, TierCost] = {}
    for tier in config.tiers:
        primary = config.chain(tier)[0]
        price = book.price(primary)
        if price is None:
            costs[tier] = TierCost(primary, 0.0, 0.0)
        else:
            costs[tier] = TierCost(primary, price.input.base, price.output.base)
    return costs
