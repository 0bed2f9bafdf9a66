"""Model versions for reload and roll-out tests: copies of a trained model under new ids.

A copy keeps the verified artifact (its sha256 still matches) and gets its own model id,
creation time and, when asked, another decision policy in its card (e.g. ``threshold=1.0``: a
challenger that sends every query to the default tier). Training another model would take
seconds and prove nothing more about swapping versions.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tierroute.classifier.artifacts import ARTIFACT_NAME, CARD_NAME, champion_id


def models_root_copy(template: Path, destination: Path) -> Path:
    """A private copy of a models root (tests move its champion pointer)."""
    shutil.copytree(template, destination)
    return destination


def clone_model(
    root: Path, new_id: str, *, after: timedelta = timedelta(minutes=1), **card: Any
) -> str:
    """Copy the champion of ``root`` to ``root/new_id``, created ``after`` it; returns the id."""
    source = champion_id(root)
    assert source is not None
    shutil.copytree(root / source, root / new_id)
    path = root / new_id / CARD_NAME
    data = json.loads(path.read_text(encoding="utf-8"))
    created = datetime.fromisoformat(data["created"]) + after
    data.update(model_id=new_id, created=created.astimezone(UTC).isoformat(), **card)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return new_id


def tamper(root: Path, model_id: str) -> None:
    """Change the artifact's bytes so that its sha256 no longer matches the card."""
    with (root / model_id / ARTIFACT_NAME).open("ab") as handle:
        handle.write(b"\0tampered")
