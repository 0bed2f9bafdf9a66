"""The models root as a registry: which model is champion, how it changed, what is newest.

``ModelRegistry(root)`` is the one way the champion moves: ``tierroute train``, ``retrain
--promote``, ``models promote`` and ``models rollback`` all call ``promote``/``rollback``, and
every change is recorded. ``root/CHAMPION`` names the champion (replaced atomically by
``artifacts.set_champion``); ``root/CHAMPION.history.jsonl`` beside it holds one JSON line per
change: ``{"at", "action", "previous", "champion", "reason"}``. Rollback walks that history back
like a stack: each rollback returns to the champion before the current one (a pointer moved by
hand is allowed for: the last champion the history knows is the one to return to). A model id
is a directory name under the root, never a path: ``../elsewhere/ID`` is refused. Model
directories are never deleted.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from tierroute.classifier.artifacts import (
    CARD_NAME,
    CHAMPION_POINTER,
    ModelCard,
    champion_id,
    check_model_id,
    list_models,
    set_champion,
)
from tierroute.exceptions import ModelError, ModelNotFound

HISTORY_NAME = f"{CHAMPION_POINTER}.history.jsonl"


class ChangeAction(StrEnum):
    """How the champion pointer moved."""

    PROMOTE = "promote"
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class ChampionChange:
    """One move of the champion pointer."""

    at: str
    action: ChangeAction
    previous: str | None
    champion: str
    reason: str


def champion_stack(changes: list[ChampionChange]) -> list[str]:
    """Champions in the order they took over, with rolled-back ones removed."""
    stack: list[str] = []
    for change in changes:
        if change.action == ChangeAction.ROLLBACK:
            if stack and stack[-1] == change.previous:
                stack.pop()
            if not stack or stack[-1] != change.champion:
                stack.append(change.champion)
        else:
            if change.previous and (not stack or stack[-1] != change.previous):
                stack.append(change.previous)
            stack.append(change.champion)
    return stack


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ModelRegistry:
    """Champion, promotion, rollback, history and the newest model of one models root."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def history_path(self) -> Path:
        """The history file beside the champion pointer."""
        return self.root / HISTORY_NAME

    def model_dir(self, model_id: str) -> Path:
        """The directory of ``model_id`` under the root; ModelError for a path or an unknown id."""
        path = self.root / check_model_id(model_id, self.root)
        if not (path / CARD_NAME).is_file():
            raise ModelNotFound(f"{path}: no such model (no {CARD_NAME})")
        return path

    def champion_id(self) -> str | None:
        """The champion's model id, None when the root has none yet."""
        return champion_id(self.root)

    def champion_dir(self) -> Path:
        """The champion's directory; ModelNotFound without one."""
        current = self.champion_id()
        if current is None:
            raise ModelNotFound(f"{self.root}: no champion model; run `tierroute train` first")
        return self.model_dir(current)

    def models(self) -> list[ModelCard]:
        """Cards of every model under the root, oldest first."""
        return list_models(self.root)

    def latest(self, after: str | None = None) -> str | None:
        """The newest model created after ``after`` (default: the champion), None if none is."""
        current = after if after is not None else self.champion_id()
        cards = self.models()
        champion = next((card for card in cards if card.model_id == current), None)
        newer = [
            card
            for card in cards
            if card.model_id != current and (champion is None or card.created > champion.created)
        ]
        return newer[-1].model_id if newer else None

    def history(self) -> list[ChampionChange]:
        """Every recorded change, oldest first; a damaged line is an error, not skipped."""
        path = self.history_path
        if not path.is_file():
            return []
        changes = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                data["action"] = ChangeAction(data["action"])
                changes.append(ChampionChange(**data))
            except (ValueError, TypeError, KeyError) as exc:
                raise ModelError(f"{path}:{number}: unreadable history line: {exc}") from exc
        return changes

    def previous_champion(self) -> str | None:
        """The champion a rollback would return to (still on disk), or None."""
        current = self.champion_id()
        stack = champion_stack(self.history())
        if stack and stack[-1] == current:
            stack = stack[:-1]
        for model_id in reversed(stack):
            if model_id != current and (self.root / model_id / CARD_NAME).is_file():
                return model_id
        return None

    def promote(self, model_id: str, reason: str) -> ChampionChange | None:
        """Make ``model_id`` the champion and record it; None when it already is the champion."""
        self.model_dir(model_id)
        current = self.champion_id()
        if current == model_id:
            return None
        set_champion(self.root, model_id)
        return self._record(ChampionChange(_now(), ChangeAction.PROMOTE, current, model_id, reason))

    def rollback(self, reason: str = "manual rollback") -> ChampionChange:
        """Return the champion pointer to the previous champion and record it."""
        current = self.champion_id()
        target = self.previous_champion()
        if target is None:
            raise ModelNotFound(
                f"{self.root}: no previous champion to roll back to "
                f"(history: {HISTORY_NAME}; current: {current})"
            )
        set_champion(self.root, target)
        return self._record(ChampionChange(_now(), ChangeAction.ROLLBACK, current, target, reason))

    def _record(self, change: ChampionChange) -> ChampionChange:
        with self.history_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(change)) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return change
