"""PNGs of ``tierroute report``: cost by tier, tier mix and confidence over time, shadow agreement."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from tierroute.reporting.drift import HISTOGRAM_BINS, Drift
from tierroute.reporting.shadow import ShadowComparison
from tierroute.reporting.usage import Group, UsageReport


def _save(fig: Figure, path: Path, bottom: float = 0.0) -> Path:
    fig.tight_layout(rect=(0, bottom, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_cost(usage: UsageReport, path: Path) -> Path:
    """Monthly cost per tier as routed, beside the same requests on the top model."""
    by_tier: dict[str, list[float]] = {}
    top_known = True
    for group in usage.by_tier_model:
        routed, top = by_tier.setdefault(group.key[0], [0.0, 0.0])
        by_tier[group.key[0]] = [
            routed + group.summary.monthly_usd,
            top + (group.summary.top_model_monthly_usd or 0.0),
        ]
        top_known &= group.summary.top_model_monthly_usd is not None
    tiers = sorted(by_tier, key=lambda t: -by_tier[t][0])
    x = np.arange(len(tiers))
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    ax.bar(x - 0.2, [by_tier[t][0] for t in tiers], 0.4, label="routed")
    if top_known and usage.top_model:
        ax.bar(x + 0.2, [by_tier[t][1] for t in tiers], 0.4, label=f"all on {usage.top_model}")
    ax.set_xticks(x, tiers, rotation=15)
    ax.set_ylabel("USD per month (extrapolated)")
    ax.set_title("Monthly cost by tier: routed vs everything on the top model")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    dearer = [t for t in tiers if top_known and by_tier[t][0] > by_tier[t][1]]
    if dearer and usage.top_model:
        # The top model is not always the dearest: say so instead of leaving a puzzle.
        fig.text(
            0.5,
            0.01,
            f"{', '.join(dearer)}: routed costs more than on {usage.top_model}, because the "
            "tier's models are priced above it",
            ha="center",
            va="bottom",
            fontsize=7,
        )
    return _save(fig, path, bottom=0.06 if dearer else 0.0)


def plot_tier_mix(drift: Drift, path: Path) -> Path:
    """Stacked tier shares per period, with the champion's training and held-out mixes first."""
    tiers = sorted({t for p in drift.periods for t in p.mix} | set(_reference_tiers(drift)))
    columns: list[tuple[str, dict[str, float]]] = []
    if drift.reference is not None:
        columns.append(("training\nlabels", drift.reference.training_mix))
        if drift.reference.routed_mix:
            columns.append(("held-out\nrouted", drift.reference.routed_mix))
    fmt = "%m-%d %Hh" if drift.bucket == "hour" else "%Y-%m-%d"
    columns += [(p.start.strftime(fmt), p.mix) for p in drift.periods]
    fig, ax = plt.subplots(figsize=(max(7.0, 0.45 * len(columns) + 3), 4.8))
    bottom = np.zeros(len(columns))
    for tier in tiers:
        values = np.asarray([mix.get(tier, 0.0) for _, mix in columns])
        ax.bar(range(len(columns)), values, bottom=bottom, label=tier)
        bottom += values
    ax.set_xticks(range(len(columns)), [label for label, _ in columns], rotation=60, fontsize=7)
    ax.set_ylabel("share of routed requests")
    ax.set_ylim(0, 1)
    ax.set_title(f"Tier mix per {drift.bucket} against the champion's reference")
    ax.legend(fontsize=8, loc="upper right")
    return _save(fig, path)


def _reference_tiers(drift: Drift) -> Sequence[str]:
    if drift.reference is None:
        return []
    return [*drift.reference.training_mix, *(drift.reference.routed_mix or {})]


def plot_confidence(drift: Drift, path: Path) -> Path:
    """Confidence histogram (window vs held-out reference) and its median per period."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.0, 4.2))
    edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    centers = (edges[:-1] + edges[1:]) / 2
    width = 1.0 / HISTOGRAM_BINS
    window = np.asarray(drift.confidence_histogram, dtype=np.float64)
    if window.sum():
        left.bar(centers, window / window.sum(), width * 0.9, alpha=0.6, label="logged")
    reference = drift.reference
    if reference is not None and reference.confidence_histogram:
        ref = np.asarray(reference.confidence_histogram, dtype=np.float64)
        left.stairs(ref / ref.sum(), edges, color="black", label="held-out")
    if reference is not None:
        left.axvline(reference.threshold, color="red", ls="--", lw=1, label="threshold")
    left.set_xlabel("confidence")
    left.set_ylabel("share")
    left.set_title("Confidence distribution")
    left.legend(fontsize=8)
    starts = [p.start for p in drift.periods]
    right.plot(starts, [p.confidence_median for p in drift.periods], "o-", label="median")
    right.plot(starts, [p.confidence_p10 for p in drift.periods], "s--", label="10th percentile")
    right.plot(starts, [p.fallback_rate for p in drift.periods], "^:", label="fallback rate")
    if reference is not None and reference.confidence_median is not None:
        right.axhline(reference.confidence_median, color="black", lw=1, label="held-out median")
    right.set_ylim(0, 1.02)
    right.set_title(f"Per {drift.bucket}")
    right.tick_params(axis="x", labelrotation=45, labelsize=7)
    right.legend(fontsize=8)
    return _save(fig, path)


def plot_agreement(shadow: ShadowComparison, path: Path) -> Path:
    """Heatmap of champion tier (rows) against challenger tier (columns)."""
    matrix = np.asarray(shadow.matrix, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(6.0, 5.0))
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046)
    ticks = range(len(shadow.tiers))
    ax.set_xticks(ticks, shadow.tiers, rotation=30, ha="right")
    ax.set_yticks(ticks, shadow.tiers)
    peak = matrix.max() if matrix.size else 0
    for i in ticks:
        for j in ticks:
            value = int(matrix[i, j])
            color = "white" if peak and value > peak / 2 else "black"
            ax.text(j, i, str(value), ha="center", va="center", color=color, fontsize=9)
    ax.set_xlabel(f"challenger {shadow.challenger_model_id}")
    ax.set_ylabel("champion")
    ax.set_title(f"Shadow agreement {shadow.agreement:.1%} on {shadow.requests} requests")
    return _save(fig, path)


def plot_sides(groups: Sequence[Group], path: Path) -> Path:
    """Canary against baseline: error and fallback rates."""
    labels = [g.key[0] for g in groups]
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    ax.bar(x - 0.2, [100 * (g.summary.error_rate or 0.0) for g in groups], 0.4, label="error %")
    ax.bar(
        x + 0.2, [100 * (g.summary.fallback_rate or 0.0) for g in groups], 0.4, label="fallback %"
    )
    ax.set_xticks(x, labels)
    ax.set_ylabel("%")
    ax.set_title("Canary vs champion side")
    ax.legend(fontsize=8)
    return _save(fig, path)
