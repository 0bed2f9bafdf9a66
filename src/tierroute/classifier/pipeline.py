"""The learned classifier: word + character TF-IDF features, logistic regression, temperature.

Everything from raw text to probabilities lives in one scikit-learn ``Pipeline`` (wrapped by
``TemperatureCalibrated``), so nothing can be fitted on evaluation data by accident.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from tierroute.classifier.features import char_ngrams, word_ngrams

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


def fit_temperature(logits: NDArray[np.float64], y_index: NDArray[np.int_]) -> float:
    """Inverse temperature beta minimising the log loss of ``softmax(beta * logits)``."""

    def loss(log_beta: float) -> float:
        logp = log_softmax(np.exp(log_beta) * logits, axis=1)
        return float(-logp[np.arange(len(y_index)), y_index].mean())

    result = minimize_scalar(loss, bounds=(-5.0, 5.0), method="bounded")
    return float(np.exp(result.x))


class TemperatureCalibrated(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A fitted pipeline whose logits are divided by a temperature fitted out-of-fold."""

    def __init__(self, pipeline: Pipeline, beta: float = 1.0) -> None:
        self.pipeline = pipeline
        self.beta = beta

    def fit(self, X: Sequence[str], y: Sequence[str]) -> TemperatureCalibrated:
        """Fit the wrapped pipeline on all of X (beta is fitted by the caller out-of-fold)."""
        self.pipeline.fit(X, y)
        self.classes_ = self.pipeline.classes_
        return self

    def decision_function(self, X: Sequence[str]) -> NDArray[np.float64]:
        """Uncalibrated logits of the logistic regression."""
        return np.asarray(self.pipeline.decision_function(X), dtype=np.float64)

    def predict_proba(self, X: Sequence[str]) -> NDArray[np.float64]:
        """Calibrated probabilities, columns in ``classes_`` order."""
        return np.asarray(softmax(self.beta * self.decision_function(X), axis=1))

    def predict(self, X: Sequence[str]) -> NDArray[Any]:
        """Most probable class per text."""
        return np.asarray(self.classes_[self.predict_proba(X).argmax(axis=1)])
