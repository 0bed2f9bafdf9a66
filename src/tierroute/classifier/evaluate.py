"""One evaluation code path for every router: metrics from labels and class probabilities.

Pure functions: rows and probabilities in, a JSON-ready dict out. ``tierroute eval`` and
``train`` call ``evaluate_router`` for the learned model and the heuristic alike.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from tierroute.classifier.decision import DecisionPolicy
from tierroute.data.schema import LabeledRow
from tierroute.tier_costs import (
    TOP_TIER,
    WRITEUP_TIER_COSTS,
    WRITEUP_TOKENS,
    TierCost,
    TokenProfile,
    cost_per_1000,
)
from tierroute.tiers import is_over_routed, is_under_routed

COVERAGE_THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.0, 1.0001, 0.05))


def classification_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1 over the labels present in y_true, per-tier P/R/F1, routing rates."""
    n = len(y_true)
    if n == 0:
        return {"n": 0}
    present = [label for label in labels if label in set(y_true)]
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=list(labels), zero_division=0
    )
    per_tier = {
        label: {
            "precision": float(p),
            "recall": float(r),
            "f1": float(f),
            "support": int(s),
        }
        for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    }
    under = sum(is_under_routed(t, p) for t, p in zip(y_true, y_pred, strict=True))
    over = sum(is_over_routed(t, p) for t, p in zip(y_true, y_pred, strict=True))
    return {
        "n": n,
        "accuracy": float(np.mean([t == p for t, p in zip(y_true, y_pred, strict=True)])),
        "macro_f1": float(np.mean([per_tier[label]["f1"] for label in present])),
        "under_routing_rate": under / n,
        "over_routing_rate": over / n,
        "per_tier": per_tier,
    }


def calibration_summary(
    confidence: NDArray[np.float64], correct: NDArray[np.bool_], n_bins: int = 10
) -> dict[str, Any]:
    """Expected calibration error of the top-class confidence, and the reliability bins."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = []
    ece = 0.0
    for low, high in pairwise(edges):
        mask = (confidence > low) & (confidence <= high) if low > 0 else confidence <= high
        count = int(mask.sum())
        if count == 0:
            bins.append({"low": float(low), "high": float(high), "n": 0})
            continue
        conf = float(confidence[mask].mean())
        acc = float(correct[mask].mean())
        ece += count / len(confidence) * abs(conf - acc)
        bins.append(
            {
                "low": float(low),
                "high": float(high),
                "n": count,
                "confidence": conf,
                "accuracy": acc,
            }
        )
    return {"ece": float(ece), "bins": bins}


def coverage_curve(
    confidence: NDArray[np.float64], correct: NDArray[np.bool_]
) -> list[dict[str, float]]:
    """Share of decisions kept and their accuracy, per confidence threshold."""
    curve = []
    for threshold in COVERAGE_THRESHOLDS:
        kept = confidence >= threshold
        curve.append(
            {
                "threshold": float(threshold),
                "coverage": float(kept.mean()) if len(kept) else 0.0,
                "accuracy": float(correct[kept].mean()) if kept.any() else 1.0,
            }
        )
    return curve


def _grouped(
    rows: Sequence[LabeledRow], routed: Sequence[str], labels: Sequence[str], attr: str
) -> dict[str, Any]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[getattr(row, attr)].append(i)
    out = {}
    for name, idx in sorted(groups.items()):
        metrics = classification_metrics(
            [rows[i].tier for i in idx], [routed[i] for i in idx], labels
        )
        metrics.pop("per_tier", None)
        out[name] = metrics
    return out


def evaluate_router(
    rows: Sequence[LabeledRow],
    proba: NDArray[np.float64],
    classes: Sequence[str],
    policy: DecisionPolicy | None = None,
    costs: Mapping[str, TierCost] = WRITEUP_TIER_COSTS,
    tokens: Mapping[str, TokenProfile] = WRITEUP_TOKENS,
    known_features: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Full metrics of one router on labeled rows, from its probabilities (columns = classes).

    ``routed`` decisions apply the policy (cost matrix, threshold fallback, and the default tier
    for texts with no known feature when ``known_features`` is given); ``raw`` is argmax.
    ``coverage`` is the share of decisions not falling back, ``accepted_accuracy`` their accuracy.
    """
    classes = list(classes)
    y_true = [row.tier for row in rows]
    labels = list(dict.fromkeys([*classes, *sorted(set(y_true))]))
    if policy is None:
        policy = DecisionPolicy(tuple(classes), 0.0, classes[0])
    raw_pred = [classes[i] for i in proba.argmax(axis=1)]
    known = list(known_features) if known_features is not None else [1] * len(rows)
    decisions = [
        policy.decide(row.tolist(), "", count) for row, count in zip(proba, known, strict=True)
    ]
    routed = [d.tier for d in decisions]
    confidence = proba.max(axis=1)
    correct = np.array([t == p for t, p in zip(y_true, raw_pred, strict=True)])
    metrics = classification_metrics(y_true, routed, labels)
    metrics["raw"] = {
        k: v for k, v in classification_metrics(y_true, raw_pred, labels).items() if k != "per_tier"
    }
    # The policy's own choice (cost matrix included) before any fallback: the classifier's
    # quality, where the routed figures add what the fallback costs and saves.
    decided = [d.predicted_tier for d in decisions]
    metrics["decided"] = {
        k: v for k, v in classification_metrics(y_true, decided, labels).items() if k != "per_tier"
    }
    accepted = [not d.fallback for d in decisions]
    metrics["fallback_rate"] = 1.0 - float(np.mean(accepted)) if rows else 0.0
    metrics["coverage"] = 1.0 - metrics["fallback_rate"]
    metrics["accepted_accuracy"] = (
        float(
            np.mean([t == d.tier for t, d, a in zip(y_true, decisions, accepted, strict=True) if a])
        )
        if any(accepted)
        else 1.0
    )
    metrics["threshold"] = policy.threshold
    metrics["confusion"] = {
        "labels": labels,
        "matrix": confusion_matrix(y_true, routed, labels=labels).tolist(),
    }
    metrics["by_source"] = _grouped(rows, routed, labels, "source")
    metrics["by_lang"] = _grouped(rows, routed, labels, "lang")
    metrics["calibration"] = calibration_summary(confidence, correct)
    # Fallbacks compare the chosen tier's probability with the threshold: so does this curve.
    chosen_confidence = np.array([d.confidence for d in decisions])
    chosen_correct = np.array(
        [t == d.predicted_tier for t, d in zip(y_true, decisions, strict=True)]
    )
    metrics["coverage_curve"] = coverage_curve(chosen_confidence, chosen_correct)
    routed_cost = cost_per_1000(y_true, routed, costs, tokens)
    top_cost = cost_per_1000(y_true, [TOP_TIER] * len(y_true), costs, tokens)
    metrics["cost"] = {
        "per_1000_routed_usd": routed_cost,
        "per_1000_top_tier_usd": top_cost,
        "top_tier": TOP_TIER,
        "savings": (1 - routed_cost / top_cost) if top_cost else 0.0,
    }
    return metrics


def headline(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The few figures printed in summaries and compared by the promotion gate."""
    keys = (
        "accuracy",
        "macro_f1",
        "under_routing_rate",
        "over_routing_rate",
        "fallback_rate",
        "coverage",
        "accepted_accuracy",
    )
    out = {k: float(metrics[k]) for k in keys if k in metrics}
    if "calibration" in metrics:
        out["ece"] = float(metrics["calibration"]["ece"])
    return out
