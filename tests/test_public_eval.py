"""The public evaluation set, built from the real shared datasets folder (read at run time)."""

import json
import os
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tierroute.cli import app
from tierroute.data.overlap import TextRef, find_near_copies
from tierroute.data.overlap_sources import project_refs, shared_datasets_dir
from tierroute.data.public_eval import build_public_eval

REPO = Path(__file__).resolve().parents[1]
SHARED = shared_datasets_dir(REPO)
pytestmark = pytest.mark.skipif(
    not SHARED.is_dir() and os.environ.get("CI") != "true",
    reason=f"public datasets not present at {SHARED}",
)
SOURCES = {
    "clinc150",
    "gsm8k",
    "code_alpaca",
    "gpteacher-codegen",
    "gpteacher-roleplay",
    "dolly_open_qa",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, str]]:
    out = tmp_path_factory.mktemp("public-eval") / "public_eval.jsonl"
    result = CliRunner().invoke(
        app, ["data", "public-eval", str(SHARED), "--out", str(out), "--per-source", "60"]
    )
    assert result.exit_code == 0, result.output
    assert "left out" in result.output
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_every_public_set_is_there_labeled_by_the_importers(built: list[dict[str, str]]) -> None:
    per_source = Counter(r["source"] for r in built)
    assert set(per_source) == SOURCES
    assert all(n == 60 for n in per_source.values())
    tiers = {(r["source"], r["tier"]) for r in built}
    assert ("gsm8k", "complex_reasoning") in tiers and ("code_alpaca", "code_gen") in tiers
    assert {t for s, t in tiers if s == "clinc150"} <= {"simple_faq", "moderate_conv"}
    assert {t for s, t in tiers if s == "dolly_open_qa"} == {"simple_faq", "moderate_conv"}


def test_no_near_copies_across_sets_nor_with_data_raw(built: list[dict[str, str]]) -> None:
    refs = [TextRef(r["source"], n, r["text"]) for n, r in enumerate(built)]
    across = [c for c in find_near_copies(refs, refs) if c.train.file != c.eval.file]
    assert not across
    assert not find_near_copies(project_refs([REPO / "data" / "raw"]), refs)


def test_the_sample_is_deterministic(built: list[dict[str, str]]) -> None:
    again = build_public_eval(SHARED, per_source=60)
    assert [r.to_json() for r in again.rows] == built
