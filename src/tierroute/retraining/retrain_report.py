"""The retrain report: ``models/<candidate>/report/retrain.{json,md}``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tierroute.classifier.artifacts import write_json
from tierroute.classifier.evaluate import headline
from tierroute.retraining.result import RetrainResult

REPORT_DIR = "report"


def summary(result: RetrainResult) -> dict[str, Any]:
    """JSON-ready summary of a retrain: data, scores on both sets, the gate's verdict."""

    def scores(metrics: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        return {
            name: {
                **headline(m),
                "n": m["n"],
                "cost_per_1000_usd": m["cost"]["per_1000_routed_usd"],
                "confusion": m["confusion"],
            }
            for name, m in metrics.items()
        }

    return {
        "champion": result.champion_id,
        "candidate": result.candidate_id,
        "since": result.since.isoformat() + "Z" if result.since else None,
        "data": {
            "log_labels": result.labels.labels,
            "log_labels_without_text": result.labels.without_text,
            "log_examples": len(result.labels.examples),
            "log_holdout": len(result.holdout),
            "base_rows_kept": result.merged.from_base,
            "log_rows_merged": result.merged.from_log,
            "log_labels_confirming_base": result.merged.confirmed,
            "train_rows": result.train_rows,
            "frozen_rows": result.frozen_rows,
            "log_examples_in_frozen_set": result.frozen_in_logs,
        },
        "conflicts": [
            {"text": c.text, "winner": c.winner, "labels": list(c.labels)} for c in result.conflicts
        ],
        "frozen": scores(result.frozen),
        "newest_logs": scores(result.newest),
        "gate": result.verdict.to_dict(),
        "promoted": result.promoted,
    }


def _table(metrics: Mapping[str, Mapping[str, Any]]) -> list[str]:
    lines = [
        "| router | n | accuracy | macro-F1 | under-routing | over-routing | fallback | $/1k |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in metrics.items():
        lines.append(
            f"| {name} | {m['n']} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | "
            f"{m['under_routing_rate']:.1%} | {m['over_routing_rate']:.1%} | "
            f"{m.get('fallback_rate', 0.0):.1%} | {m['cost']['per_1000_routed_usd']:.3f} |"
        )
    return lines


def markdown(result: RetrainResult) -> str:
    """The report as Markdown."""
    data = summary(result)["data"]
    verdict = result.verdict
    lines = [
        f"# Retrain: candidate {result.candidate_id} vs champion {result.champion_id}",
        "",
        "## Data",
        "",
        *(f"- {key.replace('_', ' ')}: {value}" for key, value in data.items()),
        "",
        f"## Frozen evaluation set ({result.frozen_rows} rows, never trained on)",
        "",
        *_table(result.frozen),
        "",
    ]
    if result.newest:
        lines += [
            f"## Newest labeled logs ({len(result.holdout)} rows, held out of training)",
            "",
            *_table(result.newest),
            "",
        ]
    lines += [
        "## Gate",
        "",
        f"**{'promote' if verdict.promote else 'refuse'}**"
        + (" (promoted)" if result.promoted else ""),
        "",
        *(f"- {reason}" for reason in verdict.reasons),
        "",
    ]
    if result.conflicts:
        lines += ["## Label conflicts (latest human label wins)", ""]
        lines += [f"- {conflict.describe()}" for conflict in result.conflicts]
        lines.append("")
    return "\n".join(lines)


def write_report(result: RetrainResult) -> Path:
    """Write retrain.json and retrain.md into the candidate's report folder; returns the .md."""
    folder = result.candidate_dir / REPORT_DIR
    write_json(folder / "retrain.json", summary(result))
    path = folder / "retrain.md"
    path.write_text(markdown(result), encoding="utf-8")
    return path
