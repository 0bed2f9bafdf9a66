"""The cost simulator: the write-up's figures exactly, and the honest input/output figure."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import genai_prices
import pytest

from tests.conftest import REPO
from tierroute.exceptions import ConfigError
from tierroute.simulation.scenario import load_scenario
from tierroute.simulation.simulate import simulate

WRITEUP = REPO / "config" / "scenarios" / "writeup.toml"


def test_flat_prices_reproduce_the_writeup_line_items_exactly() -> None:
    sim = simulate(load_scenario(WRITEUP), "flat")
    items = {line.tier: line for line in sim.lines}
    expected = {
        "simple_faq": (1_950_000, 390_000_000, "975"),
        "moderate_conv": (600_000, 240_000_000, "3600"),
        "complex_reasoning": (300_000, 180_000_000, "1440"),
        "code_gen": (150_000, 45_000_000, "18.90"),
    }
    for tier, (requests, tokens, cost) in expected.items():
        assert items[tier].requests == requests
        assert items[tier].tokens == tokens
        assert items[tier].cost == Decimal(cost)
    assert sim.total == Decimal("6033.90")
    assert sim.total > sim.scenario.reference_usd  # more than the $4,200 it started from
    assert sim.baseline is None  # the write-up gives GPT-4o no flat price


def test_genai_prices_give_the_honest_figure() -> None:
    scenario = load_scenario(WRITEUP)
    sim = simulate(scenario, "genai-prices")
    # Independently: genai-prices' own calc_price on one average request of each tier.
    expected = Decimal(0)
    for line in sim.lines:
        provider = scenario.model_prices(line.model).provider
        usage = genai_prices.Usage(
            input_tokens=int(line.input_tokens), output_tokens=int(line.output_tokens)
        )
        one = genai_prices.calc_price(usage, line.model, provider_id=provider).total_price
        assert line.cost == pytest.approx(Decimal(str(one)) * line.requests, rel=Decimal("1e-9"))
        expected += Decimal(str(one)) * line.requests
    assert sim.total == pytest.approx(expected, rel=Decimal("1e-9"))
    assert sim.total < Decimal("6033.90")  # input tokens are much cheaper than output tokens
    assert sim.baseline is not None and sim.savings is not None and sim.savings > 0


def scenario_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_bad_scenarios_name_the_key(tmp_path: Path) -> None:
    shares = scenario_file(
        tmp_path,
        "requests_per_month = 10\n"
        '[tiers.a]\nshare = 0.5\nmodel = "m"\ninput_tokens = 1\noutput_tokens = 1\n',
    )
    with pytest.raises(ConfigError, match=r"shares add up to 0\.5"):
        load_scenario(shares)
    typo = scenario_file(tmp_path, "requests_per_month = 10\nrequests = 3\n")
    with pytest.raises(ConfigError, match="requests"):
        load_scenario(typo)
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_scenario(scenario_file(tmp_path, "requests_per_month = \n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")


def test_unpriceable_models_are_config_errors(tmp_path: Path) -> None:
    path = scenario_file(
        tmp_path,
        "requests_per_month = 100\n"
        '[tiers.a]\nshare = 1\nmodel = "no-such-model-xyz"\ninput_tokens = 10\noutput_tokens = 5\n',
    )
    scenario = load_scenario(path)
    with pytest.raises(ConfigError, match="flat_usd_per_mtok"):
        simulate(scenario, "flat")
    with pytest.raises(ConfigError, match="genai-prices does not know"):
        simulate(scenario, "genai-prices")


def test_scenario_prices_override_genai_prices(tmp_path: Path) -> None:
    path = scenario_file(
        tmp_path,
        "requests_per_month = 1000\n"
        '[tiers.a]\nshare = 1\nmodel = "gpt-4.1"\ninput_tokens = 1000\noutput_tokens = 500\n'
        '[models."gpt-4.1"]\ninput_usd_per_mtok = 1\noutput_usd_per_mtok = 4\n',
    )
    sim = simulate(load_scenario(path), "genai-prices")
    assert sim.total == Decimal("3")  # 1000 x (1000 x $1 + 500 x $4) / 1M
    assert sim.lines[0].price.source == "scenario"
