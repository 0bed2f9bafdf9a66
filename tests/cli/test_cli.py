"""The CLI end to end on small files (typer's runner in-process; one real console-script run)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import sample_rows
from tierroute.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def labeled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "small.jsonl"
    path.write_text(
        "".join(
            json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in sample_rows(70, seed=3)
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def trained(labeled: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("models")
    result = runner.invoke(app, ["train", "--data", str(labeled), "--out", str(models)])
    assert result.exit_code == 0, result.output
    assert "champion" in result.output and "heuristic" in result.output
    return models


def test_every_command_has_help() -> None:
    for command in (
        ["--help"],
        ["train", "--help"],
        ["eval", "--help"],
        ["classify", "--help"],
        ["serve", "--help"],
        ["data", "import", "--help"],
        ["data", "validate", "--help"],
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, (command, result.output)
        assert "Usage" in result.output


def test_classify_one_query(trained: Path) -> None:
    result = runner.invoke(app, ["classify", "Where is my order?", "--model", str(trained)])
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert {"tier", "confidence", "probabilities", "fallback", "reason", "model_id"} <= set(
        decision
    )
    assert len(decision["probabilities"]) == 4


def test_classify_batch_keeps_rows_and_adds_decisions(trained: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": 1, "text": "hello"}\n{"id": 2, "text": "viet ham python dao nguoc chuoi"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    result = runner.invoke(
        app, ["classify", "--input", str(source), "--output", str(out), "--model", str(trained)]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [1, 2]
    assert all({"tier", "confidence", "probabilities", "fallback"} <= set(r) for r in rows)
    heur = runner.invoke(app, ["classify", "--input", str(source), "--baseline", "heuristic"])
    assert heur.exit_code == 0
    assert [json.loads(line)["model_id"] for line in heur.output.splitlines()] == [
        "keyword-heuristic"
    ] * 2


def test_eval_writes_report_and_plots(trained: Path, labeled: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = runner.invoke(
        app, ["eval", "--data", str(labeled), "--model", str(trained), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert set(report["routers"]) == {"model", "heuristic"}
    model = report["routers"]["model"]
    assert {
        "accuracy",
        "macro_f1",
        "under_routing_rate",
        "over_routing_rate",
        "by_source",
        "by_lang",
        "calibration",
        "coverage",
        "cost",
    } <= set(model)
    assert model["macro_f1"] > report["routers"]["heuristic"]["macro_f1"]
    for name in ("confusion.png", "reliability.png", "coverage.png", "cost.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| keyword heuristic |" in (out / "report.md").read_text()


def test_eval_by_source_trains_without_each_source(trained: Path, tmp_path: Path) -> None:
    rows = []
    for seed, source in enumerate(("s1", "s2", "s3")):
        for r in sample_rows(25, seed=seed):
            rows.append({**r.to_json(), "source": source})
    # the same text must not appear in two sources with different labels; de-dup by text
    seen: set[str] = set()
    unique = [r for r in rows if not (r["text"] in seen or seen.add(r["text"]))]
    path = tmp_path / "multi.jsonl"
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in unique), encoding="utf-8"
    )
    result = runner.invoke(
        app,
        [
            "eval",
            "--data",
            str(path),
            "--model",
            str(trained),
            "--out",
            str(tmp_path / "r"),
            "--by-source",
        ],
    )
    assert result.exit_code == 0, result.output
    loso = json.loads((tmp_path / "r" / "report.json").read_text())["leave_one_source_out"]
    assert set(loso) == {"s1", "s2", "s3"}
    assert all(0.0 <= v["model"]["macro_f1"] <= 1.0 for v in loso.values())


def test_bad_rows_fail_with_file_line_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"text": "ok", "tier": "simple_faq"}\n{"text": "", "tier": "simple_faq"}\n{"text": "x", "tier": "mystery"}\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["data", "validate", str(bad)])
    assert result.exit_code == 3
    assert f"{bad}:2: text: empty" in result.output
    assert f"{bad}:3: tier: unknown tier 'mystery'" in result.output
    skipped = runner.invoke(
        app, ["train", "--data", str(bad), "--out", str(tmp_path / "m"), "--skip-invalid"]
    )
    assert skipped.exit_code == 3  # one valid row is not enough to train, and it says why
    assert "skipped" in skipped.output and "at least three tiers" in skipped.output
    assert "Traceback" not in skipped.output


def test_data_import_writes_jsonl_and_reports_left_out_rows(tmp_path: Path) -> None:
    folder = tmp_path / "gsm"
    folder.mkdir()
    (folder / "train.jsonl").write_text(
        "\n".join(
            json.dumps({"question": f"Ann has {i} apples. How many?", "answer": "#### 1"})
            for i in range(12)
        )
    )
    out = tmp_path / "p.jsonl"
    result = runner.invoke(
        app, ["data", "import", "gsm8k", str(folder), "--out", str(out), "--limit", "10"]
    )
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 10
    assert "left out 2" in result.output


def test_console_script_runs_and_fails_cleanly_without_model(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("tierroute")
    done = subprocess.run(
        [str(exe), "classify", "hi", "--model", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 4
    assert "tierroute train" in done.stderr
    assert "Traceback" not in done.stderr


def test_eval_prices_routing_with_a_gateway_config(
    trained: Path, labeled: Path, tmp_path: Path
) -> None:
    config = Path(__file__).resolve().parents[2] / "config" / "tierroute.example.toml"
    out = tmp_path / "priced"
    result = runner.invoke(
        app,
        [
            *["eval", "--data", str(labeled), "--model", str(trained)],
            "--config",
            str(config),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["prices"]["complex_reasoning"]["model"] == "openai:gpt-4.1"
    prices = report["prices"]["moderate_conv"]
    assert prices["output_usd_per_mtok"] > prices["input_usd_per_mtok"] > 0
    flat = runner.invoke(
        app, ["eval", "--data", str(labeled), "--model", str(trained), "--out", str(tmp_path / "f")]
    )
    assert flat.exit_code == 0
    flat_cost = json.loads((tmp_path / "f" / "report.json").read_text())["routers"]["model"]["cost"]
    assert (
        report["routers"]["model"]["cost"]["per_1000_routed_usd"]
        != flat_cost["per_1000_routed_usd"]
    )


def _public_datasets(root: Path, clash: str) -> Path:
    """Two tiny public dataset folders; ``clash`` is also a project text under another tier."""
    (root / "clinc150").mkdir(parents=True)
    lines = [[f"what is the balance of account {i}", "balance"] for i in range(30)]
    (root / "clinc150" / "data_full.json").write_text(json.dumps({"train": [*lines, [clash, "x"]]}))
    (root / "gsm8k").mkdir()
    (root / "gsm8k" / "train.jsonl").write_text(
        "".join(
            json.dumps({"question": f"Ann has {i} boxes of 12 eggs and uses 5. How many left?"})
            + "\n"
            for i in range(30)
        )
    )
    return root


def test_train_with_public_pool_settles_conflicts_by_project_precedence(
    labeled: Path, tmp_path: Path
) -> None:
    project = [json.loads(line) for line in labeled.read_text(encoding="utf-8").splitlines()]
    clash = next(r["text"] for r in project if r["tier"] != "simple_faq")
    datasets = _public_datasets(tmp_path / "datasets", clash)
    models = tmp_path / "m"
    result = runner.invoke(
        app,
        ["train", "--data", str(labeled), "--public", str(datasets), "--out", str(models)],
    )
    assert result.exit_code == 0, result.output
    assert "public pool: 60 rows added" in result.output
    assert "1 conflict(s) settled" in result.output
    assert "conflicts tierroute-" in result.output and "<- clinc150: 1" in result.output
    assert "threshold" in result.output and "coverage" in result.output
    card = json.loads(next(models.glob("*/card.json")).read_text())
    assert card["public_pool"]["conflicts"] == 1
    assert card["training_data"]["counts"]["source"]["gsm8k"] > 0
    sources = len({r["source"] for r in project}) + 2  # + clinc150 and gsm8k, one group each
    assert card["hyperparameters"]["selection"].endswith(f" over {sources} sources")
    assert {"coverage", "accepted_accuracy", "under_routing"} <= set(card["threshold_target"])
    # Without --public the same project data trains alone (the default champion).
    alone = runner.invoke(app, ["train", "--data", str(labeled), "--out", str(tmp_path / "a")])
    assert alone.exit_code == 0 and "public pool" not in alone.output
    card = json.loads(next((tmp_path / "a").glob("*/card.json")).read_text())
    assert card["public_pool"]["used"] is False and "never trained on" in card["public_pool"]["why"]


def test_eval_by_source_covers_public_sources_and_reports_coverage(
    trained: Path, labeled: Path, tmp_path: Path
) -> None:
    datasets = _public_datasets(tmp_path / "datasets", "a text no project file has")
    result = runner.invoke(
        app,
        [
            *["eval", "--data", str(labeled), "--model", str(trained)],
            *["--by-source", "--public", str(datasets), "--out", str(tmp_path / "r")],
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    loso = report["leave_one_source_out"]
    assert {"clinc150", "gsm8k"} <= set(loso)
    assert any(s.startswith("tierroute-") for s in loso)
    for figures in loso.values():
        assert {"macro_f1", "accuracy", "under_routing_rate", "coverage"} <= set(figures["model"])
    assert loso["gsm8k"]["tiers"] == ["complex_reasoning"]
    assert "weakest source" in result.output and "coverage" in result.output
    markdown = (tmp_path / "r" / "report.md").read_text()
    assert "macro-F1 is that tier's F1" in markdown and "accuracy of accepted" in markdown


def test_check_overlap_prints_each_near_copy_and_exits_6(tmp_path: Path) -> None:
    def write(name: str, texts: tuple[str, ...]) -> Path:
        path = tmp_path / name
        path.write_text("\n".join(json.dumps({"text": t, "tier": "simple_faq"}) for t in texts))
        return path

    train = write("train.jsonl", ("Where is my parcel?", "How do I change my address?"))
    evaluation = write("eval.jsonl", ("how do I change my address", "Is the shop open on Sunday?"))
    unrelated = write("other.jsonl", ("Is the shop open on Sunday?",))

    def check(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["data", "check-overlap", "--train", str(train), *args])
        return result.exit_code, result.output

    code, output = check("--eval", str(evaluation))
    assert code == 6, output
    assert f"{evaluation}:1 ~ {train}:2  same-text 1.00  how do I change my address" in output
    assert "1 near-copy (1 evaluation texts, 1 training texts)" in output
    code, output = check("--eval", str(unrelated))
    assert code == 0 and "0 near-copies" in output
    code, output = check("--eval", str(tmp_path / "missing.jsonl"))
    assert code == 3 and "no such file" in output
    code, output = check()
    assert code == 2 and "--eval" in output
    help_text = runner.invoke(app, ["data", "check-overlap", "--help"])
    assert help_text.exit_code == 0 and "--public" in help_text.output
