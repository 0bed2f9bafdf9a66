"""A per-request predictor compiled from a fitted ``TemperatureCalibrated`` pipeline.

Calling scikit-learn for one text costs ~0.5-1 ms of sparse-matrix machinery. The same numbers
come from the fitted vocabulary, idf and coefficients with dict lookups and one small dense
gather, in tens of microseconds. Analyzers are the pipeline's own functions (the text is folded
once and shared), so features are identical by construction; tests check |delta p| <= 1e-9
against ``predict_proba``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from itertools import repeat

import numpy as np
from numpy.typing import NDArray

from tierroute.classifier.features import SPLIT_ANALYZERS, Analyzer
from tierroute.classifier.pipeline import TemperatureCalibrated
from tierroute.textfold import fold


class CompiledPredictor:
    """Probabilities for single texts without scikit-learn on the hot path.

    Each tf-idf block is l2-normalised on its own, so for a block with features i the logits gain
    ``sum_i t_i idf_i w_i / sqrt(sum_i (t_i idf_i)^2)``. One table row per feature holds
    ``[idf^2, idf * w_1, ..., idf * w_C]``: one gather and one segmented sum give both numerator
    and norm of every block, whatever the number of features (few numpy calls per text), as if
    every tf were 1; the few grams a text repeats then correct the sums to their sublinear tf.
    """

    def __init__(self, model: TemperatureCalibrated) -> None:
        pipeline = model.pipeline
        union = pipeline.named_steps["features"]
        clf = pipeline.named_steps["clf"]
        coef = np.asarray(clf.coef_, dtype=np.float64)
        if coef.shape[0] == 1:
            raise ValueError("compiled predictor needs a multinomial model (3+ tiers)")
        analyzers: list[tuple[Analyzer, Analyzer | None, dict[str, int], int]] = []
        tables: list[NDArray[np.float64]] = []
        offset = 0  # row in the combined table (each block has one extra "unknown" row)
        coef_offset = 0  # column in the classifier's feature space
        for _, vectorizer in union.transformer_list:
            if vectorizer.norm != "l2" or not vectorizer.use_idf or not vectorizer.sublinear_tf:
                raise ValueError("compiled predictor supports sublinear l2-normalised tf-idf only")
            if vectorizer.analyzer not in SPLIT_ANALYZERS:
                raise ValueError(f"unknown analyzer {vectorizer.analyzer!r}")
            folded_part, raw_part = SPLIT_ANALYZERS[vectorizer.analyzer]
            size = len(vectorizer.vocabulary_)
            vocabulary = {gram: offset + i for gram, i in vectorizer.vocabulary_.items()}
            # Unknown grams map to a trailing all-zero row: no branch per gram.
            analyzers.append((folded_part, raw_part, vocabulary, offset + size))
            idf = np.asarray(vectorizer.idf_, dtype=np.float64)
            table = np.zeros((size + 1, 1 + coef.shape[0]))
            table[:size, 0] = idf * idf
            table[:size, 1:] = idf[:, None] * coef[:, coef_offset : coef_offset + size].T
            tables.append(table)
            offset += size + 1
            coef_offset += size
        self._analyzers = tuple(analyzers)
        self._table = np.ascontiguousarray(np.vstack(tables))
        self._rows: list[list[float]] = self._table.tolist()
        self._intercept: list[float] = [float(b) for b in clf.intercept_]
        self._beta = float(model.beta)
        self._gamma = float(getattr(model, "oov_gamma", 0.0))
        self.classes: tuple[str, ...] = tuple(str(c) for c in model.classes_)

    def logits(self, text: str) -> list[float]:
        """Uncalibrated logits for one text."""
        return self._logits_and_stats(text)[0]

    def _logits_and_stats(self, text: str) -> tuple[list[float], float, int]:
        """Logits, share of content grams unseen in training, number of known content grams."""
        folded = fold(text)
        index: list[int] = []
        starts: list[int] = []
        blocks: list[tuple[Counter[str], dict[str, int], int]] = []
        repeated = False
        total = unseen = 0
        for folded_part, raw_part, vocabulary, unknown in self._analyzers:
            counts = Counter(folded_part(folded))
            content = len(counts)  # shape tokens are added after: the first keys are content
            if raw_part is not None:
                counts.update(raw_part(text))
            if not counts:
                continue
            block_index = list(map(vocabulary.get, counts, repeat(unknown)))
            total += content
            unseen += block_index[:content].count(unknown)
            starts.append(len(index))
            index += block_index
            blocks.append((counts, vocabulary, unknown))
            repeated = repeated or max(counts.values()) > 1
        share = unseen / total if total else 1.0
        scores = list(self._intercept)
        if not index:
            return scores, share, total - unseen
        sums = np.add.reduceat(self._table.take(index, axis=0), starts, axis=0).tolist()
        if repeated:
            # tf = 1 + log(count) for the few grams seen twice or more: correct the block sums
            # in place of weighting every row (most grams occur once).
            for block, (counts, vocabulary, unknown) in zip(sums, blocks, strict=True):
                for gram, count in counts.items():
                    if count > 1:
                        row = self._rows[vocabulary.get(gram, unknown)]
                        weight = math.log(count) + 1.0
                        block[0] += (weight * weight - 1.0) * row[0]
                        for j in range(1, len(block)):
                            block[j] += (weight - 1.0) * row[j]
        for block in sums:
            if block[0] > 0.0:
                norm = math.sqrt(block[0])
                scores = [s + v / norm for s, v in zip(scores, block[1:], strict=True)]
        return scores, share, total - unseen

    def predict_one(self, text: str) -> tuple[list[float], float, int]:
        """Calibrated probabilities (``classes`` order), unseen-feature share, known features."""
        # A handful of classes: plain floats beat numpy's per-call overhead here.
        z, share, known = self._logits_and_stats(text)
        top = max(z)
        beta = self._beta * math.exp(-self._gamma * share) if self._gamma else self._beta
        e = [math.exp(beta * (v - top)) for v in z]
        total = sum(e)
        return [v / total for v in e], share, known

    def predict_proba_one(self, text: str) -> list[float]:
        """Calibrated probabilities for one text, in ``classes`` order."""
        return self.predict_one(text)[0]

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """Calibrated probabilities for many texts (rows in input order)."""
        return np.array([self.predict_proba_one(text) for text in texts])
