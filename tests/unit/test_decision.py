import pytest

from tierroute.classifier.decision import DecisionPolicy
from tierroute.tiers import under_routing_cost_matrix

TIERS = ("code_gen", "complex_reasoning", "moderate_conv", "simple_faq")


def test_confident_decision_takes_top_class() -> None:
    policy = DecisionPolicy(TIERS, 0.6, "moderate_conv")
    decision = policy.decide([0.1, 0.05, 0.05, 0.8], "m1")
    assert (decision.tier, decision.fallback, decision.model_id) == ("simple_faq", False, "m1")
    assert decision.confidence == pytest.approx(0.8)
    assert set(decision.probabilities) == set(TIERS)


def test_low_confidence_falls_back_to_default_tier_with_reason() -> None:
    policy = DecisionPolicy(TIERS, 0.6, "moderate_conv")
    decision = policy.decide([0.5, 0.1, 0.1, 0.3], "m1")
    assert decision.tier == "moderate_conv" and decision.fallback
    assert decision.predicted_tier == "code_gen"
    assert "below threshold" in decision.reason


def test_cost_matrix_prefers_safe_tier_when_top_class_is_risky() -> None:
    matrix = tuple(
        tuple(r) for r in under_routing_cost_matrix(TIERS, under_cost=5.0, over_cost=1.0)
    )
    policy = DecisionPolicy(TIERS, 0.0, "moderate_conv", matrix)
    # simple_faq is most likely, but a 30 % chance of complex_reasoning makes under-routing costly
    decision = policy.decide([0.0, 0.3, 0.0, 0.7], "m")
    assert decision.tier == "complex_reasoning"
    assert "expected cost" in decision.reason
    plain = DecisionPolicy(TIERS, 0.0, "moderate_conv")
    assert plain.decide([0.0, 0.3, 0.0, 0.7], "m").tier == "simple_faq"


def test_policy_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="default tier"):
        DecisionPolicy(TIERS, 0.5, "unknown")
    with pytest.raises(ValueError, match="threshold"):
        DecisionPolicy(TIERS, 1.5, "moderate_conv")
    with pytest.raises(ValueError, match="cost matrix"):
        DecisionPolicy(TIERS, 0.5, "moderate_conv", ((0.0,),))


def test_confidence_is_the_chosen_tiers_probability_not_the_top_class() -> None:
    matrix = tuple(
        tuple(r) for r in under_routing_cost_matrix(TIERS, under_cost=5.0, over_cost=1.0)
    )
    policy = DecisionPolicy(TIERS, 0.0, "moderate_conv", matrix)
    decision = policy.decide([0.0, 0.3, 0.0, 0.7], "m")
    assert decision.tier == "complex_reasoning"
    assert decision.confidence == pytest.approx(0.3)
    # The threshold compares the same number: 0.3 in complex_reasoning is below 0.5.
    strict = DecisionPolicy(TIERS, 0.5, "moderate_conv", matrix)
    fallen = strict.decide([0.0, 0.3, 0.0, 0.7], "m")
    assert fallen.fallback and fallen.tier == "moderate_conv"
    assert fallen.predicted_tier == "complex_reasoning" and fallen.confidence == pytest.approx(0.3)
    assert "0.300 in complex_reasoning below threshold" in fallen.reason


def test_no_known_feature_goes_to_the_default_tier_as_a_fallback() -> None:
    policy = DecisionPolicy(TIERS, 0.0, "moderate_conv")
    decision = policy.decide([0.1, 0.05, 0.05, 0.8], "m", known_features=0)
    assert (decision.tier, decision.fallback, decision.confidence) == ("moderate_conv", True, 0.0)
    assert "no feature known to the model" in decision.reason
    assert policy.decide([0.1, 0.05, 0.05, 0.8], "m", known_features=3).tier == "simple_faq"
