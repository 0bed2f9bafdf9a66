"""``tierroute report``: figures checked against the log they come from, end to end and by unit."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import openai
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import insert
from typer.testing import CliRunner

from tests.conftest import REPO
from tests.fakes.upstream import FakeUpstream, Reply
from tests.support.learning import Log
from tests.support.live import load, serving, write_config
from tests.support.model_versions import clone_model, models_root_copy
from tierroute.classifier.artifacts import champion_id
from tierroute.cli import app
from tierroute.exceptions import ConfigError
from tierroute.reporting.baseline import load_baseline
from tierroute.reporting.build import build_report, write_report
from tierroute.reporting.costs import Pricing
from tierroute.reporting.drift import total_variation
from tierroute.reporting.queries import Window, bin_counts, percentiles
from tierroute.reporting.usage import MONTH, observed_span, summaries, usage_report
from tierroute.store import LogWriter, RequestRecord, get_requests, open_engine, utcnow
from tierroute.store.schema import requests

runner = CliRunner()
BEFORE = REPO / "config" / "scenarios" / "writeup_before.toml"
# USD per million tokens, as tests/support/live.py's config sets them.
PRICES = {"fake:small": (1.0, 2.0), "fake:medium": (3.0, 15.0), "fake:large": (2.0, 8.0)}
PRICES["fake:coder"] = (0.28, 0.42)
QUERIES = [
    "Write a Python function that reverses a linked list.",
    "What is your refund policy?",
    "Where is my order? It was supposed to arrive yesterday.",
    "How do I reset my password?",
    "Compare the long-term strategy of renting versus buying a home, with a detailed analysis.",
    "Can you help me write a friendly note to my neighbour about the noise last night?",
    "Implement binary search in JavaScript and explain its complexity.",
    "Do you ship to Da Nang?",
    "Analyze the trade-offs between microservices and a monolith for a small team.",
    "I'm planning a birthday party for my daughter, any ideas for games?",
]


def price(model: str, prompt: int, completion: int) -> float:
    rate_in, rate_out = PRICES[model]
    return (prompt * rate_in + completion * rate_out) / 1_000_000


def run(args: Sequence[object], code: int = 0) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result.output


def noon(moment: datetime) -> datetime:
    return moment.replace(hour=12, minute=0, second=0, microsecond=0)


def backfill(url: str, model_id: str, days: int, per_day: int) -> None:
    """Older traffic from noon of each past day, through the real log writer; the mix shifts."""
    engine = open_engine(url)
    writer = LogWriter(engine)
    writer.start()
    now = utcnow()
    tiers = ["simple_faq", "moderate_conv", "complex_reasoning", "code_gen"]
    chains = {"simple_faq": "fake:small", "moderate_conv": "fake:medium"}
    chains |= {"complex_reasoning": "fake:large", "code_gen": "fake:coder"}
    for day in range(days, 0, -1):
        for i in range(per_day):
            tier = tiers[0] if i < per_day - day else tiers[i % 4]
            model = chains[tier]
            writer.submit(
                RequestRecord(
                    request_id=f"old-{day}-{i}",
                    endpoint="chat",
                    status=200 if i % 17 else 503,
                    created_at=noon(now - timedelta(days=day)) + timedelta(minutes=i),
                    requested_model="auto",
                    tier=tier,
                    confidence=0.5 + (i % 5) / 10,
                    fallback=i % 9 == 0,
                    model_id=model_id,
                    model=model,
                    latency_ms=20.0 + i,
                    prompt_tokens=80 + i,
                    completion_tokens=40,
                    cost_usd=price(model, 80 + i, 40) if i % 17 else 0.0,
                    text=f"old query {i}",
                )
            )
    writer.close()
    engine.dispose()


def test_report_end_to_end_on_a_served_log(
    tmp_path: Path, small_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = models_root_copy(small_models_dir, tmp_path / "models")
    champion = champion_id(root)
    assert champion is not None
    clone_model(root, "m-shadow", threshold=1.0)  # routes everything to moderate_conv
    monkeypatch.delenv("TIERROUTE_API_KEYS", raising=False)
    with FakeUpstream(Reply(prompt_tokens=120, completion_tokens=60)).running() as fake:
        config_path = write_config(
            tmp_path, fake.base_url, extra='\n[rollout]\nchallenger = "latest"\n'
        )
        config = load(config_path)
        # The first request to reach fake:coder fails over to fake:large, which fails too.
        fake.script("coder", *[Reply.error(500)] * 2)
        fake.script("large", *[Reply.error(500)] * 2)
        with serving(config, root, registry=CollectorRegistry()) as (server, _app):
            client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
            for i, text in enumerate(QUERIES * 3):
                try:
                    client.chat.completions.create(
                        model="auto",
                        messages=[{"role": "user", "content": text}],
                        extra_headers={"x-request-id": f"live-{i}"},
                    )
                except openai.APIStatusError as exc:
                    assert exc.status_code == 503
            client.close()
    backfill(config.log.url, champion, days=5, per_day=24)
    out = tmp_path / "report"
    printed = run(
        [
            *("report", "--since", "7d", "--config", config_path, "--models", root),
            *("--compare-to", BEFORE, "--out", out),
        ]
    )
    assert "before (write-up, all on GPT-4o)" in printed and "$4,200.00" in printed
    assert "shadow m-shadow" in printed

    engine = open_engine(config.log.url)
    rows = [r for r in get_requests(engine) if r["endpoint"] == "chat"]
    engine.dispose()
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    usage = data["usage"]
    total = usage["total"]
    assert total["requests"] == len(rows) == 30 + 5 * 24
    errors = [r for r in rows if r["status"] >= 400]
    assert errors, "the scripted failure should have produced an error row"
    assert total["errors"] == len(errors)
    assert total["error_rate"] == pytest.approx(len(errors) / len(rows))
    answered = [r["latency_ms"] for r in rows if r["status"] < 400]
    assert total["p50_ms"] == pytest.approx(float(np.percentile(answered, 50)))
    assert total["p99_ms"] == pytest.approx(float(np.percentile(answered, 99)))
    cost = sum(r["cost_usd"] for r in rows)
    assert total["cost_usd"] == pytest.approx(cost)
    # Extrapolation: the window's cost over the observed span, scaled to 30 days.
    assert usage["span"] * usage["months"] == pytest.approx(MONTH.total_seconds())
    assert total["monthly_usd"] == pytest.approx(cost * usage["months"])
    first, until = (
        datetime.fromisoformat(usage[k].rstrip("Z")) for k in ("first_request", "until")
    )
    assert timedelta(days=4, hours=12) < until - first < timedelta(days=5, hours=12)
    assert usage["span"] == pytest.approx((until - first).total_seconds())
    # Counterfactual: every request's tokens on the top tier's primary model (fake:large).
    on_top = sum(price("fake:large", r["prompt_tokens"], r["completion_tokens"]) for r in rows)
    assert usage["top_model"] == "fake:large"
    assert total["top_model_cost_usd"] == pytest.approx(on_top)
    assert sum(g["summary"]["requests"] for g in usage["by_tier_model"]) == len(rows)

    # Shadow: only the live requests were scored by the challenger.
    shadowed = [r for r in rows if r["challenger_model_id"] == "m-shadow"]
    assert len(shadowed) == 30
    (shadow,) = usage["shadow"]
    assert shadow["challenger_model_id"] == "m-shadow" and shadow["requests"] == 30
    assert sum(map(sum, shadow["matrix"])) == 30
    agree = sum(r["tier"] == r["challenger_tier"] for r in shadowed) / 30
    assert shadow["agreement"] == pytest.approx(agree)
    assert {r["challenger_tier"] for r in shadowed} == {"moderate_conv"}
    priced = [r for r in shadowed if r["prompt_tokens"] or r["completion_tokens"]]
    assert shadow["challenger_cost_usd"] == pytest.approx(
        sum(price("fake:medium", r["prompt_tokens"], r["completion_tokens"]) for r in priced)
    )

    # Drift: one period per day, against the champion's training mix and held-out routing.
    drift = data["drift"]
    assert drift["bucket"] == "day" and len(drift["periods"]) == 6
    assert drift["reference"]["model_id"] == champion
    assert sum(drift["reference"]["training_mix"].values()) == pytest.approx(1.0)
    assert drift["reference"]["eval_rows"] > 0
    mix = drift["mix"]
    assert drift["distance_to_training"] == pytest.approx(
        total_variation(mix, drift["reference"]["training_mix"])
    )
    oldest, newest_backfill = drift["periods"][0], drift["periods"][4]
    assert oldest["mix"]["simple_faq"] < newest_backfill["mix"]["simple_faq"]  # the shift

    markdown = (out / "report.md").read_text(encoding="utf-8")
    for needle in (
        "## Results",
        "| monthly cost | $4,200.00 |",
        "champion \\ challenger",
        "## Drift",
    ):
        assert needle in markdown
    for name in ("cost.png", "tier_mix.png", "confidence.png", "agreement_m-shadow.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({name})" in markdown


def test_report_of_an_empty_window_is_a_clear_error(sqlite_log: Log, tmp_path: Path) -> None:
    out = run(["report", "--since", "7d", "--db", sqlite_log.url, "--out", tmp_path], code=3)
    assert "no requests logged" in out


def test_report_refuses_a_bad_baseline(tmp_path: Path) -> None:
    bad = tmp_path / "before.toml"
    bad.write_text("monthly_cost = 4200\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="monthly_cost: Extra inputs"):
        load_baseline(bad)
    good = tmp_path / "before.json"
    good.write_text(json.dumps({"label": "old", "error_rate": 0.05}), encoding="utf-8")
    assert load_baseline(good).error_rate == 0.05
    assert load_baseline(BEFORE).monthly_cost_usd == 4200


def row(
    status: int = 200,
    latency: float = 10.0,
    side: str = "champion",
    fallback: bool = False,
    at: datetime | None = None,
) -> RequestRecord:
    return RequestRecord(
        request_id="r",
        created_at=at or datetime(2026, 1, 10, 12),
        endpoint="chat",
        status=status,
        tier="simple_faq",
        confidence=0.9,
        fallback=fallback,
        model_id="m",
        model="p:a",
        latency_ms=latency,
        prompt_tokens=1000,
        completion_tokens=500,
        cost_usd=0.01,
        route_side=side,
    )


def logged(log: Log, records: Sequence[RequestRecord]) -> Window:
    """Insert ``records`` into the log; the window of 2026-01-10 they fall in."""
    with log.engine.begin() as conn:
        conn.execute(insert(requests), [r.row() for r in records])
    return Window(datetime(2026, 1, 10), datetime(2026, 1, 11))


def flat_price(model: str, prompt: int, completion: int) -> float:
    return (prompt + completion) * (2.0 if model == "p:top" else 1.0) / 1_000_000


TOP = Pricing({"simple_faq": "p:a", "complex_reasoning": "p:top"}, "complex_reasoning", flat_price)


def test_summary_counts_errors_without_abandoned_requests_and_latency_of_answers_only(
    sqlite_log: Log,
) -> None:
    rows = [row(latency=v) for v in (10, 20, 30, 40)] + [row(503, 5.0), row(499, 1.0)]
    summary = summaries(sqlite_log.engine, logged(sqlite_log, rows), [], 2.0, TOP)[()]
    assert summary.requests == 6 and summary.errors == 1 and summary.abandoned == 1
    assert summary.error_rate == pytest.approx(1 / 5)
    assert summary.p50_ms == pytest.approx(25.0)
    assert summary.p99_ms == pytest.approx(float(np.percentile([10, 20, 30, 40], 99)))
    assert summary.monthly_usd == pytest.approx(6 * 0.01 * 2)
    assert summary.top_model_cost_usd == pytest.approx(6 * 1500 * 2.0 / 1e6)


def test_observed_span_starts_at_the_first_request_and_is_never_shorter_than_a_minute() -> None:
    since, until = datetime(2026, 1, 1), datetime(2026, 1, 31)
    assert observed_span(since, until, datetime(2026, 1, 21)) == timedelta(days=10)
    assert observed_span(since, until, datetime(2025, 12, 1)) == timedelta(days=30)
    assert observed_span(since, until, until) == timedelta(minutes=1)


def test_canary_sides_appear_only_when_a_canary_ran(log: Log) -> None:
    plain = usage_report(log.engine, logged(log, [row(), row()]), TOP, ["simple_faq"])
    assert plain.by_side == [] and plain.top_model == "p:top"
    mixed = [row(503, side="canary", fallback=True), row(side="canary")]
    sides = {
        g.key[0]: g.summary for g in usage_report(log.engine, logged(log, mixed), TOP, []).by_side
    }
    assert sides["canary"].error_rate == 0.5 and sides["canary"].fallback_rate == 0.5
    assert sides["champion"].error_rate == 0.0


def test_sql_percentiles_and_bins_agree_with_numpy_on_both_backends(log: Log) -> None:
    rng = np.random.default_rng(3)
    values = {"a": rng.exponential(80.0, 501).round(3), "b": rng.uniform(0, 1, 10), "c": [7.5]}
    records = []
    for model, group in values.items():
        for v in group:
            records.append(row(latency=float(v)))
            records[-1].model, records[-1].confidence = model, min(float(v), 1.0)
    window = logged(log, records)
    found = percentiles(log.engine, window, requests.c.latency_ms, (10, 50, 99), [requests.c.model])
    for model, group in values.items():
        for p in (10, 50, 99):
            assert found[(model,)][p] == pytest.approx(float(np.percentile(group, p)), rel=1e-12)
    edges = [float(e) for e in np.linspace(0.0, 1.0, 21)]
    confidences = [r.confidence for r in records]
    expected, _ = np.histogram(confidences, bins=20, range=(0.0, 1.0))
    assert bin_counts(log.engine, window, requests.c.confidence, edges) == list(expected)
    assert sum(expected) == len(records)  # 1.0 falls in the last bin, not outside


def test_report_reads_the_log_on_both_backends(log: Log, tmp_path: Path) -> None:
    backfill(log.url, "m-1", days=3, per_day=10)
    pricing = Pricing(
        {"simple_faq": "fake:small", "complex_reasoning": "fake:large"},
        "complex_reasoning",
        lambda model, p, c: price(model, p, c),
    )
    built = build_report(log.engine, "7d", utcnow(), pricing, tmp_path / "no-models")
    assert built.usage.total.requests == 30
    assert built.usage.model_ids == {"m-1": 30}
    assert len(built.drift.periods) == 3 and built.drift.reference is None
    assert any("no drift reference" in note for note in built.drift.notes)
    files = write_report(built, tmp_path / "out")
    assert {p.name for p in files.figures} == {"cost.png", "tier_mix.png", "confidence.png"}
