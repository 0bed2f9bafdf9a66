import copy
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import sample_rows
from tierroute import load_model
from tierroute.classifier.compiled import CompiledPredictor


def test_compiled_predictor_matches_sklearn_on_thousands_of_queries(small_models_dir: Path) -> None:
    model = load_model(small_models_dir)
    texts = [r.text for r in sample_rows(2000)]
    # Perturbed and odd inputs too: unknown words, code, empty-ish, long, other scripts.
    texts += [t.upper() + " ??" for t in texts[:300]]
    texts += ["", "   ", "🙂", "数据库 查询", "x" * 5000, "def f():\n    return 1\n" * 40]
    assert len(texts) > 2000
    expected = model.predict_proba(texts)
    compiled = model.compiled.predict_proba(texts)
    assert np.abs(expected - compiled).max() <= 1e-9


def test_decision_fields_and_fallback(small_models_dir: Path) -> None:
    model = load_model(small_models_dir)
    decision = model.predict("Where is my order #A123?")
    assert set(decision.probabilities) == set(model.tiers)
    assert abs(sum(decision.probabilities.values()) - 1) < 1e-9
    assert decision.confidence == decision.probabilities[decision.predicted_tier]
    assert decision.model_id == model.model_id
    strict = model.with_policy(threshold=1.0)
    forced = strict.predict("Where is my order #A123?")
    assert forced.fallback and forced.tier == model.default_tier
    assert "below threshold" in forced.reason
    lenient = model.with_policy(threshold=0.0, default_tier="code_gen")
    assert not lenient.predict("Where is my order #A123?").fallback
    assert model.threshold != 1.0  # the copy did not change the original


def test_batch_equals_single(small_models_dir: Path) -> None:
    model = load_model(small_models_dir)
    texts = ["hi", "write a python function to reverse a list", "prove that sqrt 2 is irrational"]
    batch = model.predict_batch(texts)
    for text, decision in zip(texts, batch, strict=True):
        single = model.predict(text)
        assert single.tier == decision.tier
        assert single.confidence == pytest.approx(decision.confidence, abs=1e-9)
    assert model.predict_batch([]) == []


def test_compiled_predictor_matches_sklearn_with_the_unseen_feature_term(
    small_models_dir: Path,
) -> None:
    model = load_model(small_models_dir)
    estimator = copy.deepcopy(model.estimator)
    estimator.oov_gamma = 1.7  # whatever the fit gave, a strong term must match too
    compiled = CompiledPredictor(estimator)
    texts = [r.text for r in sample_rows(300, seed=5)]
    texts += ["zxqv wobbleflop grintaxe", "", "🙂🙂", "where is my zxqv order", "数据库"]
    expected = estimator.predict_proba(texts)
    assert np.abs(expected - compiled.predict_proba(texts)).max() <= 1e-9
    shares, known = estimator.feature_stats(texts)
    for i, text in enumerate(texts):
        _, share, count = compiled.predict_one(text)
        assert share == pytest.approx(shares[i], abs=1e-12) and count == known[i]


def test_unseen_features_lower_the_confidence(small_models_dir: Path) -> None:
    model = load_model(small_models_dir)
    plain = copy.deepcopy(model.estimator)
    plain.oov_gamma = 0.0
    flattened = copy.deepcopy(model.estimator)
    flattened.oov_gamma = 2.0
    familiar = "where is my order"
    odd = "where is my order zxqv wobbleflop grintaxe quorvil"
    shares, _ = plain.feature_stats([familiar, odd])
    assert shares[1] > shares[0]
    for text, share in zip((familiar, odd), shares, strict=True):
        p0 = plain.predict_proba([text])[0].max()
        p1 = flattened.predict_proba([text])[0].max()
        assert p1 < p0 if share > 0 else p1 == pytest.approx(p0)
    # The lowering grows with the unseen share.
    drop = [
        plain.predict_proba([t])[0].max() / flattened.predict_proba([t])[0].max()
        for t in (familiar, odd)
    ]
    assert drop[1] > drop[0]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty or whitespace-only text"),
        ("   \n\t ", "empty or whitespace-only text"),
        ("🙂🎉👍", "no feature known to the model"),
        ("数据库查询", "no feature known to the model"),
    ],
)
def test_featureless_text_falls_back_to_the_default_tier(
    small_models_dir: Path, text: str, reason: str
) -> None:
    model = load_model(small_models_dir)
    for decision in (model.predict(text), model.predict_batch([text])[0]):
        assert decision.tier == model.default_tier and decision.fallback
        assert decision.confidence == 0.0
        assert decision.reason.startswith(reason)
    assert not model.predict("where is my order").reason.startswith("no feature")
