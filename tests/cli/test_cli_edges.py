"""The command line at its edges: a message and a documented exit code, never a traceback,
and no silent damage (issue 9, items 3 and 4)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.cli.support import run, write_config
from tests.conftest import REPO, sample_rows
from tierroute.classifier.artifacts import ARTIFACT_NAME, CHAMPION_POINTER, champion_id
from tierroute.exit_codes import ExitCode

WRITEUP = REPO / "config" / "scenarios" / "writeup.toml"


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def models(small_models_dir: Path, tmp_path: Path) -> Path:
    """A private copy of a trained models root."""
    return Path(shutil.copytree(small_models_dir, tmp_path / "models"))


@pytest.mark.parametrize(
    ("args", "option", "allowed"),
    [
        (["train", "--eval-fraction", "0"], "--eval-fraction", "0 < x < 1"),
        (["train", "--eval-fraction", "1.0"], "--eval-fraction", "0 < x < 1"),
        (["train", "--target-accuracy", "1.5"], "--target-accuracy", "0 < x <= 1"),
        (["train", "--under-weight", "-1"], "--under-weight", "x >= 0"),
        (["retrain", "--holdout", "1.5"], "--holdout", "0 <= x < 1"),
        (["retrain", "--cv-folds", "1"], "--cv-folds", "x >= 2"),
        (["retrain", "--resamples", "0"], "--resamples", "x >= 1"),
        (["retrain", "--c", "10", "--c", "-1"], "--c", "x > 0"),
        (
            ["simulate", "--scenario", str(WRITEUP), "--threshold", "1.5"],
            "--threshold",
            "0 <= x <= 1",
        ),
        (["data", "import", "gsm8k", ".", "--out", "x.jsonl", "--limit", "-1"], "--limit", ""),
    ],
)
def test_out_of_range_options_are_usage_errors(args: list[str], option: str, allowed: str) -> None:
    out = run(args, code=ExitCode.USAGE)
    assert f"Invalid value for '{option}'" in out and allowed in out


def test_a_language_the_router_does_not_know_is_rejected_by_file_line_field(
    tmp_path: Path,
) -> None:
    path = _jsonl(
        tmp_path / "rows.jsonl",
        [
            {"text": "What time is it?", "tier": "simple_faq", "lang": "en"},
            {"text": "Quelle heure est-il ?", "tier": "simple_faq", "lang": "fr"},
        ],
    )
    out = run(["data", "validate", path], code=ExitCode.DATA)
    assert f"{path}:2: lang: unsupported language 'fr'" in out.replace("\n", "")


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_file_that_is_not_utf8_names_file_line_and_byte_offset(
    tmp_path: Path, suffix: str
) -> None:
    good = (
        b'{"text": "hello there", "tier": "simple_faq"}\n'
        if suffix == ".jsonl"
        else b"text,tier\nhello there,simple_faq\n"
    )
    bad = b'{"text": "caf\xe9", "tier": "simple_faq"}\n' if suffix == ".jsonl" else b"caf\xe9,x\n"
    path = tmp_path / f"latin1{suffix}"
    path.write_bytes(good + bad)
    offset = len(good) + bad.index(b"\xe9")
    line = good.count(b"\n") + 1
    out = run(["data", "validate", path], code=ExitCode.DATA)
    assert f"{path}:{line}: not UTF-8 (byte 0xe9 at byte offset {offset})" in out.replace("\n", "")


def test_a_config_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_bytes(b'[log]\nurl = "sqlite:///caf\xe9.db"\n')
    out = run(["logs", "export", "--out", tmp_path / "x.jsonl", "--config", config], code=5)
    assert f"{config}:2: not UTF-8" in out.replace("\n", "")


def test_an_empty_eval_file_is_a_data_error(models: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    out = run(["eval", "--data", empty, "--model", models, "--out", tmp_path / "r"], code=3)
    assert f"{empty}: no valid labeled rows" in out.replace("\n", "")
    assert not (tmp_path / "r").exists()


def test_an_output_path_that_is_a_directory_is_refused_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    target = tmp_path / "reports"
    target.mkdir()
    out = run(["logs", "export", "--out", target, "--db", "sqlite://"], code=ExitCode.USAGE)
    assert "is a directory" in out
    assert list(tmp_path.iterdir()) == [target] and list(target.iterdir()) == []
    source = _jsonl(tmp_path / "in.jsonl", [{"text": "hi"}])
    out = run(
        ["classify", "--input", source, "--output", target, "--baseline", "heuristic"],
        code=ExitCode.USAGE,
    )
    assert "is a directory" in out
    out = run(["train", "--data", source, "--out", source], code=ExitCode.USAGE)
    assert "is a file; give a folder" in out


def test_writes_leave_no_temporary_file_outside_the_output_directory(tmp_path: Path) -> None:
    from tierroute.retraining.export import export_logs
    from tierroute.store import open_engine, utcnow

    engine = open_engine(f"sqlite:///{tmp_path / 'log.db'}")
    try:
        out = tmp_path / "deep" / "out.jsonl"
        export_logs(engine, utcnow(), out)
        assert [p.name for p in out.parent.iterdir()] == ["out.jsonl"]
        before = set(tmp_path.iterdir())
        with pytest.raises(IsADirectoryError):
            export_logs(engine, utcnow(), out.parent)
        assert set(tmp_path.iterdir()) == before
        assert not Path("/", f".{out.parent.name}.partial").exists()
    finally:
        engine.dispose()


def test_classify_keeps_the_inputs_tier_as_label(models: Path, tmp_path: Path) -> None:
    rows = [
        {"id": 1, "text": "What are your opening hours?", "tier": "simple_faq"},
        {"id": 2, "text": "Write a python function that reverses a list", "tier": "code_gen"},
        {"id": 3, "text": "hello"},
    ]
    source = _jsonl(tmp_path / "labeled.jsonl", rows)
    out = tmp_path / "out.jsonl"
    run(["classify", "--input", source, "--output", out, "--model", models])
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [w.get("label") for w in written] == ["simple_faq", "code_gen", None]
    assert all(
        w["tier"] in {"simple_faq", "moderate_conv", "complex_reasoning", "code_gen"}
        for w in written
    )
    assert "label" not in written[2]


def test_classify_refuses_to_write_over_its_input(
    models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _jsonl(tmp_path / "labeled.jsonl", [{"text": "hi", "tier": "simple_faq"}])
    before = source.read_bytes()
    link = tmp_path / "link.jsonl"
    link.symlink_to(source)
    monkeypatch.chdir(tmp_path)
    for output in (source, link, Path("labeled.jsonl"), Path("./sub/../labeled.jsonl")):
        out = run(
            ["classify", "--input", source, "--output", output, "--model", models],
            code=ExitCode.USAGE,
        )
        assert "is the input file" in out
    assert source.read_bytes() == before


def test_promote_cannot_point_the_champion_outside_the_models_root(
    models: Path, tmp_path: Path
) -> None:
    champion = champion_id(models)
    assert champion is not None
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(models / champion, elsewhere / "m1")
    for model_id in ("../elsewhere/m1", str(elsewhere / "m1"), "..", "."):
        out = run(["models", "promote", model_id, "--models", models], code=ExitCode.MODEL)
        assert "is not a model id" in out
    assert champion_id(models) == champion
    # A champion pointer edited to leave the root is refused when read, too.
    (models / CHAMPION_POINTER).write_text("../elsewhere/m1\n", encoding="utf-8")
    out = run(["models", "list", "--models", models], code=ExitCode.MODEL)
    assert "is not a model id" in out


def test_train_honours_the_models_directory_setting(tmp_path: Path) -> None:
    data = tmp_path / "small.jsonl"
    data.write_text(
        "".join(json.dumps(r.to_json()) + "\n" for r in sample_rows(25, seed=5)),
        encoding="utf-8",
    )
    root = tmp_path / "env-models"
    out = run(["train", "--data", data], env={"TIERROUTE_MODELS_DIR": str(root)})
    assert f"saved {root}" in out.replace("\n", "")
    assert champion_id(root) is not None


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("missing model", ExitCode.MODEL, "neither a model directory nor a models root"),
        ("tampered model", ExitCode.MODEL, "refusing to load a modified artifact"),
        ("tiers", ExitCode.CONFIG, "no model chain for classifier tier(s) code_gen"),
        ("mysql", ExitCode.CONFIG, "unsupported database 'mysql'"),
        ("unreachable", ExitCode.CONFIG, "cannot open the request log"),
        ("challenger", ExitCode.CONFIG, "rollout.challenger: 'no-such-model' is neither"),
    ],
)
def test_serve_start_up_problems_are_one_message_and_an_exit_code(
    models: Path, tmp_path: Path, case: str, code: int, message: str
) -> None:
    model = models
    log_url = f"sqlite:///{tmp_path / 'log.db'}"
    drop = challenger = None
    if case == "missing model":
        model = tmp_path / "no-models"
    elif case == "tampered model":
        champion = champion_id(models)
        assert champion is not None
        with (models / champion / ARTIFACT_NAME).open("ab") as handle:
            handle.write(b"\0")
    elif case == "tiers":
        drop = "code_gen"
    elif case == "mysql":
        log_url = "mysql://user@127.0.0.1/tierroute"
    elif case == "challenger":
        challenger = "no-such-model"
    else:
        log_url = "postgresql://user@127.0.0.1:1/tierroute"
    config = write_config(
        tmp_path / "serve.toml", log_url=log_url, drop_tier=drop, challenger=challenger
    )
    out = run(["serve", "--config", config, "--model", model, "--port", "0"], code=code)
    assert message in out.replace("\n", "")
    assert out.startswith(f"config: {config} (--config)")
    assert out.count("error:") == 1


def test_version_help_and_module_entry_point() -> None:
    from tierroute import __version__

    assert run(["--version"]).strip() == f"tierroute {__version__}"
    for args in (["-h"], ["train", "-h"], ["logs", "export", "-h"], ["data", "import", "-h"]):
        assert "Usage" in run(args)
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "tierroute", "--version"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0 and result.stdout.strip() == f"tierroute {__version__}"
