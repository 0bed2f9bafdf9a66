"""One configuration, found the same way by every command, and announced (issue 9, item 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.support import run, write_config
from tests.conftest import REPO
from tests.support.learning import Log, Pools, log_traffic, write_label_file, write_rows
from tierroute.config_file import CONFIG_ENV, find_config

WRITEUP = REPO / "config" / "scenarios" / "writeup.toml"


def test_precedence_is_flag_then_environment_then_working_directory(tmp_path: Path) -> None:
    (tmp_path / "tierroute.toml").write_text("", encoding="utf-8")
    flag, env_file = Path("flag.toml"), "env.toml"
    assert find_config(flag, {CONFIG_ENV: env_file}, tmp_path).path == flag
    chosen = find_config(None, {CONFIG_ENV: env_file}, tmp_path)
    assert chosen.path == Path(env_file) and chosen.origin == CONFIG_ENV
    local = find_config(None, {}, tmp_path)
    assert local.path == tmp_path / "tierroute.toml" and "./tierroute.toml" in local.describe()
    builtin = find_config(None, {CONFIG_ENV: "  "}, tmp_path / "empty")
    assert builtin.path is None and builtin.describe().startswith("config: built-in default")


@pytest.fixture
def other_log(sqlite_log: Log, pools: Pools, tmp_path: Path) -> tuple[Path, list[str]]:
    """A config whose log.url is a database that is not the built-in default, with traffic."""
    ids = log_traffic(sqlite_log.engine, pools.traffic[:40], tokens=(100, 50))
    return write_config(tmp_path / "other.toml", log_url=sqlite_log.url), ids


def test_loop_commands_read_the_configured_database(
    other_log: tuple[Path, list[str]],
    models_root: Path,
    pools: Pools,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config, ids = other_log
    # Nothing at the built-in sqlite:///tierroute.db of the working directory.
    monkeypatch.chdir(tmp_path)

    exported = tmp_path / "export.jsonl"
    out = run(["logs", "export", "--config", config, "--out", exported])
    assert f"config: {config} (--config)" in out
    assert f"wrote {len(ids)} row(s)" in out

    rows = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    truth = {row.text: row.tier for row in pools.traffic}
    labels = write_label_file(
        tmp_path / "labels.jsonl", [{**row, "tier": truth[row["text"]]} for row in rows]
    )
    env = {CONFIG_ENV: str(config)}
    out = run(["logs", "label", "--input", labels, "--models", models_root], env=env)
    assert f"config: {config} ({CONFIG_ENV})" in out and f"stored {len(ids)} label(s)" in out

    out = run(["report", "--models", models_root, "--out", tmp_path / "report"], env=env)
    assert f"{len(ids)} chat" in out

    out = run(
        [
            "simulate",
            "--scenario",
            WRITEUP,
            "--from-logs",
            "--model",
            models_root,
            "--out",
            tmp_path / "sim",
        ],
        env=env,
    )
    assert f"replayed traffic ({len(ids)} requests)" in out

    # ./tierroute.toml is found when neither --config nor the variable is given.
    config.rename(tmp_path / "tierroute.toml")
    base = write_rows(tmp_path / "base.jsonl", pools.base)
    out = run(
        [
            "retrain",
            "--from-logs",
            "--base",
            base,
            "--models",
            models_root,
            "--cv-folds",
            "3",
            "--c",
            "10",
            "--resamples",
            "200",
        ]
    )
    assert "config: tierroute.toml (./tierroute.toml)" in out
    assert f"{len(ids)} label(s) -> {len(ids)} labeled text(s)" in out


def test_commands_without_a_config_say_they_use_the_built_in_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    out = run(["logs", "export", "--out", tmp_path / "x.jsonl"], code=3)
    assert "config: built-in default" in out and "no request log at tierroute.db" in out


def test_a_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    out = run(
        ["logs", "export", "--out", tmp_path / "x.jsonl"],
        code=5,
        env={CONFIG_ENV: str(tmp_path / "nowhere.toml")},
    )
    assert "nowhere.toml: cannot read" in out


def test_export_edit_label_round_trip_skips_and_counts_unlabeled_rows(
    sqlite_log: Log, pools: Pools, models_root: Path, tmp_path: Path
) -> None:
    from tierroute.store import get_feedback

    traffic = pools.traffic[:6]
    log_traffic(sqlite_log.engine, traffic)
    db = ["--db", sqlite_log.url]
    exported = tmp_path / "export.jsonl"
    run(["logs", "export", "--out", exported, *db])
    rows = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert all(row["tier"] is None for row in rows)
    # A person labels two rows, leaves three as exported ("tier": null) and drops one's key.
    truth = {row.text: row.tier for row in traffic}
    rows[0]["tier"], rows[3]["tier"] = truth[rows[0]["text"]], truth[rows[3]["text"]]
    del rows[5]["tier"]
    edited = write_label_file(tmp_path / "edited.jsonl", rows)

    out = run(["logs", "label", "--input", edited, "--models", models_root, *db])
    assert "stored 2 label(s): 2 by request id" in out
    assert "4 unlabeled row(s) skipped" in out
    stored = {f["request_id"]: f["tier"] for f in get_feedback(sqlite_log.engine)}
    assert stored == {
        rows[0]["request_id"]: rows[0]["tier"],
        rows[3]["request_id"]: rows[3]["tier"],
    }
    # A wrong tier is still an error (file:line: field), not an unlabeled row.
    rows[1]["tier"] = "gold"
    bad = write_label_file(tmp_path / "bad.jsonl", rows)
    out = run(["logs", "label", "--input", bad, "--models", models_root, *db], code=3)
    assert f"{bad}:2: tier: unknown tier 'gold'" in out.replace("\n", "")
