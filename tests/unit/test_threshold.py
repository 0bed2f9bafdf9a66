import numpy as np

from tierroute.classifier.decision import DecisionPolicy
from tierroute.classifier.threshold import choose_threshold
from tierroute.tiers import under_routing_cost_matrix

TIERS = ("code_gen", "complex_reasoning", "moderate_conv", "simple_faq")
MATRIX = tuple(tuple(r) for r in under_routing_cost_matrix(TIERS, under_cost=2.0, over_cost=1.0))


def data() -> tuple[np.ndarray, list[str]]:
    # 80 confident right answers, and 20 unsure code_gen guesses that are really complex_reasoning.
    confident = [[0.02, 0.02, 0.02, 0.94]] * 80
    unsure = [[0.40, 0.25, 0.2, 0.15]] * 20
    return np.array(confident + unsure), ["simple_faq"] * 80 + ["complex_reasoning"] * 20


def test_cost_rule_falls_back_only_where_it_pays() -> None:
    proba, y = data()
    to_complex = DecisionPolicy(TIERS, 0.0, "complex_reasoning")
    threshold, info = choose_threshold(proba, y, to_complex)
    # Falling back to complex_reasoning serves the unsure rows: the threshold rises above 0.40.
    assert 0.40 < threshold <= 0.94
    assert info["coverage"] == 0.8 and info["routing_cost"] == 0.0
    to_moderate = DecisionPolicy(TIERS, 0.0, "moderate_conv")
    threshold, info = choose_threshold(proba, y, to_moderate)
    # moderate_conv is as wrong for them as code_gen: no fallback.
    assert threshold <= 0.40 and info["coverage"] == 1.0


def test_cost_matrix_decision_already_hedges_so_fallback_adds_nothing() -> None:
    proba, y = data()
    policy = DecisionPolicy(TIERS, 0.0, "complex_reasoning", MATRIX)
    # Under-routing weighs 2x: the unsure rows already go to complex_reasoning, which serves them.
    threshold, info = choose_threshold(proba, y, policy)
    assert threshold == 0.0 and info["routing_cost"] == 0.0


def test_accuracy_target_rule() -> None:
    proba, y = data()
    policy = DecisionPolicy(TIERS, 0.0, "moderate_conv")
    threshold, info = choose_threshold(proba, y, policy, target_accuracy=0.95)
    assert 0.40 < threshold <= 0.94 and info["accepted_accuracy"] == 1.0 and info["met"] == 1.0
    threshold, info = choose_threshold(proba, y, policy, target_accuracy=0.5)
    assert threshold == 0.0 and info["coverage"] == 1.0


def test_under_routing_bound_takes_the_cheapest_threshold_meeting_it() -> None:
    proba, y = data()
    to_complex = DecisionPolicy(TIERS, 0.0, "complex_reasoning")
    threshold, info = choose_threshold(proba, y, to_complex, max_under_routing=0.03)
    # The 20 unsure rows (20 % under-routed) must fall back to complex_reasoning to reach 3 %.
    assert 0.40 < threshold <= 0.41
    assert info["under_routing"] == 0.0 and info["coverage"] == 0.8 and info["met"] == 1.0
    assert "under-routing <= 3.0%" in info["rule"]
    to_moderate = DecisionPolicy(TIERS, 0.0, "moderate_conv")
    # moderate_conv cannot serve them: unreachable, so the least-cost threshold, flagged.
    threshold, info = choose_threshold(proba, y, to_moderate, max_under_routing=0.03)
    assert info["met"] == 0.0 and info["coverage"] == 1.0 and info["under_routing"] == 0.2


def test_under_routing_bound_met_without_fallback_still_falls_back_where_it_pays() -> None:
    # 3 % under-routed at threshold 0 meets the 3 % bound; falling those rows back still costs
    # less, so the threshold rises and the fallback fires (a 0.00 threshold never would).
    proba = np.array([[0.02, 0.02, 0.02, 0.94]] * 97 + [[0.40, 0.25, 0.2, 0.15]] * 3)
    y = ["simple_faq"] * 97 + ["complex_reasoning"] * 3
    to_complex = DecisionPolicy(TIERS, 0.0, "complex_reasoning")
    threshold, info = choose_threshold(proba, y, to_complex, max_under_routing=0.03)
    assert 0.40 < threshold <= 0.94
    assert info["coverage"] == 0.97 and info["under_routing"] == 0.0 and info["met"] == 1.0
    assert info["rule"].startswith("least routing cost with under-routing <= 3.0%")


def test_under_routing_bound_holds_in_every_held_out_source() -> None:
    # Six unsure code_gen guesses, three of them really complex_reasoning: falling them back costs
    # as much as it saves (0/1 loss), and pooled 3 of 100 rows under-route (3 %, within the bound),
    # so pooled the threshold stays 0. All six come from one source of 40 rows (7.5 % under-routed):
    # with the sources given, the bound must hold there too and the threshold rises.
    proba = np.array([[0.02, 0.02, 0.02, 0.94]] * 94 + [[0.55, 0.2, 0.15, 0.10]] * 6)
    y = ["simple_faq"] * 94 + ["code_gen"] * 3 + ["complex_reasoning"] * 3
    groups = ["a"] * 60 + ["b"] * 40
    policy = DecisionPolicy(TIERS, 0.0, "complex_reasoning")
    pooled, info = choose_threshold(proba, y, policy, max_under_routing=0.03)
    assert pooled == 0.0 and info["under_routing"] == 0.03
    threshold, info = choose_threshold(
        proba, y, policy, max_under_routing=0.03, groups=groups, max_source_under_routing=0.04
    )
    assert 0.55 < threshold <= 0.94 and info["worst_source_under_routing"] == 0.0
    assert "and <= 4.0% in every held-out source" in info["rule"]
    # A looser per-source bound (8 %) is already met at 0.
    loose, _ = choose_threshold(
        proba, y, policy, max_under_routing=0.03, groups=groups, max_source_under_routing=0.08
    )
    assert loose == 0.0
