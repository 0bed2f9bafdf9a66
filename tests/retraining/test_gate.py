"""The promotion gate's paired bootstrap and its two rules."""

from __future__ import annotations

import random

import pytest

from tierroute.classifier.evaluate import classification_metrics
from tierroute.retraining.gate import GatePolicy, compare
from tierroute.tiers import DEFAULT_TIERS, is_under_routed


def noisy(truth: list[str], error_rate: float, seed: int) -> list[str]:
    """Predictions that copy ``truth`` except a random share replaced by another tier."""
    rng = random.Random(seed)
    return [
        rng.choice([t for t in DEFAULT_TIERS if t != y]) if rng.random() < error_rate else y
        for y in truth
    ]


@pytest.fixture(scope="module")
def truth() -> list[str]:
    rng = random.Random(0)
    return [rng.choice(DEFAULT_TIERS) for _ in range(400)]


def test_point_estimates_match_the_evaluation_code(truth: list[str]) -> None:
    candidate, champion = noisy(truth, 0.2, 1), noisy(truth, 0.3, 2)
    verdict = compare(truth, candidate, champion, GatePolicy(resamples=200))
    ours = classification_metrics(truth, candidate, list(DEFAULT_TIERS))
    theirs = classification_metrics(truth, champion, list(DEFAULT_TIERS))
    assert verdict.candidate_macro_f1 == pytest.approx(ours["macro_f1"], abs=1e-12)
    assert verdict.champion_macro_f1 == pytest.approx(theirs["macro_f1"], abs=1e-12)
    assert verdict.candidate_under_routing == pytest.approx(ours["under_routing_rate"])
    assert verdict.delta_macro_f1.estimate == pytest.approx(ours["macro_f1"] - theirs["macro_f1"])


def test_identical_models_pass_with_a_zero_interval(truth: list[str]) -> None:
    same = noisy(truth, 0.25, 3)
    verdict = compare(truth, same, same)
    assert verdict.promote
    assert verdict.delta_macro_f1.low == verdict.delta_macro_f1.high == 0.0


def test_a_clearly_worse_candidate_is_refused(truth: list[str]) -> None:
    verdict = compare(truth, noisy(truth, 0.6, 4), noisy(truth, 0.15, 5))
    assert not verdict.promote
    assert verdict.delta_macro_f1.high < 0
    assert any("worse beyond noise" in reason for reason in verdict.reasons)


def test_a_small_dip_within_noise_passes_the_f1_rule(truth: list[str]) -> None:
    champion = noisy(truth, 0.20, 6)
    candidate = list(champion)
    # Two more wrong answers than the champion, both over-routed (never under-routed).
    changed = 0
    for i, (y, p) in enumerate(zip(truth, champion, strict=True)):
        if y == p == "simple_faq" and changed < 2:
            candidate[i] = "complex_reasoning"
            changed += 1
    verdict = compare(truth, candidate, champion)
    assert verdict.delta_macro_f1.estimate < 0
    assert verdict.delta_macro_f1.low < 0 <= verdict.delta_macro_f1.high
    assert verdict.promote, verdict.reasons


def test_more_under_routing_is_refused_even_with_better_f1(truth: list[str]) -> None:
    champion = noisy(truth, 0.25, 7)
    candidate = list(truth)  # perfect ...
    flipped = 0
    for i, y in enumerate(truth):  # ... except that it under-routes more than the champion does
        if y == "complex_reasoning" and flipped < 60:
            candidate[i] = "simple_faq"
            flipped += 1
    champ_under = sum(is_under_routed(t, p) for t, p in zip(truth, champion, strict=True))
    assert flipped > champ_under
    verdict = compare(truth, candidate, champion)
    assert not verdict.promote
    assert any("under-routing rises" in reason for reason in verdict.reasons)
    tolerant = compare(truth, candidate, champion, GatePolicy(under_routing_tolerance=0.5))
    assert tolerant.promote


def test_the_bootstrap_is_seeded(truth: list[str]) -> None:
    a, b = noisy(truth, 0.3, 8), noisy(truth, 0.32, 9)
    first = compare(truth, a, b, GatePolicy(seed=11))
    again = compare(truth, a, b, GatePolicy(seed=11))
    other = compare(truth, a, b, GatePolicy(seed=12))
    assert first.delta_macro_f1 == again.delta_macro_f1
    assert first.delta_macro_f1 != other.delta_macro_f1


def test_empty_set_cannot_promote() -> None:
    verdict = compare([], [], [])
    assert not verdict.promote
    assert "empty" in verdict.reasons[0]
