"""The promotion gate: is a candidate at least as good as the champion, beyond noise?

Both are scored on the same frozen evaluation set. The macro-F1 difference gets a paired
bootstrap confidence interval (the same resampled rows score both models, seeded so a verdict
is reproducible). The candidate is refused when the whole interval lies below zero (worse beyond
noise), or when its under-routing rate on the frozen set is higher than the champion's (plus an
optional tolerance, zero by default): under-routing costs answer quality, so it may not rise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tierroute.tiers import is_under_routed

_CHUNK = 250  # resamples scored at once (bounds memory: chunk x rows booleans per class)


@dataclass(frozen=True)
class GatePolicy:
    """How strict the gate is."""

    confidence: float = 0.95
    resamples: int = 2000
    seed: int = 0
    under_routing_tolerance: float = 0.0


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap confidence interval."""

    estimate: float
    low: float
    high: float


@dataclass
class GateVerdict:
    """The gate's decision and the figures behind it."""

    promote: bool
    reasons: list[str]
    n: int
    candidate_macro_f1: float
    champion_macro_f1: float
    delta_macro_f1: Interval
    candidate_under_routing: float
    champion_under_routing: float
    delta_under_routing: Interval
    policy: GatePolicy = field(default_factory=GatePolicy)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in the retrain report)."""
        return asdict(self)


def _macro_f1(y: NDArray[np.int64], pred: NDArray[np.int64], n_classes: int) -> NDArray[np.float64]:
    """Macro-F1 of each row of ``y``/``pred`` (shape resamples x rows), over classes present in y."""
    scores = np.zeros(y.shape[0])
    present = np.zeros(y.shape[0])
    for c in range(n_classes):
        is_true = y == c
        is_pred = pred == c
        true_count = is_true.sum(axis=1)
        denom = true_count + is_pred.sum(axis=1)
        tp = (is_true & is_pred).sum(axis=1)
        f1 = np.divide(2.0 * tp, denom, out=np.zeros(len(denom)), where=denom > 0)
        has = true_count > 0
        scores += np.where(has, f1, 0.0)
        present += has
    return np.divide(scores, present, out=np.zeros(len(scores)), where=present > 0)


def _interval(samples: NDArray[np.float64], estimate: float, confidence: float) -> Interval:
    alpha = 1.0 - confidence
    low, high = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
    return Interval(float(estimate), float(low), float(high))


def compare(
    y_true: Sequence[str],
    candidate: Sequence[str],
    champion: Sequence[str],
    policy: GatePolicy = GatePolicy(),
) -> GateVerdict:
    """Gate a candidate against the champion from their routed tiers on the same rows."""
    n = len(y_true)
    if not n == len(candidate) == len(champion):
        raise ValueError("y_true, candidate and champion must have the same length")
    labels = sorted(set(y_true) | set(candidate) | set(champion))
    code = {label: i for i, label in enumerate(labels)}
    y = np.array([code[t] for t in y_true], dtype=np.int64)
    cand = np.array([code[t] for t in candidate], dtype=np.int64)
    champ = np.array([code[t] for t in champion], dtype=np.int64)
    cand_under = np.array([is_under_routed(t, p) for t, p in zip(y_true, candidate, strict=True)])
    champ_under = np.array([is_under_routed(t, p) for t, p in zip(y_true, champion, strict=True)])

    full = np.arange(n)[None, :]
    cand_f1 = float(_macro_f1(y[full], cand[full], len(labels))[0]) if n else 0.0
    champ_f1 = float(_macro_f1(y[full], champ[full], len(labels))[0]) if n else 0.0
    cand_ur = float(cand_under.mean()) if n else 0.0
    champ_ur = float(champ_under.mean()) if n else 0.0

    rng = np.random.default_rng(policy.seed)
    f1_deltas: list[NDArray[np.float64]] = []
    ur_deltas: list[NDArray[np.float64]] = []
    remaining = policy.resamples if n else 0
    while remaining > 0:
        size = min(_CHUNK, remaining)
        remaining -= size
        idx = rng.integers(0, n, size=(size, n))
        f1_deltas.append(
            _macro_f1(y[idx], cand[idx], len(labels)) - _macro_f1(y[idx], champ[idx], len(labels))
        )
        ur_deltas.append(cand_under[idx].mean(axis=1) - champ_under[idx].mean(axis=1))
    if n:
        delta_f1 = _interval(np.concatenate(f1_deltas), cand_f1 - champ_f1, policy.confidence)
        delta_ur = _interval(np.concatenate(ur_deltas), cand_ur - champ_ur, policy.confidence)
    else:
        delta_f1 = delta_ur = Interval(0.0, 0.0, 0.0)

    reasons: list[str] = []
    pct = f"{policy.confidence:.0%}"
    if n == 0:
        reasons.append("the frozen evaluation set is empty: nothing to compare on")
    if n and delta_f1.high < 0:
        reasons.append(
            f"macro-F1 is worse beyond noise: {cand_f1:.3f} vs {champ_f1:.3f} "
            f"(difference {delta_f1.estimate:+.3f}, {pct} CI {delta_f1.low:+.3f} .. "
            f"{delta_f1.high:+.3f})"
        )
    if n and cand_ur > champ_ur + policy.under_routing_tolerance + 1e-12:
        allowed = (
            f" (tolerance {policy.under_routing_tolerance:.1%})"
            if policy.under_routing_tolerance
            else ""
        )
        reasons.append(
            f"under-routing rises: {cand_ur:.1%} vs the champion's {champ_ur:.1%}{allowed}"
        )
    promote = not reasons
    if promote:
        reasons.append(
            f"macro-F1 {cand_f1:.3f} vs {champ_f1:.3f} (difference {delta_f1.estimate:+.3f}, "
            f"{pct} CI {delta_f1.low:+.3f} .. {delta_f1.high:+.3f}: not worse beyond noise); "
            f"under-routing {cand_ur:.1%} vs {champ_ur:.1%} (does not rise)"
        )
    return GateVerdict(
        promote=promote,
        reasons=reasons,
        n=n,
        candidate_macro_f1=cand_f1,
        champion_macro_f1=champ_f1,
        delta_macro_f1=delta_f1,
        candidate_under_routing=cand_ur,
        champion_under_routing=champ_ur,
        delta_under_routing=delta_ur,
        policy=policy,
    )
