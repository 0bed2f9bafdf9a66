"""Cost scenarios (``config/scenarios/*.toml``): traffic, tier mix, tokens and prices per tier.

A scenario says how many requests a month arrive, what share of them belongs to each tier, how
many input and output tokens such a request has on average, and which model serves the tier.
Prices come in two kinds, chosen when the scenario is priced:

- ``flat``: one USD-per-million-tokens figure applied to all tokens, input and output alike,
  the way the original write-up did its arithmetic (``flat_usd_per_mtok`` per model);
- ``genai-prices``: input and output priced apart, from the scenario's own
  ``input_usd_per_mtok``/``output_usd_per_mtok`` when set, else looked up in the genai-prices
  package through ``tierroute.gateway.costs`` (the gateway's own price source).

Numbers are read as ``Decimal`` so that the write-up's figures come out exactly.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tierroute.config import validation_message
from tierroute.exceptions import ConfigError
from tierroute.gateway.costs import Rate, lookup_genai_price
from tierroute.text_input import read_utf8

Pricing = Literal["flat", "genai-prices"]
PRICINGS: tuple[Pricing, ...] = ("flat", "genai-prices")
_MTOK = Decimal(1_000_000)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelPrices(_Section):
    """Price facts about one model; any may be left out."""

    provider: str | None = None  # genai-prices provider id, e.g. "google", "anthropic"
    flat_usd_per_mtok: Decimal | None = Field(default=None, ge=0)
    input_usd_per_mtok: Decimal | None = Field(default=None, ge=0)
    output_usd_per_mtok: Decimal | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _both_or_neither(self) -> ModelPrices:
        if (self.input_usd_per_mtok is None) != (self.output_usd_per_mtok is None):
            raise ValueError("set both input_usd_per_mtok and output_usd_per_mtok, or neither")
        return self


class TierTraffic(_Section):
    """One tier's share of traffic, its model and its average tokens per request."""

    share: Decimal = Field(ge=0, le=1)
    model: str = Field(min_length=1)
    input_tokens: Decimal = Field(ge=0)
    output_tokens: Decimal = Field(ge=0)


class Scenario(_Section):
    """A monthly traffic and price scenario."""

    name: str = ""
    requests_per_month: Decimal = Field(gt=0)
    baseline_model: str | None = None  # the "before": every request on this one model
    # A known monthly bill to hold the figures against (e.g. the write-up's $4,200 before routing).
    reference_usd: Decimal | None = Field(default=None, ge=0)
    reference_label: str = "reference"
    tiers: dict[str, TierTraffic] = Field(min_length=1)
    models: dict[str, ModelPrices] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> Scenario:
        total = sum((tier.share for tier in self.tiers.values()), Decimal(0))
        if abs(total - 1) > Decimal("1e-9"):
            raise ValueError(f"tiers: shares add up to {total}, not 1")
        return self

    def model_prices(self, model: str) -> ModelPrices:
        """The scenario's price facts about ``model`` (empty when it lists none)."""
        return self.models.get(model, ModelPrices())


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario TOML; ConfigError names the file and the bad key."""
    try:
        data = tomllib.loads(read_utf8(path, ConfigError), parse_float=Decimal)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return Scenario(**data)
    except ValidationError as exc:
        raise ConfigError(validation_message(str(path), exc)) from exc


@dataclass(frozen=True)
class UnitPrice:
    """USD per million tokens for one model under one pricing kind."""

    model: str
    pricing: Pricing
    input: Rate | None = None  # genai-prices kind
    output: Rate | None = None
    flat: Decimal | None = None  # flat kind
    source: str = ""

    def input_rate(self, input_tokens: Decimal) -> Decimal:
        """USD per MTok of input at this request size."""
        if self.flat is not None:
            return self.flat
        assert self.input is not None
        return Decimal(str(self.input.per_mtok(int(input_tokens))))

    def output_rate(self, input_tokens: Decimal) -> Decimal:
        """USD per MTok of output (long-context surcharges depend on the input size)."""
        if self.flat is not None:
            return self.flat
        assert self.output is not None
        return Decimal(str(self.output.per_mtok(int(input_tokens))))

    def cost(self, input_tokens: Decimal, output_tokens: Decimal) -> Decimal:
        """USD for one request of this size."""
        return (
            input_tokens * self.input_rate(input_tokens)
            + output_tokens * self.output_rate(input_tokens)
        ) / _MTOK


def unit_price(scenario: Scenario, model: str, pricing: Pricing) -> UnitPrice:
    """The model's price under ``pricing``; ConfigError when the scenario cannot price it."""
    facts = scenario.model_prices(model)
    if pricing == "flat":
        if facts.flat_usd_per_mtok is None:
            raise ConfigError(
                f'models."{model}".flat_usd_per_mtok: not set; flat pricing needs one price '
                "per model (or price with genai-prices)"
            )
        return UnitPrice(model, pricing, flat=facts.flat_usd_per_mtok, source="scenario (flat)")
    if facts.input_usd_per_mtok is not None and facts.output_usd_per_mtok is not None:
        return UnitPrice(
            model,
            pricing,
            input=Rate(float(facts.input_usd_per_mtok)),
            output=Rate(float(facts.output_usd_per_mtok)),
            source="scenario",
        )
    found = lookup_genai_price(model, provider_id=facts.provider)
    if found is None:
        raise ConfigError(
            f'models."{model}": genai-prices does not know this model'
            + (f" at provider {facts.provider!r}" if facts.provider else "")
            + "; set input_usd_per_mtok and output_usd_per_mtok"
        )
    return UnitPrice(model, pricing, input=found.input, output=found.output, source=found.source)
