"""Logs -> labels -> retrain -> gate, on real files, a real SQLite log and real training."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.support.learning import FAST, Log, Pools, log_traffic, write_label_file
from tierroute.classifier.artifacts import EVAL_SET_NAME, champion_id, list_models
from tierroute.classifier.registry import ChangeAction, ModelRegistry
from tierroute.data.schema import LabeledRow
from tierroute.retraining.gate import GatePolicy
from tierroute.retraining.label_file import import_labels
from tierroute.retraining.retrain import RetrainOptions, RetrainResult, retrain
from tierroute.store import utcnow
from tierroute.store.labels import labels_since
from tierroute.tiers import DEFAULT_TIERS

GATE = GatePolicy(resamples=1000)


def retrain_from(
    models_root: Path, base: list[LabeledRow], log: Log, **options: Any
) -> RetrainResult:
    """Retrain on ``base`` plus the log's labels of the last 30 days (fast training options)."""
    since = utcnow() - timedelta(days=30)
    return retrain(
        models_root,
        base,
        labels_since(log.engine, since),
        since=since,
        options=RetrainOptions(train=FAST, gate=GATE, **options),
    )


def label_traffic(log: Log, pools: Pools, tmp_path: Path, *, shuffle: bool) -> list[str]:
    """Log the traffic pool as requests and import its labels (shuffled: deliberately wrong)."""
    ids = log_traffic(log.engine, pools.traffic)
    tiers = [row.tier for row in pools.traffic]
    if shuffle:
        random.Random(1).shuffle(tiers)
    path = write_label_file(
        tmp_path / "labels.jsonl",
        [{"request_id": rid, "tier": tier} for rid, tier in zip(ids, tiers, strict=True)],
    )
    assert import_labels(log.engine, path, DEFAULT_TIERS).stored == len(ids)
    return ids


def test_better_candidate_is_promoted_and_the_frozen_set_carries_over(
    models_root: Path, sqlite_log: Log, pools: Pools, tmp_path: Path
) -> None:
    champion = champion_id(models_root)
    label_traffic(sqlite_log, pools, tmp_path, shuffle=False)
    result = retrain_from(models_root, pools.base, sqlite_log, promote=True)
    assert result.champion_id == champion
    assert result.verdict.promote, result.verdict.reasons
    assert result.promoted and champion_id(models_root) == result.candidate_id
    assert result.verdict.candidate_macro_f1 > result.verdict.champion_macro_f1
    # 480 logged examples: the newest 20 % are held out, the rest are trained on.
    assert len(result.labels.examples) == 480 and len(result.holdout) == 96
    assert result.train_rows == len(pools.base) + 384
    assert set(result.newest) == {"candidate", "champion", "heuristic"}
    assert result.newest["candidate"]["n"] == 96
    assert set(result.frozen) == {"candidate", "champion", "heuristic"}
    assert result.frozen["champion"]["n"] == len(pools.frozen)
    # The same frozen set is stored with the new champion, never trained on.
    frozen = (models_root / champion / EVAL_SET_NAME).read_text(encoding="utf-8")
    assert (result.candidate_dir / EVAL_SET_NAME).read_text(encoding="utf-8") == frozen
    card = json.loads((result.candidate_dir / "card.json").read_text(encoding="utf-8"))
    assert card["retrain"]["champion"] == champion
    assert card["retrain"]["log_examples_trained"] == 384
    assert card["metrics"]["eval_set"] == "frozen evaluation set"
    # The report and the history.
    assert result.report is not None and "Gate" in result.report.read_text(encoding="utf-8")
    report = json.loads((result.candidate_dir / "report" / "retrain.json").read_text())
    assert report["gate"]["promote"] and report["promoted"]
    # `tierroute train` made the first champion through the registry too: both are recorded.
    trained, change = ModelRegistry(models_root).history()
    assert (trained.action, trained.champion, trained.reason) == (
        ChangeAction.PROMOTE,
        champion,
        "tierroute train",
    )
    assert (change.previous, change.champion) == (champion, result.candidate_id)
    assert {c.model_id for c in list_models(models_root)} == {champion, result.candidate_id}


def test_label_shuffled_candidate_on_a_tiny_base_is_refused(
    models_root: Path, sqlite_log: Log, pools: Pools, tmp_path: Path
) -> None:
    champion = champion_id(models_root)
    label_traffic(sqlite_log, pools, tmp_path, shuffle=True)
    tiny = [row for tier in DEFAULT_TIERS for row in [r for r in pools.base if r.tier == tier][:8]]
    result = retrain_from(models_root, tiny, sqlite_log, promote=True)
    assert not result.verdict.promote
    assert not result.promoted
    assert any("worse beyond noise" in r for r in result.verdict.reasons), result.verdict.reasons
    assert champion_id(models_root) == champion  # the pointer did not move
    assert result.candidate_dir.is_dir()  # the refused candidate is kept for inspection
    assert [c.champion for c in ModelRegistry(models_root).history()] == [champion]


def test_conflicting_labels_latest_wins_and_base_is_overridden(
    models_root: Path, sqlite_log: Log, pools: Pools, tmp_path: Path
) -> None:
    # A base text re-labeled in the log, and a logged text labeled twice.
    relabeled = pools.base[0]
    base_relabel = next(t for t in DEFAULT_TIERS if t != relabeled.tier)
    traffic = [row for row in pools.traffic if row.tier != "complex_reasoning"][:200]
    ids = log_traffic(sqlite_log.engine, [relabeled, *traffic])
    first = write_label_file(
        tmp_path / "first.jsonl",
        [{"request_id": rid, "tier": row.tier} for rid, row in zip(ids[1:], traffic, strict=True)],
    )
    import_labels(sqlite_log.engine, first, DEFAULT_TIERS)
    second = write_label_file(
        tmp_path / "second.jsonl",
        [
            {"request_id": ids[0], "tier": base_relabel},
            {"request_id": ids[1], "tier": "complex_reasoning"},
            {"request_id": ids[1], "tier": "complex_reasoning"},  # duplicate row: merged
        ],
    )
    assert import_labels(sqlite_log.engine, second, DEFAULT_TIERS).duplicates == 1
    result = retrain_from(models_root, pools.base, sqlite_log, holdout_fraction=0.0)
    conflicts = {c.text: c for c in result.conflicts}
    assert set(conflicts) == {relabeled.text, traffic[0].text}
    assert conflicts[relabeled.text].winner == base_relabel
    assert "base" in conflicts[relabeled.text].labels[0]
    assert conflicts[traffic[0].text].winner == "complex_reasoning"
    assert conflicts[traffic[0].text].labels[0].startswith(traffic[0].tier)
    assert result.merged.from_log == 201 and result.merged.from_base == len(pools.base) - 1
    assert not result.promoted  # no promote option: the pointer never moves
    report = json.loads((result.candidate_dir / "report" / "retrain.json").read_text())
    assert len(report["conflicts"]) == 2
