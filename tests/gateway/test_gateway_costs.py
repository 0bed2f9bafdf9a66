"""Prices: input and output apart, config overrides, genai-prices defaults, tiered rates."""

from __future__ import annotations

import genai_prices
import pytest

from tierroute.config import GatewayConfig
from tierroute.gateway.costs import Price, PriceBook, Rate, lookup_genai_price


def test_input_and_output_are_priced_apart() -> None:
    price = Price(Rate(0.28), Rate(0.42), "config")
    # 1,000 in + 3,000 out: 0.28 * 1e-3 + 0.42 * 3e-3 (not 4,000 tokens at one price).
    assert price.cost(1_000, 3_000) == pytest.approx(0.00028 + 0.00126)
    assert price.cost(1_000, 3_000) != pytest.approx(price.cost(3_000, 1_000))


def test_config_override_beats_genai_prices_and_unknown_models_cost_zero() -> None:
    config = GatewayConfig.model_validate(
        {
            "providers": {
                "openai": {"base_url": "https://api.openai.com/v1", "api_key_env": "OPENAI_KEY"},
                "local": {"base_url": "http://127.0.0.1:11434/v1"},
            },
            "tiers": {
                "moderate_conv": {"models": ["openai:gpt-4.1", "local:my-llama", "local:other"]}
            },
            "prices": {"local:my-llama": {"input": 0.5, "output": 1.5}},
        }
    )
    book = PriceBook.from_config(config)
    gpt = book.price("openai:gpt-4.1")
    assert gpt is not None and gpt.source == "genai-prices"
    expected = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=1234, output_tokens=567), "gpt-4.1", provider_id="openai"
    )
    assert book.cost("openai:gpt-4.1", 1234, 567) == pytest.approx(float(expected.total_price))
    assert book.cost("local:my-llama", 2_000_000, 1_000_000) == pytest.approx(2.5)
    assert book.unpriced() == ["local:other"]
    assert book.cost("local:other", 1000, 1000) == 0.0


def test_aggregator_names_resolve_and_tiered_prices_match_genai_prices() -> None:
    price = lookup_genai_price(
        "anthropic/claude-sonnet-4.5", base_url="https://openrouter.ai/api/v1"
    )
    assert price is not None and price.input.tiers  # long-context surcharge present
    for prompt, completion in [(1_000, 500), (250_000, 2_000)]:
        expected = genai_prices.calc_price(
            genai_prices.Usage(input_tokens=prompt, output_tokens=completion),
            "anthropic/claude-sonnet-4.5",
            provider_id="openrouter",
        )
        assert price.cost(prompt, completion) == pytest.approx(float(expected.total_price))


def test_default_config_prices_every_model() -> None:
    from tierroute.config import load_gateway_config

    assert list(PriceBook.from_config(load_gateway_config(None)).unpriced()) == []
