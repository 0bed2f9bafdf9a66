"""Which models a request goes to: ``model="auto"`` is classified, a concrete name passes through.

A concrete model (``provider:model`` as ``/v1/models`` lists it, or the bare model name when
only one provider serves it) is dispatched to that model alone: the client chose it, so the
gateway retries it but never swaps in another model. ``auto`` classifies the query and uses
the tier's chain, primary first, with the tier's ``max_tokens`` cap.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tierroute.classifier.decision import Decision
from tierroute.classifier.model import TierModel
from tierroute.config import GatewayConfig, split_model_ref
from tierroute.exceptions import ConfigError, UnknownModel
from tierroute.store.records import CHAMPION

if TYPE_CHECKING:
    from tierroute.loop.canary import CanaryController

AUTO = "auto"


@dataclass(slots=True)
class Route:
    """Where one request goes.

    With a challenger loaded (``service.rollout``), ``side`` says which classifier routed the
    request (``"champion"`` or ``"canary"``), ``challenger`` holds the challenger's decision, and
    ``canary`` the controller that chose the side, which is told how the request ended.
    """

    chain: tuple[str, ...]
    tier: str | None = None
    decision: Decision | None = None
    max_tokens: int | None = None
    classify_ms: float = 0.0
    side: str = CHAMPION
    challenger: Decision | None = None
    canary: CanaryController | None = None


class TierRouter:
    """Classifier plus configuration: routing decisions and model-name resolution."""

    def __init__(self, config: GatewayConfig, model: TierModel) -> None:
        config.check_tiers(model.tiers)
        default_tier = config.routing.default_tier
        if default_tier is not None and default_tier not in model.tiers:
            raise ConfigError(
                f"routing.default_tier: {config.routing.default_tier!r} is not a tier of model "
                f"{model.model_id} ({', '.join(model.tiers)})"
            )
        self.model = model.with_policy(
            threshold=config.routing.confidence_threshold,
            default_tier=default_tier,
        )
        self.chains = {tier: config.chain(tier) for tier in config.tiers}
        self.max_tokens = {tier: t.max_tokens for tier, t in config.tiers.items()}
        self.model_names: list[str] = config.model_names()
        self._aliases: dict[str, str] = {ref: ref for ref in self.model_names}
        bare: dict[str, list[str]] = {}
        for ref in self.model_names:
            bare.setdefault(split_model_ref(ref)[1], []).append(ref)
        for name, refs in bare.items():
            if len(refs) == 1:
                self._aliases.setdefault(name, refs[0])

    @property
    def model_id(self) -> str:
        """The classifier version routing requests."""
        return self.model.model_id

    def resolve(self, name: str) -> str:
        """The configured ``provider:model`` for a client's model name (404 listing valid ones)."""
        ref = self._aliases.get(name)
        if ref is None:
            raise UnknownModel(name, [AUTO, *self.model_names])
        return ref

    def classify(self, text: str) -> tuple[Decision, float]:
        """The decision for ``text`` and the milliseconds it took."""
        start = time.perf_counter()
        decision = self.model.predict(text)
        return decision, (time.perf_counter() - start) * 1000.0

    def route(self, model_name: str, text: str) -> Route:
        """The route for one chat request."""
        if model_name != AUTO:
            return Route(chain=(self.resolve(model_name),))
        decision, classify_ms = self.classify(text)
        tier = decision.tier
        return Route(self.chains[tier], tier, decision, self.max_tokens[tier], classify_ms)
