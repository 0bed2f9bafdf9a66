"""What ``tierroute serve`` checks before uvicorn starts, so a problem is a message, not a trace.

Inside uvicorn a failing lifespan prints a long traceback and exits 3; here the same failures
raise our own errors, which the CLI prints in one line with its exit code: the model (missing,
tampered, other library versions: ModelError), the configured challenger likewise, the
configuration against the model (tiers without a model chain, a default tier the model lacks:
ConfigError) and the request log (unsupported or unreachable database: ConfigError).
"""

from __future__ import annotations

from pathlib import Path

from tierroute.classifier.model import TierModel, load_model
from tierroute.config import GatewayConfig
from tierroute.service.rollout import load_rollout, models_root_of
from tierroute.service.routing import TierRouter
from tierroute.store import open_engine


def check_startup(config: GatewayConfig, model_path: Path) -> TierModel:
    """The verified model, after checking it against ``config`` and opening the request log."""
    model = load_model(model_path)
    TierRouter(config, model)
    # The challenger is loaded again by the app; checking it here costs one load at start-up.
    load_rollout(config, models_root_of(model_path), model.model_id)
    open_engine(config.log.url).dispose()
    return model
