"""``tierroute eval``: model and heuristic side by side, written as JSON, Markdown and PNG."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from tierroute.classifier.artifacts import write_json
from tierroute.classifier.decision import DecisionPolicy
from tierroute.classifier.evaluate import evaluate_router, headline
from tierroute.classifier.heuristic import KeywordHeuristic
from tierroute.classifier.model import TierModel
from tierroute.classifier.plots import plot_confusions, plot_costs, plot_coverage, plot_reliability
from tierroute.classifier.threshold import choose_threshold
from tierroute.classifier.train import TrainOptions, decision_cost_matrix, fit_calibrated
from tierroute.data.schema import LabeledRow
from tierroute.tier_costs import WRITEUP_TIER_COSTS, TierCost

Step = Callable[[str], None]


def compare_routers(
    model: TierModel,
    rows: Sequence[LabeledRow],
    costs: Mapping[str, TierCost] = WRITEUP_TIER_COSTS,
) -> dict[str, Any]:
    """Metrics of the model (with its decision policy) and of the heuristic on the same rows."""
    texts = [row.text for row in rows]
    heuristic = KeywordHeuristic(model.tiers).fit(texts)
    classes = list(heuristic.classes_)
    _, known = model.estimator.feature_stats(texts)
    return {
        "model": evaluate_router(
            rows,
            model.predict_proba(texts),
            model.tiers,
            model.policy,
            costs=costs,
            known_features=known.tolist(),
        ),
        "heuristic": evaluate_router(rows, heuristic.predict_proba(texts), classes, costs=costs),
    }


def leave_one_source_out(
    rows: Sequence[LabeledRow],
    options: TrainOptions,
    step: Step = lambda _: None,
    min_rows: int = 20,
) -> dict[str, Any]:
    """For each source: the training procedure without it, scored on it (unseen traffic).

    Each run is what ``train`` does on the other sources: candidates of ``options`` compared
    by grouped cross-validation over those sources, temperature, out-of-vocabulary term and
    threshold fitted out of group, final fit; then the left-out source is routed with that
    threshold and the default tier. For a source of one tier, macro-F1 is that tier's F1
    (precision is 1 whenever it is predicted at all), so its accuracy (= recall) is given too.
    """
    sources = sorted({row.source for row in rows})
    results: dict[str, Any] = {}
    for source in sources:
        held = [r for r in rows if r.source == source]
        train = [r for r in rows if r.source != source]
        if len(held) < min_rows or len({r.tier for r in train}) < 3:
            continue
        step(f"leave out {source}")
        model, oof_proba, oof_labels, oof_groups, log = fit_calibrated(
            [r.text for r in train],
            [r.tier for r in train],
            options,
            lambda _: None,
            groups=[r.source for r in train],
        )
        classes = [str(c) for c in model.classes_]
        base = DecisionPolicy(
            tuple(classes), 0.0, options.default_tier, decision_cost_matrix(classes, options)
        )
        threshold, _ = choose_threshold(
            oof_proba,
            oof_labels,
            base,
            options.target_accuracy,
            options.max_under_routing,
            groups=oof_groups,
            max_source_under_routing=options.max_source_under_routing,
        )
        policy = replace(base, threshold=threshold)
        texts = [r.text for r in held]
        _, known = model.feature_stats(texts)
        heuristic = KeywordHeuristic(classes).fit(texts)
        brief = _brief(
            evaluate_router(
                held, model.predict_proba(texts), classes, policy, known_features=known.tolist()
            )
        )
        results[source] = {
            "n": len(held),
            "tiers": sorted({r.tier for r in held}),
            "langs": dict(sorted(Counter(r.lang for r in held).items())),
            "model": {**brief, "threshold": threshold, "params": log["best_params"]},
            "heuristic": _brief(
                evaluate_router(held, heuristic.predict_proba(texts), list(heuristic.classes_))
            ),
        }
    return results


def loso_summary(loso: Mapping[str, Any]) -> dict[str, Any]:
    """The weakest source by macro-F1 and the highest under-routing (the Done-when figures)."""
    if not loso:
        return {}
    weakest = min(loso, key=lambda s: loso[s]["model"]["macro_f1"])
    riskiest = max(loso, key=lambda s: loso[s]["model"]["under_routing_rate"])
    return {
        "weakest_source": weakest,
        "weakest_macro_f1": loso[weakest]["model"]["macro_f1"],
        "most_under_routed_source": riskiest,
        "max_under_routing_rate": loso[riskiest]["model"]["under_routing_rate"],
    }


def _brief(metrics: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = headline(metrics)
    out["decided_macro_f1"] = metrics["decided"]["macro_f1"]
    out["decided_accuracy"] = metrics["decided"]["accuracy"]
    out["decided_under_routing_rate"] = metrics["decided"]["under_routing_rate"]
    out["by_lang"] = {k: v.get("macro_f1") for k, v in metrics["by_lang"].items()}
    out["recall"] = {k: v["recall"] for k, v in metrics["per_tier"].items() if v["support"]}
    return out


def _row(name: str, m: Mapping[str, Any]) -> str:
    return (
        f"| {name} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | {100 * m['under_routing_rate']:.1f} % "
        f"| {100 * m['over_routing_rate']:.1f} % | {100 * m['fallback_rate']:.1f} % "
        f"| {m['calibration']['ece']:.3f} | ${m['cost']['per_1000_routed_usd']:.3f} |"
    )


def render_markdown(report: Mapping[str, Any]) -> str:
    """The human-readable report."""
    model, heuristic = report["routers"]["model"], report["routers"]["heuristic"]
    lines = [
        f"# Evaluation of model `{report['model_id']}`",
        "",
        f"Data: {report['n']} labeled rows from {', '.join(report['data_files'])}. "
        f"Threshold {model['threshold']:.2f}, default tier `{report['default_tier']}`.",
        "",
        "Costs per 1,000 requests price each routed tier's primary model (USD per million input / "
        "output tokens): "
        + "; ".join(
            f"{tier} `{p['model']}` {p['input_usd_per_mtok']:g} / {p['output_usd_per_mtok']:g}"
            for tier, p in report.get("prices", {}).items()
        )
        + ".",
        "",
        "| router | accuracy | macro-F1 | under-routing | over-routing | fallback | ECE | cost / 1k req |",
        "|---|---|---|---|---|---|---|---|",
        _row("model", model),
        _row("keyword heuristic", heuristic),
        f"| everything on `{model['cost']['top_tier']}` | | | 0.0 % | | | | "
        f"${model['cost']['per_1000_top_tier_usd']:.3f} |",
        "",
        f"At threshold {model['threshold']:.2f} (the chosen tier's probability; "
        f"rule: {report.get('threshold_rule', 'from the model card')}): coverage "
        f"{100 * model['coverage']:.1f} % (decisions not falling back), accuracy of accepted "
        f"decisions {model['accepted_accuracy']:.3f}, under-routing of all routed decisions "
        f"{100 * model['under_routing_rate']:.1f} %.",
        "",
        f"Model before fallback (its own choice, cost matrix included): accuracy "
        f"{model['decided']['accuracy']:.3f}, macro-F1 {model['decided']['macro_f1']:.3f}, "
        f"under-routing {100 * model['decided']['under_routing_rate']:.1f} %.",
        "",
        f"Argmax: accuracy {model['raw']['accuracy']:.3f}, "
        f"macro-F1 {model['raw']['macro_f1']:.3f}, under-routing {100 * model['raw']['under_routing_rate']:.1f} %.",
        "",
        "## Per tier (model, routed)",
        "",
        "| tier | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    for tier, m in model["per_tier"].items():
        lines.append(
            f"| {tier} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |"
        )
    for title, key in (("By language", "by_lang"), ("By source", "by_source")):
        lines += [
            "",
            f"## {title}",
            "",
            "| group | n | model macro-F1 | model under-routing | heuristic macro-F1 |",
            "|---|---|---|---|---|",
        ]
        for group, m in model[key].items():
            h = heuristic[key].get(group, {})
            lines.append(
                f"| {group} | {m['n']} | {m['macro_f1']:.3f} | {100 * m['under_routing_rate']:.1f} % "
                f"| {h.get('macro_f1', float('nan')):.3f} |"
            )
    if report.get("leave_one_source_out"):
        lines += [
            "",
            "## Leave one source out (trained without the source, scored on it)",
            "",
            "Each row repeats the training procedure on the other sources (selection, "
            "calibration and threshold out of group). For a source of one tier, macro-F1 is "
            "that tier's F1 (precision 1 when predicted at all): read its accuracy (= recall).",
            "",
            "Routed: the decisions served, fallbacks to the default tier included. Before "
            "fallback: the policy's own choice (cost matrix included), the classifier's quality.",
            "",
            "| source | n | tiers | accuracy | macro-F1 | under-routing | coverage "
            "| accepted accuracy | threshold | before fallback: accuracy | macro-F1 "
            "| under-routing | heuristic accuracy |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for source, r in report["leave_one_source_out"].items():
            m = r["model"]
            lines.append(
                f"| {source} | {r['n']} | {', '.join(r['tiers'])} | {m['accuracy']:.3f} "
                f"| {m['macro_f1']:.3f} | {100 * m['under_routing_rate']:.1f} % "
                f"| {100 * m['coverage']:.1f} % | {m['accepted_accuracy']:.3f} "
                f"| {m['threshold']:.2f} | {m['decided_accuracy']:.3f} "
                f"| {m['decided_macro_f1']:.3f} | {100 * m['decided_under_routing_rate']:.1f} % "
                f"| {r['heuristic']['accuracy']:.3f} |"
            )
        summary = loso_summary(report["leave_one_source_out"])
        lines += [
            "",
            f"Weakest source: `{summary['weakest_source']}` (macro-F1 "
            f"{summary['weakest_macro_f1']:.3f}); most under-routed: "
            f"`{summary['most_under_routed_source']}` "
            f"({100 * summary['max_under_routing_rate']:.1f} %).",
        ]
    lines += ["", "## Plots", ""]
    lines += [f"![{name}]({name})" for name in report["plots"]]
    misrouted = report.get("misrouted", [])
    if misrouted:
        lines += [
            "",
            "## Misrouted examples (model)",
            "",
            "| true | routed | confidence | text |",
            "|---|---|---|---|",
        ]
        for item in misrouted:
            text = item["text"].replace("|", "\\|").replace("\n", " ")[:140]
            lines.append(
                f"| {item['true']} | {item['routed']} | {item['confidence']:.2f} | {text} |"
            )
    return "\n".join(lines) + "\n"


def write_report(
    model: TierModel,
    rows: Sequence[LabeledRow],
    out_dir: Path,
    data_files: Sequence[str],
    loso: Mapping[str, Any] | None = None,
    max_misrouted: int = 30,
    costs: Mapping[str, TierCost] = WRITEUP_TIER_COSTS,
    price_table: str = "the write-up's flat price table",
) -> dict[str, Any]:
    """Evaluate, then write ``report.json``, ``report.md`` and PNG plots into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    routers = compare_routers(model, rows, costs)
    plots = [
        plot_confusions(routers, out_dir / "confusion.png").name,
        plot_reliability(routers["model"], out_dir / "reliability.png").name,
        plot_coverage(routers["model"], out_dir / "coverage.png").name,
        plot_costs(routers, out_dir / "cost.png", costs, price_table).name,
    ]
    decisions = model.predict_batch([r.text for r in rows])
    misrouted: list[dict[str, Any]] = [
        {
            "text": r.text,
            "true": r.tier,
            "routed": d.tier,
            "confidence": d.confidence,
            "source": r.source,
        }
        for r, d in zip(rows, decisions, strict=True)
        if d.tier != r.tier
    ]
    misrouted.sort(key=lambda m: -float(m["confidence"]))
    report: dict[str, Any] = {
        "model_id": model.model_id,
        "default_tier": model.default_tier,
        "threshold_rule": model.card.threshold_target.get("rule", "from the model card"),
        "threshold_out_of_group": dict(model.card.threshold_target),
        "n": len(rows),
        "data_files": list(data_files),
        "routers": routers,
        "prices": {tier: vars(cost) for tier, cost in costs.items()},
        "leave_one_source_out": dict(loso or {}),
        "leave_one_source_out_summary": loso_summary(loso or {}),
        "plots": plots,
        "misrouted": misrouted[:max_misrouted],
    }
    write_json(out_dir / "report.json", report)
    (out_dir / "report.md").write_text(render_markdown(report), encoding="utf-8")
    return report
