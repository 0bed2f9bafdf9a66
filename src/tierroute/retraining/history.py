"""Champion changes and their history: promote, roll back, and who was champion before.

``models/CHAMPION`` names the champion (``artifacts.set_champion`` replaces it atomically);
``models/CHAMPION.history.jsonl`` beside it records every change made here, one JSON line each:
``{"at", "action", "previous", "champion", "reason"}``. Rollback walks that history back like a
stack: each rollback returns to the champion before the current one. The pointer can also move
outside this module (``tierroute train`` promotes its model); then the last champion the history
knows is the one to return to. Model directories are never deleted.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from tierroute.classifier.artifacts import CARD_NAME, CHAMPION_POINTER, champion_id, set_champion
from tierroute.exceptions import ModelError, ModelNotFound

HISTORY_NAME = f"{CHAMPION_POINTER}.history.jsonl"
PROMOTE = "promote"
ROLLBACK = "rollback"


@dataclass(frozen=True)
class ChampionChange:
    """One move of the champion pointer."""

    at: str
    action: str
    previous: str | None
    champion: str
    reason: str


def history_path(models_dir: Path) -> Path:
    """The history file beside the champion pointer."""
    return models_dir / HISTORY_NAME


def read_history(models_dir: Path) -> list[ChampionChange]:
    """Every recorded change, oldest first; a damaged line is an error, not skipped."""
    path = history_path(models_dir)
    if not path.is_file():
        return []
    changes = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            changes.append(ChampionChange(**json.loads(line)))
        except (ValueError, TypeError) as exc:
            raise ModelError(f"{path}:{number}: unreadable history line: {exc}") from exc
    return changes


def _append(models_dir: Path, change: ChampionChange) -> None:
    path = history_path(models_dir)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(asdict(change)) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def champion_stack(changes: list[ChampionChange]) -> list[str]:
    """Champions in the order they took over, with rolled-back ones removed."""
    stack: list[str] = []
    for change in changes:
        if change.action == ROLLBACK:
            if stack and stack[-1] == change.previous:
                stack.pop()
            if not stack or stack[-1] != change.champion:
                stack.append(change.champion)
        else:
            if change.previous and (not stack or stack[-1] != change.previous):
                stack.append(change.previous)
            stack.append(change.champion)
    return stack


def previous_champion(models_dir: Path) -> str | None:
    """The champion a rollback would return to (still on disk), or None."""
    current = champion_id(models_dir)
    stack = champion_stack(read_history(models_dir))
    if stack and stack[-1] == current:
        stack = stack[:-1]
    for model_id in reversed(stack):
        if model_id != current and (models_dir / model_id / CARD_NAME).is_file():
            return model_id
    return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def promote(models_dir: Path, model_id: str, reason: str) -> ChampionChange | None:
    """Make ``model_id`` the champion and record it; None when it already is the champion."""
    current = champion_id(models_dir)
    if current == model_id:
        return None
    set_champion(models_dir, model_id)
    change = ChampionChange(_now(), PROMOTE, current, model_id, reason)
    _append(models_dir, change)
    return change


def rollback(models_dir: Path, reason: str = "manual rollback") -> ChampionChange:
    """Return the champion pointer to the previous champion and record it."""
    current = champion_id(models_dir)
    target = previous_champion(models_dir)
    if target is None:
        raise ModelNotFound(
            f"{models_dir}: no previous champion to roll back to "
            f"(history: {history_path(models_dir).name}; current: {current})"
        )
    set_champion(models_dir, target)
    change = ChampionChange(_now(), ROLLBACK, current, target, reason)
    _append(models_dir, change)
    return change
