"""The learned classifier: word + character TF-IDF features, logistic regression, temperature.

Everything from raw text to probabilities lives in one scikit-learn ``Pipeline`` (wrapped by
``TemperatureCalibrated``), so nothing can be fitted on evaluation data by accident.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from tierroute.classifier.features import SPLIT_ANALYZERS, Analyzer, char_ngrams, word_ngrams
from tierroute.textfold import fold

RANDOM_STATE = 0


def build_pipeline(C: float = 10.0, min_df: float = 0.0005, use_char: bool = True) -> Pipeline:
    """Unfitted features + logistic regression; hyper-parameters are grid-searched in ``train``.

    ``min_df`` drops grams seen in fewer than that share of texts (3 of the ~5,000 in data/raw;
    none on a tiny set): they barely generalise, and a smaller vocabulary keeps the compiled
    predictor's dict lookups in cache.
    """
    blocks: list[tuple[str, Any]] = [
        ("word", TfidfVectorizer(analyzer=word_ngrams, sublinear_tf=True, min_df=min_df)),
    ]
    if use_char:
        blocks.append(
            (
                "char",
                TfidfVectorizer(analyzer=char_ngrams, sublinear_tf=True, min_df=min_df),
            )
        )
    return Pipeline(
        [
            ("features", FeatureUnion(blocks)),
            (
                "clf",
                LogisticRegression(
                    C=C,
                    class_weight="balanced",
                    solver="newton-cg",
                    max_iter=1000,
                    random_state=RANDOM_STATE,
                ),
            ),
        ]
    )


def calibrated_scale(
    beta: float, oov_gamma: float, oov: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Per-text inverse temperature: ``beta`` shrunk by the share of unseen features."""
    return np.asarray(beta * np.exp(-oov_gamma * oov), dtype=np.float64)


def fit_temperature(
    logits: NDArray[np.float64],
    y_index: NDArray[np.int_],
    oov: NDArray[np.float64] | None = None,
) -> tuple[float, float]:
    """(beta, oov_gamma) minimising the log loss of ``softmax(beta * exp(-gamma * oov) * logits)``.

    Fitted on out-of-group logits, gamma >= 0 says how much flatter the probabilities must be for
    a text whose features the model never saw; without ``oov`` it is 0 (plain temperature).
    """
    rows = np.arange(len(y_index))

    def loss(params: NDArray[np.float64]) -> float:
        scale = calibrated_scale(float(np.exp(params[0])), float(params[1]), shares)
        logp = log_softmax(scale[:, None] * logits, axis=1)
        return float(-logp[rows, y_index].mean())

    shares = np.zeros(len(y_index)) if oov is None else np.asarray(oov, dtype=np.float64)
    gamma_bounds = (0.0, 0.0) if oov is None else (0.0, 20.0)
    result = minimize(
        loss, np.array([0.0, 0.0]), method="L-BFGS-B", bounds=[(-5.0, 5.0), gamma_bounds]
    )
    return float(np.exp(result.x[0])), float(result.x[1])


def content_analyzers(pipeline: Pipeline) -> list[tuple[Analyzer, dict[str, int]]]:
    """(content analyzer on folded text, vocabulary) of each tf-idf block; shape tokens excluded."""
    union = pipeline.named_steps["features"]
    return [
        (SPLIT_ANALYZERS[vectorizer.analyzer][0], vectorizer.vocabulary_)
        for _, vectorizer in union.transformer_list
    ]


def feature_stats(
    blocks: Sequence[tuple[Analyzer, dict[str, int]]], texts: Sequence[str]
) -> tuple[NDArray[np.float64], NDArray[np.int_]]:
    """Per text: the share of its distinct content grams unseen in training, and the known count.

    A text without any content gram (empty, whitespace, emoji, a script folded away) has share 1
    and 0 known features.
    """
    shares = np.ones(len(texts))
    known = np.zeros(len(texts), dtype=np.int_)
    for i, text in enumerate(texts):
        folded = fold(text)
        total = hits = 0
        for analyzer, vocabulary in blocks:
            grams = set(analyzer(folded))
            total += len(grams)
            hits += sum(gram in vocabulary for gram in grams)
        if total:
            shares[i] = (total - hits) / total
        known[i] = hits
    return shares, known


class TemperatureCalibrated(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A fitted pipeline whose logits are scaled by an inverse temperature fitted out of group.

    The scale is ``beta * exp(-oov_gamma * oov)``, ``oov`` being the share of the text's features
    unseen in training: unfamiliar text gets flatter probabilities, hence a lower confidence.
    """

    def __init__(self, pipeline: Pipeline, beta: float = 1.0, oov_gamma: float = 0.0) -> None:
        self.pipeline = pipeline
        self.beta = beta
        self.oov_gamma = oov_gamma

    def fit(self, X: Sequence[str], y: Sequence[str]) -> TemperatureCalibrated:
        """Fit the wrapped pipeline on all of X (beta and gamma are fitted by the caller)."""
        self.pipeline.fit(X, y)
        self.classes_ = self.pipeline.classes_
        return self

    def decision_function(self, X: Sequence[str]) -> NDArray[np.float64]:
        """Uncalibrated logits of the logistic regression."""
        return np.asarray(self.pipeline.decision_function(X), dtype=np.float64)

    def feature_stats(self, X: Sequence[str]) -> tuple[NDArray[np.float64], NDArray[np.int_]]:
        """Per text: share of content features unseen in training, count of known ones."""
        return feature_stats(content_analyzers(self.pipeline), X)

    def predict_proba(self, X: Sequence[str]) -> NDArray[np.float64]:
        """Calibrated probabilities, columns in ``classes_`` order."""
        oov, _ = self.feature_stats(X)
        # Artifacts from before the out-of-vocabulary term have no oov_gamma: 0.
        scale = calibrated_scale(self.beta, getattr(self, "oov_gamma", 0.0), oov)
        return np.asarray(softmax(scale[:, None] * self.decision_function(X), axis=1))

    def predict(self, X: Sequence[str]) -> NDArray[Any]:
        """Most probable class per text."""
        return np.asarray(self.classes_[self.predict_proba(X).argmax(axis=1)])
