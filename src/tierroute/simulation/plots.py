"""PNG of the replay: monthly cost against under-routing, one point per policy."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from tierroute.simulation.replay import PolicyPoint


def plot_cost_curve(points: Sequence[PolicyPoint], path: Path, title: str = "") -> Path:
    """Monthly cost (y) against under-routing on labeled rows (x); thresholds joined by a line."""
    fig, ax = plt.subplots(figsize=(7.0, 4.8))
    curve = [p for p in points if p.threshold is not None and p.under_routing_rate is not None]
    if curve:
        ax.plot(
            [100 * (p.under_routing_rate or 0.0) for p in curve],
            [p.monthly_usd for p in curve],
            "o-",
            label="model at thresholds",
        )
        for p in curve:
            ax.annotate(
                f"{p.threshold:.2f}" + ("*" if "card" in p.policy else ""),
                (100 * (p.under_routing_rate or 0.0), p.monthly_usd),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=8,
            )
    markers = iter(("s", "^", "D", "v", "P"))
    for p in points:
        if p.threshold is None and p.under_routing_rate is not None:
            ax.plot(
                100 * p.under_routing_rate, p.monthly_usd, next(markers, "x"), ms=8, label=p.policy
            )
    ax.set_xlabel("under-routing rate on labeled requests (%)")
    ax.set_ylabel("cost per month (USD)")
    ax.set_title(title or "Replayed traffic: cost against under-routing (* = card threshold)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
