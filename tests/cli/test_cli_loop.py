"""The learning-loop commands end to end: typer's runner in-process, real files and databases."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import REPO
from tests.support.learning import Log, Pools, log_traffic, write_label_file, write_rows
from tierroute.classifier.artifacts import champion_id
from tierroute.cli import app
from tierroute.simulation.scenario import load_scenario
from tierroute.simulation.simulate import simulate
from tierroute.store import get_feedback

runner = CliRunner()
WRITEUP = REPO / "config" / "scenarios" / "writeup.toml"


def run(args: Sequence[str], code: int = 0) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result.output


def test_every_loop_command_has_help() -> None:
    for command in (
        ["logs", "export"],
        ["logs", "label"],
        ["retrain"],
        ["simulate"],
        ["models", "list"],
        ["models", "show"],
        ["models", "promote"],
        ["models", "rollback"],
        ["report"],
    ):
        assert "Usage" in run([*command, "--help"])


def test_full_cycle_export_label_retrain_promote_rollback(
    models_root: Path, log: Log, pools: Pools, tmp_path: Path
) -> None:
    champion = champion_id(models_root)
    log_traffic(log.engine, pools.traffic)
    db = ["--db", log.url]

    # Export what was served; a person fills in the `tier` of each row and imports the file.
    exported = tmp_path / "logs.jsonl"
    out = run(["logs", "export", "--since", "7d", "--out", exported, *db])
    assert f"wrote {len(pools.traffic)} row(s)" in out
    rows = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    truth = {row.text: row.tier for row in pools.traffic}
    labeled = [{**row, "tier": truth[row["text"]]} for row in rows]
    labels = write_label_file(tmp_path / "labeled.jsonl", labeled)
    out = run(["logs", "label", "--input", labels, "--models", models_root, *db])
    assert f"stored {len(rows)} label(s): {len(rows)} by request id" in out
    assert len(get_feedback(log.engine)) == len(rows)
    labeled_only = tmp_path / "labeled-only.jsonl"
    run(["logs", "export", "--since", "7d", "--out", labeled_only, "--labeled-only", *db])
    assert len(labeled_only.read_text(encoding="utf-8").splitlines()) == len(rows)

    base = write_rows(tmp_path / "base.jsonl", pools.base)
    args = ["retrain", "--from-logs", "--since", "30d", "--base", base, "--models", models_root]
    fast = ["--cv-folds", "3", "--c", "10", "--resamples", "500"]
    out = run([*args, *fast, "--promote", *db])
    assert "frozen evaluation set" in out and "newest labeled logs" in out
    assert "PROMOTE" in out and "champion is now" in out
    candidate = champion_id(models_root)
    assert candidate != champion

    listing = run(["models", "list", "--models", models_root])
    assert champion in listing and candidate in listing
    assert f"champion: {candidate}" in listing and "promote" in listing
    shown = run(["models", "show", "champion", "--models", models_root])
    assert candidate in shown and "retrain gate: promote" in shown

    out = run(["models", "rollback", "--models", models_root])
    assert f"champion is now {champion}" in out
    assert champion_id(models_root) == champion
    run(["models", "promote", candidate, "--models", models_root])
    assert champion_id(models_root) == candidate
    assert "already the champion" in run(["models", "promote", candidate, "--models", models_root])


def test_bad_label_file_fails_with_file_line_and_field(
    models_root: Path, sqlite_log: Log, pools: Pools, tmp_path: Path
) -> None:
    ids = log_traffic(sqlite_log.engine, pools.traffic[:3])
    path = write_label_file(
        tmp_path / "labels.jsonl",
        [{"request_id": ids[0], "tier": "simple_faq"}, {"request_id": ids[1], "tier": "gold"}],
    )
    args = ["logs", "label", "--input", path, "--db", sqlite_log.url, "--models", models_root]
    out = run(args, code=3)
    assert f"{path}:2: tier: unknown tier 'gold'" in out.replace("\n", "")
    assert get_feedback(sqlite_log.engine) == []
    out = run([*args, "--skip-invalid"])
    assert "skipped" in out and "stored 1 label(s)" in out


def test_missing_log_database_is_a_clear_error(tmp_path: Path) -> None:
    out = run(
        ["logs", "export", "--out", tmp_path / "x.jsonl", "--db", f"sqlite:///{tmp_path}/no.db"], 3
    )
    assert "no request log" in out
    assert not (tmp_path / "no.db").exists()
    assert "not a period" in run(
        ["logs", "export", "--out", tmp_path / "x.jsonl", "--since", "soon", "--db", "sqlite://"], 3
    )


def test_retrain_without_a_champion_is_a_clear_error(tmp_path: Path, pools: Pools) -> None:
    base = write_rows(tmp_path / "base.jsonl", pools.base)
    out = run(["retrain", "--base", base, "--models", tmp_path / "empty"], code=4)
    assert "no champion" in out


def test_simulate_prints_the_writeup_figures_and_the_honest_one() -> None:
    out = run(["simulate", "--scenario", WRITEUP])
    for figure in ("$975.00", "$3,600.00", "$1,440.00", "$18.90", "$6,033.90", "$4,200.00"):
        assert figure in out
    honest = simulate(load_scenario(WRITEUP), "genai-prices").total
    assert f"${honest:,.2f}" in out
    flat_only = run(["simulate", "--scenario", WRITEUP, "--pricing", "flat"])
    assert "$6,033.90" in flat_only and f"${honest:,.2f}" not in flat_only
    assert "--pricing" in run(["simulate", "--scenario", WRITEUP, "--pricing", "cheap"], code=2)


def test_simulate_from_logs_replays_thresholds(
    models_root: Path, sqlite_log: Log, pools: Pools, tmp_path: Path
) -> None:
    traffic = pools.traffic[:120]
    ids = log_traffic(sqlite_log.engine, traffic, tokens=(100, 50), routed="moderate_conv")
    labels = write_label_file(
        tmp_path / "labels.jsonl",
        [
            {"request_id": rid, "tier": row.tier}
            for rid, row in zip(ids[:80], traffic, strict=False)
        ],
    )
    run(["logs", "label", "--input", labels, "--db", sqlite_log.url, "--models", models_root])
    out_dir = tmp_path / "sim"
    out = run(
        [
            "simulate", "--scenario", WRITEUP, "--from-logs", "--db", sqlite_log.url,
            "--model", models_root, "--threshold", "0.2", "--threshold", "0.6", "--out", out_dir,
        ]
    )  # fmt: skip
    assert "replayed traffic (120 requests)" in out
    assert (out_dir / "replay.png").stat().st_size > 1000
    points = {
        (p["policy"], p["threshold"]): p for p in json.loads((out_dir / "replay.json").read_text())
    }
    logged = points[("logged", None)]
    # Every logged request went to claude-sonnet-4.5: 100 input x $3 + 50 output x $15 per MTok.
    assert logged["cost_usd"] == pytest.approx(120 * float(Decimal("0.00105")))
    assert logged["monthly_usd"] == pytest.approx(3_000_000 * 0.00105)
    assert logged["labeled"] == 80
    top = points[("all complex_reasoning", None)]
    assert top["under_routing_rate"] == 0.0
    low, high = points[("model", 0.2)], points[("model", 0.6)]
    assert high["fallback_rate"] >= low["fallback_rate"]
    assert {"heuristic", "model (card threshold)"} <= {policy for policy, _ in points}


def test_replay_with_another_fallback_tier(
    models_root: Path, sqlite_log: Log, pools: Pools, tmp_path: Path
) -> None:
    traffic = pools.traffic[:80]
    ids = log_traffic(sqlite_log.engine, traffic)
    labels = write_label_file(
        tmp_path / "labels.jsonl",
        [{"request_id": rid, "tier": row.tier} for rid, row in zip(ids, traffic, strict=True)],
    )
    run(["logs", "label", "--input", labels, "--db", sqlite_log.url, "--models", models_root])
    results = {}
    for fallback in ("moderate_conv", "complex_reasoning"):
        out_dir = tmp_path / fallback
        args = ["simulate", "--scenario", WRITEUP, "--from-logs", "--db", sqlite_log.url]
        args += ["--model", models_root, "--threshold", "1.0", "--default-tier", fallback]
        assert f"fallback to {fallback}" in run([*args, "--out", out_dir])
        points = json.loads((out_dir / "replay.json").read_text())
        results[fallback] = next(p for p in points if p["threshold"] == 1.0)
    # Threshold 1.0: every query falls back; to complex_reasoning nothing is under-routed.
    assert results["complex_reasoning"]["fallback_rate"] == 1.0
    assert results["complex_reasoning"]["under_routing_rate"] == 0.0
    assert results["moderate_conv"]["under_routing_rate"] > 0.3
    bad = ["simulate", "--scenario", WRITEUP, "--from-logs", "--db", sqlite_log.url]
    assert "not one of" in run([*bad, "--model", models_root, "--default-tier", "gold"], code=5)
