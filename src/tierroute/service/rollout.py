"""A challenger classifier in the running service: shadow scoring and canary routing.

``[rollout] challenger`` names a model beside the champion. Every ``model="auto"`` chat request
is then classified by both, once each: in shadow mode the champion routes and the challenger's
decision is only logged (``challenger_tier``, ``challenger_model_id``); in canary mode a
``CanaryController`` (``service.canary``) picks the side from a hash of the request's
stable key, and a canary request is routed by the challenger alone (``route_side = "canary"``;
the champion is not consulted, so each request still pays for at most two predictions).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from tierroute.classifier.artifacts import CARD_NAME
from tierroute.classifier.model import load_model
from tierroute.classifier.registry import ModelRegistry
from tierroute.config import GatewayConfig
from tierroute.exceptions import ConfigError
from tierroute.service.canary import CanaryController
from tierroute.service.routing import AUTO, RequestRoute, TierRouter
from tierroute.state.base import StateBackend
from tierroute.store.records import RouteSide

logger = logging.getLogger(__name__)

LATEST = "latest"


class Rollout:
    """The challenger's router and, in canary mode, the controller that splits traffic."""

    def __init__(
        self,
        challenger: TierRouter,
        canary: CanaryController | None,
        source: Path,
        champion_id: str,
    ) -> None:
        self.challenger = challenger
        self.canary = canary
        self.source = source
        self.champion_id = champion_id  # the champion the canary is compared with

    @property
    def model_id(self) -> str:
        """The challenger's model id."""
        return self.challenger.model_id

    @property
    def mode(self) -> str:
        """``"canary"`` or ``"shadow"``."""
        return "canary" if self.canary is not None else "shadow"

    def route(self, champion: TierRouter, text: str, key: str) -> RequestRoute:
        """The route of one ``auto`` request whose stable key is ``key``."""
        canary = self.canary
        if canary is not None and canary.is_canary(key):
            route = self.challenger.route(AUTO, text)
            route.side = RouteSide.CANARY
            route.challenger = route.decision
        else:
            route = champion.route(AUTO, text)
            route.challenger = self.challenger.model.predict(text)
        route.canary = canary
        return route


def models_root_of(model_path: Path) -> Path:
    """The models root a served model belongs to: the path itself, or a model dir's parent."""
    return model_path.parent if (model_path / CARD_NAME).is_file() else model_path


def resolve_challenger(spec: str | None, models_root: Path, champion_id: str) -> Path | None:
    """The challenger's model directory, or None when there is none (or it is the champion).

    ``spec`` is ``"latest"`` (the newest model created after the champion), a model directory,
    or a model id under ``models_root``; anything else is a ConfigError naming the key.
    """
    if spec is None:
        return None
    if spec == LATEST:
        newest = ModelRegistry(models_root).latest(after=champion_id)
        if newest is None:
            logger.info(
                "rollout.challenger = latest: no model newer than the champion %s", champion_id
            )
            return None
        return models_root / newest
    for candidate in (Path(spec), models_root / spec):
        if (candidate / CARD_NAME).is_file():
            if candidate.resolve() == (models_root / champion_id).resolve():
                logger.warning("rollout.challenger %s is the champion: no challenger", spec)
                return None
            return candidate
    raise ConfigError(
        f"rollout.challenger: {spec!r} is neither 'latest', a model directory, nor a model id "
        f"under {models_root}"
    )


def load_rollout(
    config: GatewayConfig,
    models_root: Path,
    champion_id: str,
    current: Rollout | None = None,
    state: StateBackend | None = None,
) -> Rollout | None:
    """Load (and verify) the configured challenger; None without one. Blocking: run in a thread.

    A canary keeps its controller (ramp, counts, rollback) when ``current`` pits the same
    challenger against the same champion; otherwise a new canary starts at the initial weight,
    or where ``state`` (the shared backend) says this pair's canary is.
    """
    path = resolve_challenger(config.rollout.challenger, models_root, champion_id)
    if path is None:
        return None
    model = load_model(path)
    if model.model_id == champion_id:
        logger.warning("rollout.challenger %s has the champion's model id: no challenger", path)
        return None
    challenger = TierRouter(config, model)
    canary: CanaryController | None = None
    if config.rollout.canary:
        if (
            current is not None
            and current.canary is not None
            and current.model_id == model.model_id
            and current.champion_id == champion_id
        ):
            canary = current.canary
        else:
            now = time.time()
            record = state.canary(f"{champion_id}:{model.model_id}", now) if state else None
            canary = CanaryController(config.rollout, model.model_id, record=record)
    return Rollout(challenger, canary, path, champion_id)
