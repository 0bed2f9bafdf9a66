"""``tierroute retrain``: a candidate from the base data plus labeled traffic, judged by the gate.

The steps, in order: load the champion and its frozen evaluation set (``models/<id>/eval.jsonl``,
never trained on); reduce the logged labels to one per text (latest human label wins, conflicts
kept for the report); hold out the newest share of them; merge the rest with the base data; train
a candidate with the frozen set as its evaluation set (``train_model`` keeps those texts out of
training and writes the same set into the candidate's directory, so it stays frozen across
generations); score candidate, champion and keyword heuristic on the frozen set and on the newest
logs; gate; promote only when asked and the gate agrees. A report goes to
``models/<candidate>/report/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tierroute.classifier.artifacts import EVAL_SET_NAME
from tierroute.classifier.decision import DecisionPolicy
from tierroute.classifier.evaluate import evaluate_router
from tierroute.classifier.heuristic import KeywordHeuristic
from tierroute.classifier.model import TierModel, load_model
from tierroute.classifier.registry import ModelRegistry
from tierroute.classifier.train import StepCallback, train_model
from tierroute.data.io import read_labeled
from tierroute.data.schema import LabeledRow, normalize_text
from tierroute.data.splits import exclude_texts
from tierroute.exceptions import ModelError, ModelNotFound
from tierroute.retraining.dataset import (
    merge_with_base,
    newest_holdout,
    resolve_labels,
)
from tierroute.retraining.gate import compare
from tierroute.retraining.result import RetrainOptions, RetrainResult
from tierroute.retraining.retrain_report import write_report
from tierroute.store.labels import LoggedLabel

__all__ = ["RetrainOptions", "RetrainResult", "frozen_eval_set", "retrain", "score_routers"]

CANDIDATE = "candidate"
CHAMPION = "champion"
HEURISTIC = "heuristic"


def frozen_eval_set(model_dir: Path, tiers: Sequence[str]) -> list[LabeledRow]:
    """The champion's frozen evaluation set (``eval.jsonl``); an error when it is missing."""
    path = model_dir / EVAL_SET_NAME
    if not path.is_file():
        raise ModelError(
            f"{model_dir}: no {EVAL_SET_NAME}; retrain compares models on the champion's frozen "
            "evaluation set: train the champion with `tierroute train` first"
        )
    return read_labeled([path], tiers).rows


def routed_tiers(proba: NDArray[np.float64], policy: DecisionPolicy) -> list[str]:
    """The routed tier (policy applied: cost matrix, threshold fallback) of each row."""
    return [policy.decide(row.tolist(), "").tier for row in proba]


def score_routers(
    rows: Sequence[LabeledRow], models: dict[str, TierModel]
) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """Metrics and routed tiers of each model and the keyword heuristic on the same rows."""
    if not rows:
        return {}, {}
    texts = [row.text for row in rows]
    metrics: dict[str, dict[str, Any]] = {}
    routed: dict[str, list[str]] = {}
    for name, model in models.items():
        proba = model.predict_proba(texts)
        metrics[name] = evaluate_router(rows, proba, model.tiers, model.policy)
        routed[name] = routed_tiers(proba, model.policy)
    heuristic = KeywordHeuristic().fit(texts)
    proba = heuristic.predict_proba(texts)
    metrics[HEURISTIC] = evaluate_router(rows, proba, list(heuristic.classes_))
    routed[HEURISTIC] = [str(t) for t in heuristic.predict(texts)]
    return metrics, routed


def retrain(
    models_dir: Path,
    base_rows: Sequence[LabeledRow],
    logged: Sequence[LoggedLabel],
    *,
    since: datetime | None = None,
    base_files: Sequence[str] = (),
    options: RetrainOptions = RetrainOptions(),
    step: StepCallback = lambda _: None,
) -> RetrainResult:
    """Train a candidate on base + logged labels, compare it with the champion, maybe promote."""
    registry = ModelRegistry(models_dir)
    current = registry.champion_id()
    if current is None:
        raise ModelNotFound(
            f"{models_dir}: no champion to compare with; train one first with `tierroute train`"
        )
    champion = load_model(models_dir / current)
    frozen = frozen_eval_set(models_dir / current, champion.tiers)
    labels = resolve_labels(logged)
    older, newest = newest_holdout(labels.examples, options.holdout_fraction)
    merged = merge_with_base(base_rows, older)
    holdout = [example.row for example in newest]
    train_rows = exclude_texts(merged.rows, holdout)
    frozen_keys = {normalize_text(row.text) for row in frozen}
    frozen_in_logs = sum(normalize_text(ex.row.text) in frozen_keys for ex in labels.examples)
    provenance = {
        "champion": current,
        "since": since.isoformat() + "Z" if since else None,
        "log_labels": labels.labels,
        "log_examples": len(labels.examples),
        "log_examples_trained": len(older),
        "log_holdout": len(holdout),
        "base_rows": len(base_rows),
        "conflicts": len(labels.conflicts) + len(merged.conflicts),
    }
    trained = train_model(
        train_rows,
        models_dir,
        options.train,
        eval_rows=frozen,
        data_files=[
            *base_files,
            "request log" + (f" since {since:%Y-%m-%d %H:%M}" if since else ""),
        ],
        promote=False,
        step=step,
        extra_card={"retrain": provenance},
    )
    step("compare")
    candidate = load_model(trained.model_dir)
    models = {CANDIDATE: candidate, CHAMPION: champion}
    frozen_metrics, frozen_routed = score_routers(frozen, models)
    newest_metrics, _ = score_routers(holdout, models)
    verdict = compare(
        [row.tier for row in frozen],
        frozen_routed[CANDIDATE],
        frozen_routed[CHAMPION],
        options.gate,
    )
    change = None
    if options.promote and verdict.promote:
        change = registry.promote(candidate.model_id, "retrain gate: " + verdict.reasons[0])
    result = RetrainResult(
        champion_id=current,
        candidate_id=candidate.model_id,
        candidate_dir=trained.model_dir,
        since=since,
        labels=labels,
        merged=merged,
        train_rows=trained.train_rows,
        holdout=holdout,
        frozen_rows=len(frozen),
        frozen_in_logs=frozen_in_logs,
        frozen=frozen_metrics,
        newest=newest_metrics,
        verdict=verdict,
        promoted=change is not None,
        change=change,
        conflicts=[*labels.conflicts, *merged.conflicts],
    )
    result.report = write_report(result)
    return result
