"""The confidence threshold below which a decision falls back to the default tier.

Chosen on out-of-group probabilities (``selection.py``): text unlike the training data, where
the model is wrong more often and sometimes confidently so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tierroute.classifier.decision import DecisionPolicy
from tierroute.tiers import is_under_routed


def choose_threshold(
    proba: NDArray[np.float64],
    y: Sequence[str],
    policy: DecisionPolicy,
    target_accuracy: float | None = None,
    max_under_routing: float | None = None,
    groups: Sequence[str] | None = None,
    max_source_under_routing: float | None = None,
    min_group_rows: int = 30,
) -> tuple[float, dict[str, Any]]:
    """The confidence threshold below which decisions fall back to the policy's default tier.

    ``proba`` should be out-of-group probabilities (text unlike the training data), and the
    confidence compared is the chosen tier's probability, as in the decision. With
    ``target_accuracy``: the lowest threshold whose accepted decisions reach it (most coverage).
    With ``max_under_routing`` (and no accuracy target): among the thresholds at which the routed
    decisions, fallbacks included, under-route at most that share, the one at which they cost
    least under the policy's cost matrix (ties: the lowest, most coverage); where none reaches
    the bound, the least-cost one. The cost, not the coverage, decides: a decision falls back
    where sending it to the default tier costs less than the misroutes at that confidence, so
    the fallback fires even when the bound alone would be met without it. Without either: the
    least-cost threshold (0/1 loss without a cost matrix). With ``groups`` (each row's held-out
    source) and ``max_source_under_routing``, a second bound holds in every group of at least
    ``min_group_rows`` rows, not only pooled: traffic unlike any one source is what the fallback
    is for. Falling back helps only if the
    default tier serves what the model is unsure about. The info gives coverage (share not falling back), accuracy of the accepted decisions and
    under-routing of all routed decisions.
    """
    tiers = policy.tiers
    index = {tier: i for i, tier in enumerate(tiers)}
    truth = np.array([index[t] for t in y], dtype=np.int_)
    chosen = np.array([policy.choose(row.tolist())[0] for row in proba], dtype=np.int_)
    # The decision compares the chosen tier's probability with the threshold: so does this.
    confidence = proba[np.arange(len(chosen)), chosen] if len(chosen) else np.zeros(0)
    matrix = (
        np.asarray(policy.cost_matrix, dtype=np.float64)
        if policy.cost_matrix is not None
        else 1.0 - np.eye(len(tiers))
    )
    under = np.array([[is_under_routed(t, r) for r in tiers] for t in tiers])
    default = index[policy.default_tier]
    group_array = np.asarray(groups if groups is not None else [""] * len(truth))
    names, counts = np.unique(group_array, return_counts=True)
    group_masks = [
        group_array == name for name, n in zip(names, counts, strict=True) if n >= min_group_rows
    ]
    per_group = (
        f" and <= {max_source_under_routing:.1%} in every held-out source"
        if groups is not None and max_source_under_routing is not None
        else ""
    )
    source_bound = max_source_under_routing if groups is not None else None
    if target_accuracy is not None:
        rule = f"accepted decisions >= {target_accuracy:.0%} accurate out of group"
    elif max_under_routing is not None:
        rule = (
            f"least routing cost with under-routing <= {max_under_routing:.1%} out of group"
            f"{per_group} (else least routing cost)"
        )
    else:
        rule = "least routing cost (fallbacks included) out of group"

    def at(threshold: float) -> dict[str, Any]:
        kept = confidence >= threshold
        routed = np.where(kept, chosen, default)
        is_under = under[truth, routed]
        worst = max((float(is_under[m].mean()) for m in group_masks), default=0.0)
        return {
            "coverage": float(kept.mean()) if len(kept) else 1.0,
            "accepted_accuracy": float((chosen[kept] == truth[kept]).mean()) if kept.any() else 1.0,
            "under_routing": float(is_under.mean()) if len(kept) else 0.0,
            "worst_source_under_routing": worst,
            "routing_cost": float(matrix[truth, routed].mean()) if len(kept) else 0.0,
            "rule": rule,
            "rows": len(kept),
        }

    best: tuple[float, dict[str, Any]] | None = None
    best_within: tuple[float, dict[str, Any]] | None = None
    for threshold in np.round(np.arange(0.0, 1.0, 0.01), 2):
        info = at(float(threshold))
        if target_accuracy is not None:
            if info["coverage"] > 0 and info["accepted_accuracy"] >= target_accuracy:
                return float(threshold), {**info, "met": 1.0}
            continue
        if best is None or info["routing_cost"] < best[1]["routing_cost"] - 1e-12:
            best = (float(threshold), {**info, "met": 1.0})
        within = max_under_routing is not None and (
            info["under_routing"] <= max_under_routing + 1e-12
            and (source_bound is None or info["worst_source_under_routing"] <= source_bound + 1e-12)
        )
        if within and (
            best_within is None or info["routing_cost"] < best_within[1]["routing_cost"] - 1e-12
        ):
            best_within = (float(threshold), {**info, "met": 1.0})
    if best_within is not None:
        return best_within
    if best is not None:
        # met 0: an under-routing bound no threshold reached (the least-cost one is used).
        return best[0], {**best[1], "met": 0.0 if max_under_routing is not None else 1.0}
    # Unreachable accuracy target: the strictest threshold, and the card says so.
    return 0.99, {**at(0.99), "met": 0.0}
