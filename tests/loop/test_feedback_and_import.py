"""Labels from the running service (POST /v1/feedback) and from `logs label` share one table."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from tests.loop.conftest import write_label_file
from tests.support.live import load, serving, write_config
from tierroute.cli import app
from tierroute.store import get_feedback, open_engine

KEY = "k-loop-test"


def test_api_feedback_and_bulk_import_meet_in_the_export(
    small_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERROUTE_API_KEYS", KEY)
    config = load(write_config(tmp_path, "http://127.0.0.1:9/v1"))
    with serving(config, small_models_dir, registry=CollectorRegistry()) as (server, _app):
        headers = {"Authorization": f"Bearer {KEY}"}
        ids: dict[str, str] = {}  # client id -> the gateway's request id
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
            for rid, text in (
                ("q-1", "Where is my order? Call me on 0901 234 567"),
                ("q-2", "Viết hàm python đếm từ trong chuỗi"),
            ):
                response = client.post(
                    "/v1/classify", json={"text": text}, headers={"x-request-id": rid}
                )
                assert response.status_code == 200
                ids[rid] = response.headers["x-request-id"]
            response = client.post(
                "/v1/feedback", json={"request_id": ids["q-1"], "tier": "simple_faq"}
            )
            assert response.status_code == 200
    # The service has shut down and flushed its log; now the bulk import, by the CLI.
    labels = write_label_file(
        tmp_path / "labels.jsonl", [{"request_id": ids["q-2"], "tier": "code_gen"}]
    )
    db = ["--db", config.log.url]
    runner = CliRunner()
    result = runner.invoke(
        app, ["logs", "label", "--input", str(labels), "--models", str(small_models_dir), *db]
    )
    assert result.exit_code == 0, result.output
    engine = open_engine(config.log.url)
    try:
        sources = {(r["request_id"], r["source"]) for r in get_feedback(engine)}
    finally:
        engine.dispose()
    assert sources == {(ids["q-1"], "api"), (ids["q-2"], "import")}

    out = tmp_path / "export.jsonl"
    result = runner.invoke(app, ["logs", "export", "--out", str(out), "--labeled-only", *db])
    assert result.exit_code == 0, result.output
    by_gateway_id = {v: k for k, v in ids.items()}
    rows = {
        by_gateway_id[r["request_id"]]: r
        for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())
    }
    assert {k: (v["tier"], v["label_source"]) for k, v in rows.items()} == {
        "q-1": ("simple_faq", "api"),
        "q-2": ("code_gen", "import"),
    }
    assert rows["q-1"]["text"] == "Where is my order? Call me on [PHONE]"  # as the log stored it
    assert rows["q-1"]["routed_tier"] and rows["q-1"]["endpoint"] == "classify"
