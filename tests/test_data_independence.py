"""No evaluation text is a near-copy of a training text; data/raw and data/eval hold no public text.

data/raw is globbed, so files added later (new waves) are covered. The public datasets are read
from the shared folder at run time (never committed).
"""

import os
from pathlib import Path

import pytest

from tierroute.data.overlap import NearCopy, find_near_copies
from tierroute.data.overlap_sources import project_refs, public_refs, shared_datasets_dir

REPO = Path(__file__).resolve().parents[1]
RAW_FILES = sorted((REPO / "data" / "raw").glob("*.jsonl"))
EVAL_FILES = sorted((REPO / "data" / "eval").glob("*.jsonl"))
SHARED = shared_datasets_dir(REPO)
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir() and os.environ.get("CI") != "true",
    reason=f"public datasets not present at {SHARED}",
)


def describe(found: list[NearCopy]) -> str:
    return "\n".join(
        f"{c.eval.file}:{c.eval.line} ~ {c.train.file}:{c.train.line} {c.reason}"
        for c in found[:30]
    )


def test_there_is_data_to_check() -> None:
    assert len(RAW_FILES) >= 10 and EVAL_FILES


@pytest.mark.parametrize("eval_file", EVAL_FILES, ids=lambda p: p.name)
def test_no_evaluation_row_is_a_near_copy_of_data_raw(eval_file: Path) -> None:
    found = find_near_copies(project_refs(RAW_FILES), project_refs([eval_file]))
    assert not found, describe(found)


@needs_shared
def test_data_raw_holds_no_public_text() -> None:
    public = public_refs(SHARED)
    assert len(public) > 40_000  # every public set was read
    found = find_near_copies(project_refs(RAW_FILES), public)
    assert not found, describe(found)


@needs_shared
def test_data_eval_holds_no_public_text() -> None:
    found = find_near_copies(project_refs(EVAL_FILES), public_refs(SHARED))
    assert not found, describe(found)
