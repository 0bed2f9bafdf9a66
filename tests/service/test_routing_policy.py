"""`[routing]` overrides the model card only where a key is set."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tierroute.classifier.model import load_model
from tierroute.config import RoutingConfig, load_gateway_config
from tierroute.exceptions import ConfigError
from tierroute.service.routing import TierRouter


def test_unset_routing_keeps_the_cards_default_tier_and_threshold(small_models_dir: Path) -> None:
    model = load_model(small_models_dir)
    config = load_gateway_config(None)
    assert config.routing == RoutingConfig()  # nothing set in the built-in config
    router = TierRouter(config, model)
    assert router.model.default_tier == model.default_tier
    assert router.model.threshold == model.threshold


def test_a_set_default_tier_overrides_and_warns_that_the_threshold_was_tuned_for_the_card(
    small_models_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = load_model(small_models_dir)
    other = next(tier for tier in model.tiers if tier != model.default_tier)
    base = load_gateway_config(None)
    config = base.model_copy(update={"routing": RoutingConfig(default_tier=other)})
    with caplog.at_level(logging.WARNING, logger="tierroute.service.routing"):
        router = TierRouter(config, model)
    assert router.model.default_tier == other and router.model.threshold == model.threshold
    assert "set routing.confidence_threshold too" in caplog.text
    caplog.clear()
    both = RoutingConfig(default_tier=other, confidence_threshold=0.3)
    with caplog.at_level(logging.WARNING, logger="tierroute.service.routing"):
        router = TierRouter(base.model_copy(update={"routing": both}), model)
    assert router.model.threshold == 0.3 and not caplog.text
    unknown = base.model_copy(update={"routing": RoutingConfig(default_tier="nope")})
    with pytest.raises(ConfigError, match=r"routing\.default_tier"):
        TierRouter(unknown, model)
