"""PNG plots of an evaluation report (matplotlib, no screen needed)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from tierroute.tier_costs import TierCost


def plot_confusions(reports: Mapping[str, Mapping[str, Any]], path: Path) -> Path:
    """Row-normalised confusion matrices of several routers side by side."""
    fig, axes = plt.subplots(1, len(reports), figsize=(5.2 * len(reports), 4.6), squeeze=False)
    for ax, (name, report) in zip(axes[0], reports.items(), strict=True):
        labels = report["confusion"]["labels"]
        matrix = np.asarray(report["confusion"]["matrix"], dtype=float)
        totals = matrix.sum(axis=1, keepdims=True)
        share = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for i in range(len(labels)):
            for j in range(len(labels)):
                ax.text(
                    j,
                    i,
                    f"{int(matrix[i, j])}",
                    ha="center",
                    va="center",
                    color="white" if share[i, j] > 0.5 else "black",
                    fontsize=9,
                )
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.set_xlabel("routed tier")
        ax.set_ylabel("true tier")
        ax.set_title(f"{name}: macro-F1 {report['macro_f1']:.3f}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_reliability(report: Mapping[str, Any], path: Path) -> Path:
    """Reliability diagram: mean confidence against accuracy per confidence bin."""
    bins = [b for b in report["calibration"]["bins"] if b["n"]]
    fig, ax = plt.subplots(figsize=(4.8, 4.6))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", label="model")
    for b in bins:
        ax.annotate(
            str(b["n"]),
            (b["confidence"], b["accuracy"]),
            fontsize=7,
            textcoords="offset points",
            xytext=(3, -10),
        )
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"Reliability (ECE {report['calibration']['ece']:.3f})")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_coverage(report: Mapping[str, Any], path: Path) -> Path:
    """Coverage and accuracy of accepted decisions against the confidence threshold."""
    curve = report["coverage_curve"]
    thresholds = [c["threshold"] for c in curve]
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    ax.plot(thresholds, [c["coverage"] for c in curve], label="coverage (not falling back)")
    ax.plot(thresholds, [c["accuracy"] for c in curve], label="accuracy of accepted")
    ax.axvline(
        report["threshold"],
        color="grey",
        linestyle=":",
        label=f"threshold {report['threshold']:.2f}",
    )
    ax.set_xlabel("confidence threshold")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower left")
    ax.set_title("Coverage vs accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _per_mtok(cost: TierCost) -> str:
    return f"${cost.input_usd_per_mtok:g}/${cost.output_usd_per_mtok:g} per MTok in/out"


def pricier_than_top(costs: Mapping[str, TierCost], top_tier: str) -> list[str]:
    """Tiers whose model is priced above the top tier's (why routing can cost more than it)."""
    top = costs.get(top_tier)
    if top is None:
        return []
    return [
        f"{tier}'s {cost.model} ({_per_mtok(cost)})"
        for tier, cost in costs.items()
        if tier != top_tier
        and (
            cost.input_usd_per_mtok > top.input_usd_per_mtok
            or cost.output_usd_per_mtok > top.output_usd_per_mtok
        )
    ]


def cost_caption(
    reports: Mapping[str, Mapping[str, Any]], costs: Mapping[str, TierCost], top_tier: str
) -> str:
    """Why some router costs more than everything on the top tier, or "" when none does."""
    top_usd = next(iter(reports.values()))["cost"]["per_1000_top_tier_usd"]
    dearer = [n for n, r in reports.items() if r["cost"]["per_1000_routed_usd"] > top_usd]
    if not dearer:
        return ""
    top = costs.get(top_tier)
    top_name = f"{top_tier}'s {top.model} ({_per_mtok(top)})" if top else top_tier
    pricier = pricier_than_top(costs, top_tier)
    reason = (
        f"{' and '.join(pricier)} is priced above {top_name}"
        if pricier
        else f"the routed tiers' token counts cost more on their models than on {top_name}"
    )
    return (
        f"Why {' and '.join(dearer)} cost{'s' if len(dearer) == 1 else ''} more than all on "
        f"{top_tier}: in this price table the top tier is not the dearest; {reason}."
    )


def plot_costs(
    reports: Mapping[str, Mapping[str, Any]],
    path: Path,
    costs: Mapping[str, TierCost] | None = None,
    price_table: str = "the write-up's flat price table",
) -> Path:
    """Cost per 1,000 requests of each router against sending everything to the top tier.

    The title names the price table; a caption says why when a router costs more than the top
    tier (a tier whose model is priced above the top tier's, as in the write-up's table).
    """
    names = list(reports)
    routed = [reports[n]["cost"]["per_1000_routed_usd"] for n in names]
    first = next(iter(reports.values()))["cost"]
    top, top_tier = first["per_1000_top_tier_usd"], first["top_tier"]
    under = [100 * reports[n]["under_routing_rate"] for n in names]
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    bars = ax.bar(
        [*names, f"all on {top_tier}"],
        [*routed, top],
        color=["#4c72b0"] * len(names) + ["#c44e52"],
    )
    for bar, rate in zip(bars, [*under, 0.0], strict=True):
        ax.annotate(
            f"under-routed {rate:.1f}%" if bar.get_x() < len(names) - 0.5 else "",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            fontsize=8,
            textcoords="offset points",
            xytext=(0, 3),
        )
    ax.set_ylabel("USD per 1,000 requests")
    ax.set_title(f"Expected cost, priced by {price_table}", fontsize=10)
    caption = cost_caption(reports, costs or {}, top_tier)
    if caption:
        # "$" would start matplotlib's math mode.
        text = textwrap.fill(caption, 95).replace("$", r"\$")
        fig.text(0.5, 0.01, text, ha="center", va="bottom", fontsize=7)
    fig.tight_layout(rect=(0, 0.1 if caption else 0, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
