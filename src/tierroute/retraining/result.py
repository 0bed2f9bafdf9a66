"""What a retrain is asked to do (``RetrainOptions``) and what it did (``RetrainResult``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tierroute.classifier.registry import ChampionChange
from tierroute.classifier.train import TrainOptions
from tierroute.data.schema import LabeledRow
from tierroute.retraining.dataset import LabelConflict, MergedData, ResolvedLabels
from tierroute.retraining.gate import GatePolicy, GateVerdict


@dataclass(frozen=True)
class RetrainOptions:
    """What shapes a retrain besides its data."""

    holdout_fraction: float = 0.2
    train: TrainOptions = field(default_factory=TrainOptions)
    gate: GatePolicy = field(default_factory=GatePolicy)
    promote: bool = False


@dataclass
class RetrainResult:
    """Everything a retrain did and found (the CLI prints it, the report stores it)."""

    champion_id: str
    candidate_id: str
    candidate_dir: Path
    since: datetime | None
    labels: ResolvedLabels
    merged: MergedData
    train_rows: int
    holdout: list[LabeledRow]
    frozen_rows: int
    frozen_in_logs: int
    frozen: dict[str, dict[str, Any]]
    newest: dict[str, dict[str, Any]]
    verdict: GateVerdict
    promoted: bool
    change: ChampionChange | None
    conflicts: list[LabelConflict] = field(default_factory=list)
    report: Path | None = None
