from pathlib import Path

import numpy as np
import pytest

from tests.conftest import sample_rows
from tierroute import load_model


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
    assert decision.confidence == max(decision.probabilities.values())
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
