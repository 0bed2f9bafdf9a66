"""Training: split, grid-search on the training split, out-of-fold calibration and threshold,
final fit, evaluation of model and heuristic on the held-out split, artifact and card."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import softmax
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict

import tierroute
from tierroute.classifier.artifacts import (
    EVAL_SET_NAME,
    ModelCard,
    library_versions,
    save_artifact,
)
from tierroute.classifier.decision import DecisionPolicy
from tierroute.classifier.evaluate import evaluate_router, headline
from tierroute.classifier.heuristic import KeywordHeuristic
from tierroute.classifier.pipeline import (
    RANDOM_STATE,
    TemperatureCalibrated,
    build_pipeline,
    fit_temperature,
)
from tierroute.classifier.registry import ModelRegistry
from tierroute.data.io import write_jsonl
from tierroute.data.schema import LabeledRow, normalize_text
from tierroute.data.splits import exclude_texts, split_rows
from tierroute.exceptions import DataError
from tierroute.tiers import DEFAULT_FALLBACK_TIER, under_routing_cost_matrix

StepCallback = Callable[[str], None]


@dataclass(frozen=True)
class TrainOptions:
    """Everything that shapes a training run (recorded in the model card)."""

    eval_fraction: float = 0.15
    seed: int = RANDOM_STATE
    cv_folds: int = 5
    c_grid: tuple[float, ...] = (10.0, 30.0, 100.0)
    # None: the threshold where routing cost (fallbacks included) is least; a number: the lowest
    # threshold whose accepted decisions are at least that accurate.
    target_accuracy: float | None = None
    default_tier: str = DEFAULT_FALLBACK_TIER
    # Weight of under-routing relative to over-routing in the decision; 0 means plain argmax.
    under_routing_weight: float = 2.0


@dataclass
class TrainResult:
    """What a training run produced."""

    model_dir: Path
    card: ModelCard
    model_metrics: dict[str, Any]
    heuristic_metrics: dict[str, Any]
    promoted: bool
    train_rows: int = 0
    eval_rows: int = 0
    notes: list[str] = field(default_factory=list)


def decision_cost_matrix(
    tiers: Sequence[str], options: TrainOptions
) -> tuple[tuple[float, ...], ...] | None:
    """Under-routing weighed ``options.under_routing_weight`` times over-routing, or None."""
    if options.under_routing_weight <= 0:
        return None
    matrix = under_routing_cost_matrix(
        tiers, under_cost=options.under_routing_weight, over_cost=1.0
    )
    return tuple(tuple(row) for row in matrix)


def data_fingerprint(rows: Sequence[LabeledRow]) -> str:
    """sha256 over the sorted (normalized text, tier) pairs: the identity of a training set."""
    digest = hashlib.sha256()
    for key, tier in sorted((normalize_text(r.text), r.tier) for r in rows):
        digest.update(f"{tier}\t{key}\n".encode())
    return digest.hexdigest()


def _counts(rows: Sequence[LabeledRow]) -> dict[str, dict[str, int]]:
    return {
        "tier": dict(sorted(Counter(r.tier for r in rows).items())),
        "source": dict(sorted(Counter(r.source for r in rows).items())),
        "lang": dict(sorted(Counter(r.lang for r in rows).items())),
    }


def choose_threshold(
    proba: NDArray[np.float64],
    y: Sequence[str],
    policy: DecisionPolicy,
    target_accuracy: float | None = None,
) -> tuple[float, dict[str, Any]]:
    """The confidence threshold below which decisions fall back to the policy's default tier.

    With ``target_accuracy``: the lowest threshold whose accepted decisions reach it (most
    coverage). Without: the threshold at which the routed decisions, fallbacks included, cost
    least under the policy's cost matrix (0/1 loss without one); falling back then happens only
    where it pays off, which depends on the default tier (a default that serves every query
    falls back more than one that under-routes some).
    """
    tiers = policy.tiers
    index = {tier: i for i, tier in enumerate(tiers)}
    truth = np.array([index[t] for t in y])
    chosen = np.array([policy.choose(row.tolist())[0] for row in proba])
    confidence = proba.max(axis=1)
    matrix = (
        np.asarray(policy.cost_matrix, dtype=np.float64)
        if policy.cost_matrix is not None
        else 1.0 - np.eye(len(tiers))
    )
    default = index[policy.default_tier]
    best: tuple[float, float, dict[str, Any]] | None = None
    for threshold in np.round(np.arange(0.0, 1.0, 0.01), 2):
        kept = confidence >= threshold
        routed = np.where(kept, chosen, default)
        cost = float(matrix[truth, routed].mean())
        accuracy = float((chosen[kept] == truth[kept]).mean()) if kept.any() else 1.0
        info = {
            "coverage": float(kept.mean()),
            "accepted_accuracy": accuracy,
            "routing_cost": cost,
            "rule": "least routing cost out of fold"
            if target_accuracy is None
            else (f"accepted decisions >= {target_accuracy:.0%} accurate out of fold"),
        }
        if target_accuracy is not None:
            if kept.any() and accuracy >= target_accuracy:
                return float(threshold), {**info, "met": 1.0}
        elif best is None or cost < best[1] - 1e-12:
            best = (float(threshold), cost, {**info, "met": 1.0})
    if best is not None:
        return best[0], best[2]
    # Unreachable accuracy target: the strictest threshold, and the card says so.
    kept = confidence >= 0.99
    return 0.99, {"coverage": float(kept.mean()), "accepted_accuracy": float("nan"), "met": 0.0}


def fit_calibrated(
    texts: Sequence[str],
    labels: Sequence[str],
    options: TrainOptions,
    step: StepCallback,
) -> tuple[TemperatureCalibrated, NDArray[np.float64], dict[str, Any]]:
    """Grid-search C by cross-validation, fit the temperature out-of-fold, then fit on all.

    Returns the calibrated model, its out-of-fold calibrated probabilities and the search log.
    """
    cv = StratifiedKFold(n_splits=options.cv_folds, shuffle=True, random_state=options.seed)
    search = GridSearchCV(
        build_pipeline(),
        {"clf__C": list(options.c_grid)},
        scoring="f1_macro",
        cv=cv,
        refit=False,
        n_jobs=2,
    )
    step("grid search")
    search.fit(list(texts), list(labels))
    best = clone(build_pipeline()).set_params(**search.best_params_)
    step("out-of-fold calibration")
    logits = cross_val_predict(
        best, list(texts), list(labels), cv=cv, method="decision_function", n_jobs=2
    )
    classes = np.array(sorted(set(labels)))
    y_index = np.searchsorted(classes, np.asarray(labels))
    beta = fit_temperature(np.asarray(logits, dtype=np.float64), y_index)
    oof_proba = np.asarray(softmax(beta * np.asarray(logits), axis=1), dtype=np.float64)
    step("final fit")
    model = TemperatureCalibrated(best, beta=beta).fit(list(texts), list(labels))
    log = {
        "best_params": {k: float(v) for k, v in search.best_params_.items()},
        "cv_macro_f1": {
            str(params["clf__C"]): float(score)
            for params, score in zip(
                search.cv_results_["params"], search.cv_results_["mean_test_score"], strict=True
            )
        },
        "temperature_beta": beta,
    }
    return model, oof_proba, log


def train_model(
    rows: Sequence[LabeledRow],
    models_dir: Path,
    options: TrainOptions = TrainOptions(),
    *,
    eval_rows: Sequence[LabeledRow] | None = None,
    data_files: Sequence[str] = (),
    promote: bool = True,
    step: StepCallback = lambda _: None,
    extra_card: dict[str, Any] | None = None,
) -> TrainResult:
    """Train, evaluate against the heuristic, save ``models_dir/<id>/`` and maybe promote it.

    With ``eval_rows`` (a frozen evaluation set) those rows are held out as given; otherwise a
    deterministic stratified split of ``rows`` is made.
    """
    if eval_rows is None:
        train_rows, held_out = split_rows(rows, options.eval_fraction, options.seed)
    else:
        held_out = list(eval_rows)
        train_rows = exclude_texts(rows, held_out)
    counts = Counter(r.tier for r in train_rows)
    tiers = sorted(counts)
    if len(tiers) < 3:
        raise DataError(f"training needs rows of at least three tiers, got {dict(counts)}")
    too_few = {tier: n for tier, n in counts.items() if n < 2 * options.cv_folds}
    if too_few:
        raise DataError(
            f"tiers with fewer than {2 * options.cv_folds} training rows "
            f"(cross-validation needs more): {too_few}"
        )
    if options.default_tier not in tiers:
        raise DataError(f"default tier {options.default_tier!r} has no training rows")
    texts = [r.text for r in train_rows]
    labels = [r.tier for r in train_rows]
    model, oof_proba, search_log = fit_calibrated(texts, labels, options, step)
    cost_matrix = decision_cost_matrix(tiers, options)
    base_policy = DecisionPolicy(tuple(tiers), 0.0, options.default_tier, cost_matrix)
    step("threshold")
    threshold, threshold_info = choose_threshold(
        oof_proba, labels, base_policy, options.target_accuracy
    )
    policy = DecisionPolicy(
        base_policy.tiers, threshold, base_policy.default_tier, base_policy.cost_matrix
    )

    step("evaluate")
    model_metrics = evaluate_router(
        held_out, model.predict_proba([r.text for r in held_out]), tiers, policy
    )
    heuristic = KeywordHeuristic(tiers).fit(texts)
    heuristic_metrics = evaluate_router(
        held_out, heuristic.predict_proba([r.text for r in held_out]), list(heuristic.classes_)
    )
    created = datetime.now(UTC)
    fingerprint = data_fingerprint(train_rows)
    model_id = f"{created:%Y%m%d-%H%M%S}-{fingerprint[:8]}"
    card = ModelCard(
        model_id=model_id,
        created=created.isoformat(),
        tierroute_version=tierroute.__version__,
        library_versions=library_versions(),
        tiers=tiers,
        threshold=threshold,
        default_tier=options.default_tier,
        cost_matrix=[list(row) for row in cost_matrix] if cost_matrix else None,
        threshold_target=threshold_info,
        hyperparameters={
            **search_log,
            "features": "tf-idf of word unigrams and bigrams of the first 16 tokens (+ length and line-count tokens) and char_wb 4-grams (first 32 chars) of diacritic-folded text (head 120 + tail 60 chars), min_df 0.05 %",
            "classifier": "LogisticRegression(class_weight=balanced) + temperature scaling",
            "cv_folds": options.cv_folds,
            "seed": options.seed,
            "under_routing_weight": options.under_routing_weight,
        },
        training_data={
            "sha256": fingerprint,
            "rows": len(train_rows),
            "counts": _counts(train_rows),
            "files": list(data_files),
            "eval_rows": len(held_out),
            "eval_counts": _counts(held_out),
            "eval_sha256": data_fingerprint(held_out),
        },
        metrics={
            "eval_set": "held-out split" if eval_rows is None else "frozen evaluation set",
            "model": headline(model_metrics),
            "heuristic": headline(heuristic_metrics),
            "model_by_lang": {k: v["macro_f1"] for k, v in model_metrics["by_lang"].items()},
            "model_by_source": {k: v["macro_f1"] for k, v in model_metrics["by_source"].items()},
        },
        **(extra_card or {}),
    )
    step("save")
    model_dir = save_artifact(model, card, models_dir)
    write_jsonl((r.to_json() for r in held_out), model_dir / EVAL_SET_NAME)
    if promote:
        ModelRegistry(models_dir).promote(model_id, reason="tierroute train")
    return TrainResult(
        model_dir=model_dir,
        card=card,
        model_metrics=model_metrics,
        heuristic_metrics=heuristic_metrics,
        promoted=promote,
        train_rows=len(train_rows),
        eval_rows=len(held_out),
    )
