"""Model selection by grouped cross-validation: every fold holds out whole sources.

Random folds put near-identical rows of one author on both sides, so the model looks sure and
right; the traffic it serves was written by nobody in the training data. Holding out whole
sources (leave-one-source-out, or GroupKFold when there are many) gives scores, probabilities and
unseen-feature shares of text unlike the training data: C and the feature options are chosen on
them, and so are the temperature, its out-of-vocabulary term and the confidence threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from numpy.typing import NDArray
from sklearn.base import clone
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, StratifiedKFold
from sklearn.pipeline import Pipeline

from tierroute.classifier.pipeline import build_pipeline, content_analyzers, feature_stats

Fold = tuple[NDArray[np.int_], NDArray[np.int_]]
# Fewer sources than this and grouped folds say little: random stratified folds instead.
MIN_GROUPS = 3


@dataclass(frozen=True)
class Candidate:
    """One point of the selection grid: regularisation and feature options."""

    C: float
    use_char: bool = True

    def pipeline(self) -> Pipeline:
        """The unfitted pipeline of this candidate."""
        return build_pipeline(C=self.C, use_char=self.use_char)

    def label(self) -> str:
        """Short name for logs and the card."""
        return f"C={self.C:g}, char 4-grams {'on' if self.use_char else 'off'}"


@dataclass
class OutOfGroup:
    """Out-of-group logits of one candidate (rows not covered by any fold are masked out)."""

    candidate: Candidate
    logits: NDArray[np.float64]
    oov: NDArray[np.float64]
    covered: NDArray[np.bool_]
    group_f1: dict[str, float]

    @property
    def score(self) -> float:
        """Mean macro-F1 over held-out groups: each source counts once, whatever its size."""
        return float(np.mean(list(self.group_f1.values()))) if self.group_f1 else 0.0


def group_folds(
    labels: Sequence[str], groups: Sequence[str], max_folds: int, seed: int
) -> tuple[list[Fold], str]:
    """Folds that hold out whole groups, and a description for the card.

    Leave-one-group-out up to ``max_folds`` groups, GroupKFold beyond; random stratified folds
    (said so) when there are fewer than ``MIN_GROUPS`` groups. Folds whose training part lacks a
    tier are dropped: their logits would have fewer columns.
    """
    y = np.asarray(labels)
    names = sorted(set(groups))
    index = np.arange(len(y))
    if len(names) < MIN_GROUPS:
        splitter = StratifiedKFold(n_splits=max_folds, shuffle=True, random_state=seed)
        folds = list(splitter.split(index, y))
        return folds, f"{max_folds} random stratified folds (fewer than {MIN_GROUPS} sources)"
    if len(names) <= max_folds:
        folds = list(LeaveOneGroupOut().split(index, y, groups))
        how = f"leave-one-source-out over {len(names)} sources"
    else:
        folds = list(GroupKFold(n_splits=max_folds).split(index, y, groups))
        how = f"GroupKFold({max_folds}) over {len(names)} sources"
    tiers = set(labels)
    kept = [(tr, te) for tr, te in folds if set(y[tr]) == tiers]
    if len(kept) < len(folds):
        how += f" ({len(folds) - len(kept)} fold(s) dropped: a tier missing from training)"
    return kept, how


def _fit_fold(
    candidate: Candidate, texts: Sequence[str], y: NDArray[Any], fold: Fold
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    train, test = fold
    pipeline = clone(candidate.pipeline()).fit([texts[i] for i in train], y[train])
    held = [texts[i] for i in test]
    oov, _ = feature_stats(content_analyzers(pipeline), held)
    return np.asarray(pipeline.decision_function(held), dtype=np.float64), oov


def out_of_group(
    candidates: Sequence[Candidate],
    texts: Sequence[str],
    labels: Sequence[str],
    groups: Sequence[str],
    folds: Sequence[Fold],
    n_jobs: int = 2,
) -> list[OutOfGroup]:
    """Out-of-group logits and unseen-feature shares of every candidate (fits run in parallel)."""
    y = np.asarray(labels)
    classes = np.array(sorted(set(labels)))
    jobs = [(c, f) for c in candidates for f in folds]
    fitted = Parallel(n_jobs=n_jobs)(delayed(_fit_fold)(c, texts, y, f) for c, f in jobs)
    group_array = np.asarray(groups)
    results = []
    for k, candidate in enumerate(candidates):
        logits = np.zeros((len(y), len(classes)))
        oov = np.ones(len(y))
        covered = np.zeros(len(y), dtype=bool)
        for (_, test), (fold_logits, fold_oov) in zip(
            folds, fitted[k * len(folds) : (k + 1) * len(folds)], strict=True
        ):
            logits[test], oov[test], covered[test] = fold_logits, fold_oov, True
        predicted = classes[logits.argmax(axis=1)]
        group_f1 = {}
        for name in sorted(set(group_array[covered])):
            mask = covered & (group_array == name)
            group_f1[str(name)] = float(
                f1_score(y[mask], predicted[mask], labels=sorted(set(y[mask])), average="macro")
            )
        results.append(OutOfGroup(candidate, logits, oov, covered, group_f1))
    return results


def best_of(results: Sequence[OutOfGroup]) -> OutOfGroup:
    """Highest mean per-group macro-F1; ties go to the earlier (simpler) candidate."""
    return max(results, key=lambda r: (round(r.score, 4), -results.index(r)))
