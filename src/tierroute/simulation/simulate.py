"""Monthly cost of routing a scenario's traffic: per tier line items, total, and the baseline.

Each tier's requests (``requests_per_month`` x ``share``) go to the tier's model; the baseline
sends every request, with the same tokens, to one model (the write-up's "before": everything on
GPT-4o). All arithmetic is in ``Decimal``: the write-up's line items come out to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tierroute.simulation.scenario import Pricing, Scenario, UnitPrice, unit_price


@dataclass(frozen=True)
class CostLine:
    """One tier's monthly requests, tokens, price and cost."""

    tier: str
    share: Decimal
    requests: Decimal
    model: str
    input_tokens: Decimal  # per request
    output_tokens: Decimal
    price: UnitPrice
    cost: Decimal

    @property
    def tokens(self) -> Decimal:
        """Total tokens of the month on this line."""
        return self.requests * (self.input_tokens + self.output_tokens)


@dataclass(frozen=True)
class Simulation:
    """A scenario priced one way."""

    scenario: Scenario
    pricing: Pricing
    lines: list[CostLine]
    total: Decimal
    baseline: Decimal | None  # every request on scenario.baseline_model; None if not priceable
    baseline_price: UnitPrice | None

    @property
    def requests(self) -> Decimal:
        """Requests in the month."""
        return sum((line.requests for line in self.lines), Decimal(0))

    @property
    def savings(self) -> Decimal | None:
        """Share of the baseline's cost that routing saves (negative: routing costs more)."""
        if not self.baseline:
            return None
        return 1 - self.total / self.baseline


def simulate(scenario: Scenario, pricing: Pricing) -> Simulation:
    """Price the scenario's month under ``pricing``."""
    lines = []
    for tier, traffic in scenario.tiers.items():
        requests = scenario.requests_per_month * traffic.share
        price = unit_price(scenario, traffic.model, pricing)
        cost = requests * price.cost(traffic.input_tokens, traffic.output_tokens)
        lines.append(
            CostLine(
                tier=tier,
                share=traffic.share,
                requests=requests,
                model=traffic.model,
                input_tokens=traffic.input_tokens,
                output_tokens=traffic.output_tokens,
                price=price,
                cost=cost,
            )
        )
    total = sum((line.cost for line in lines), Decimal(0))
    baseline = baseline_price = None
    if scenario.baseline_model is not None:
        facts = scenario.model_prices(scenario.baseline_model)
        if pricing == "genai-prices" or facts.flat_usd_per_mtok is not None:
            baseline_price = unit_price(scenario, scenario.baseline_model, pricing)
            baseline = sum(
                (
                    line.requests * baseline_price.cost(line.input_tokens, line.output_tokens)
                    for line in lines
                ),
                Decimal(0),
            )
    return Simulation(scenario, pricing, lines, total, baseline, baseline_price)
