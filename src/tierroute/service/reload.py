"""Swap in the current champion (and challenger) while serving, without dropping a request.

``POST /admin/reload`` and SIGHUP both call ``Reloader.reload``: the champion pointer of the
models root is read again, the model is loaded and verified (sha256 and library versions, as at
start-up) on a worker thread, and the new router and rollout replace the old ones in one
synchronous step on the event loop. A request reads ``state.router`` once, before its first
await, so it is routed entirely by the old model or entirely by the new one, and one already
in flight finishes on the old. A load that fails leaves the old model serving and raises
``ReloadFailed`` with the reason. Reloads are serialized.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from tierroute.classifier.model import load_model
from tierroute.classifier.registry import ModelRegistry
from tierroute.config import GatewayConfig
from tierroute.exceptions import ReloadFailed
from tierroute.service.rollout import Rollout, load_rollout
from tierroute.service.routing import TierRouter
from tierroute.state.base import StateBackend

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReloadResult:
    """What a reload changed."""

    model_id: str
    previous_model_id: str
    challenger_model_id: str | None
    previous_challenger_model_id: str | None
    rollout: str  # "off", "shadow" or "canary"
    load_ms: float
    trigger: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


class ServingModels(Protocol):
    """What a reload swaps: the router and the rollout (``ServiceState`` has both).

    A protocol rather than ``ServiceState`` itself, which holds the reloader: no import cycle.
    """

    router: TierRouter
    rollout: Rollout | None


def rollout_mode(rollout: Rollout | None) -> str:
    """``"off"`` without a challenger, else the rollout's mode."""
    return "off" if rollout is None else rollout.mode


class Reloader:
    """Loads the models root's champion and the configured challenger; swaps them in."""

    def __init__(
        self, config: GatewayConfig, models_root: Path, state: StateBackend | None = None
    ) -> None:
        self.config = config
        self.models_root = models_root
        self.state = state  # the state backend: a new canary reads its shared record
        self.reloads = 0
        self.last_error: str | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._signal_loop: asyncio.AbstractEventLoop | None = None

    def _load(self, current: Rollout | None) -> tuple[TierRouter, Rollout | None]:
        model = load_model(ModelRegistry(self.models_root).champion_dir())
        router = TierRouter(self.config, model)
        rollout = load_rollout(self.config, self.models_root, model.model_id, current, self.state)
        return router, rollout

    async def reload(self, state: ServingModels, trigger: str) -> ReloadResult:
        """Load and swap; ReloadFailed (old model kept) when anything about the load fails."""
        async with self._lock:
            start = time.perf_counter()
            previous, previous_rollout = state.router, state.rollout
            try:
                router, rollout = await asyncio.to_thread(self._load, previous_rollout)
                if self.state is not None:
                    await self.state.sync()  # a new canary ramps from its shared start
            except Exception as exc:
                # Whatever failed (missing pointer, sha256 mismatch, tiers without a chain, a bad
                # challenger), the models in service are untouched.
                self.last_error = f"{type(exc).__name__}: {exc}"
                logger.error(
                    "reload (%s) failed; still serving %s: %s", trigger, previous.model_id, exc
                )
                raise ReloadFailed(
                    f"reload failed; still serving model {previous.model_id}: {exc}"
                ) from exc
            # One synchronous step: no request can see the new router with the old rollout.
            state.router, state.rollout = router, rollout
            self.reloads += 1
            self.last_error = None
            result = ReloadResult(
                model_id=router.model_id,
                previous_model_id=previous.model_id,
                challenger_model_id=rollout.model_id if rollout else None,
                previous_challenger_model_id=previous_rollout.model_id
                if previous_rollout
                else None,
                rollout=rollout_mode(rollout),
                load_ms=round((time.perf_counter() - start) * 1000.0, 3),
                trigger=trigger,
            )
        logger.info(
            "reloaded (%s): model %s -> %s, challenger %s (%s), %.0f ms",
            trigger,
            result.previous_model_id,
            result.model_id,
            result.challenger_model_id or "none",
            result.rollout,
            result.load_ms,
        )
        return result

    # ------------------------------------------------------------------------------ SIGHUP
    def install_sighup(self, state: ServingModels) -> bool:
        """Reload on SIGHUP; False where signals cannot be handled (not the main thread)."""
        sighup = getattr(signal, "SIGHUP", None)
        if sighup is None or threading.current_thread() is not threading.main_thread():
            return False
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(sighup, self._on_sighup, state)
        except (NotImplementedError, RuntimeError, ValueError):
            return False
        self._signal_loop = loop
        return True

    def remove_sighup(self) -> None:
        """Stop handling SIGHUP (shutdown)."""
        if self._signal_loop is not None:
            self._signal_loop.remove_signal_handler(signal.SIGHUP)
            self._signal_loop = None

    def _on_sighup(self, state: ServingModels) -> None:
        task = asyncio.get_running_loop().create_task(self._reload_quietly(state))
        self._tasks.add(task)  # a task nobody holds may be garbage-collected mid-way
        task.add_done_callback(self._tasks.discard)

    async def _reload_quietly(self, state: ServingModels) -> None:
        # A signal has nobody to answer: the outcome goes to the log (reload logs both cases).
        with contextlib.suppress(ReloadFailed):
            await self.reload(state, "SIGHUP")
