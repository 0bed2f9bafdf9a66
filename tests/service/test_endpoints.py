"""Endpoints over a real socket: classify, models, feedback, stats, health, metrics, auth."""

from __future__ import annotations

import logging
import socket
import time

import httpx
import pytest

from tests.support.live import Gateway
from tierroute.store import get_feedback, get_requests


def error_of(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return dict(body["error"])


def test_classify_text_returns_the_decision_and_logs_it(gateway: Gateway) -> None:
    response = gateway.client.post(
        "/v1/classify",
        json={"text": "Write a Python function that parses ISO dates, with unit tests"},
        headers={"x-request-id": "cls-1"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["tier"] in {"simple_faq", "moderate_conv", "complex_reasoning", "code_gen"}
    assert set(body["probabilities"]) == {
        "simple_faq",
        "moderate_conv",
        "complex_reasoning",
        "code_gen",
    }
    assert sum(body["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert body["model"] == body["chain"][0]
    assert body["chain"] == gateway.config.tiers[body["tier"]].models
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["request_id"].startswith("clf-")  # the gateway's own id, not the client's
    assert response.headers["x-client-request-id"] == "cls-1"
    assert body["latency_ms"] >= 0
    assert body["model_id"]
    # The stats endpoint flushes the log writer; then the row is there.
    gateway.client.get("/v1/stats/cost")
    (row,) = get_requests(gateway.engine, body["request_id"])
    assert row["client_request_id"] == "cls-1"
    assert row["endpoint"] == "classify"
    assert row["tier"] == body["tier"]
    assert row["text"].startswith("Write a Python function")


def test_classify_redacts_logged_text(gateway: Gateway) -> None:
    text = "My phone is 0901 234 567 and email an@shop.vn, where is my order?"
    gateway.client.post("/v1/classify", json={"text": text}, headers={"x-request-id": "cls-pii"})
    gateway.client.get("/v1/stats/cost")
    (row,) = get_requests(gateway.engine, client_request_id="cls-pii")
    assert row["text"] == "My phone is [PHONE] and email [EMAIL], where is my order?"


def test_classify_messages_uses_the_last_user_message(gateway: Gateway) -> None:
    messages = [
        {"role": "system", "content": "You are a helpful shop assistant. " * 80},
        {"role": "user", "content": "Write a Python class for a linked list"},
        {"role": "assistant", "content": "Sure."},
        {"role": "user", "content": [{"type": "text", "text": "Where is my order?"}]},
    ]
    by_messages = gateway.client.post("/v1/classify", json={"messages": messages}).json()
    by_text = gateway.client.post("/v1/classify", json={"text": "Where is my order?"}).json()
    assert by_messages["probabilities"] == by_text["probabilities"]


def test_classify_batch(gateway: Gateway) -> None:
    inputs = ["Where is my order?", "Prove that sqrt(2) is irrational", "def f(x): return x"]
    response = gateway.client.post(
        "/v1/classify", json={"inputs": inputs}, headers={"x-request-id": "batch-1"}
    )
    assert response.status_code == 200
    results = response.json()["results"]
    batch_id = response.json()["request_id"]
    assert [r["request_id"] for r in results] == [f"{batch_id}.{i}" for i in range(3)]
    singles = [gateway.client.post("/v1/classify", json={"text": t}).json() for t in inputs]
    assert [r["tier"] for r in results] == [s["tier"] for s in singles]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"text": 42}, "text"),
        ({"inputs": "not a list"}, "inputs"),
        ({"inputs": []}, "inputs"),
        ({"messages": []}, "messages"),
        ({}, None),
        ({"text": "a", "inputs": ["b"]}, None),
    ],
)
def test_classify_schema_violations_are_422(
    gateway: Gateway, body: dict[str, object], param: str | None
) -> None:
    response = gateway.client.post("/v1/classify", json=body)
    assert response.status_code == 422
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


def test_malformed_json_is_400(gateway: Gateway) -> None:
    for path in ("/v1/classify", "/v1/chat/completions", "/v1/feedback"):
        response = gateway.client.post(
            path, content=b'{"text": "unterminated', headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, path
        assert "not valid JSON" in str(error_of(response)["message"])


def test_json_that_is_not_an_object_is_422(gateway: Gateway) -> None:
    response = gateway.client.post("/v1/classify", json=["a", "b"])
    assert response.status_code == 422


def test_body_over_the_limit_is_413(gateway: Gateway) -> None:
    limit = gateway.config.server.max_body_bytes
    response = gateway.client.post("/v1/classify", json={"text": "x" * (limit + 10)})
    assert response.status_code == 413
    assert error_of(response)["code"] == "request_too_large"


def test_body_over_the_limit_without_content_length_is_413(gateway: Gateway) -> None:
    limit = gateway.config.server.max_body_bytes

    def chunks() -> object:
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    response = gateway.client.post("/v1/chat/completions", content=chunks())  # type: ignore[arg-type]
    assert response.status_code == 413


def test_missing_or_wrong_key_is_401(gateway: Gateway) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = httpx.post(
            gateway.url + "/v1/classify",
            json={"text": "hi"},
            headers={**headers, "x-request-id": "unauthorised-1"},
            timeout=5,
        )
        assert response.status_code == 401
        assert error_of(response)["type"] == "authentication_error"
        assert response.headers["x-request-id"].startswith("clf-")
    for path in ("/v1/models", "/v1/stats/cost"):
        assert httpx.get(gateway.url + path, timeout=5).status_code == 401
    ok = httpx.post(
        gateway.url + "/v1/classify",
        json={"text": "hi"},
        headers={"Authorization": f"Bearer {gateway.keys[1]}"},
        timeout=5,
    )
    assert ok.status_code == 200


def test_health_needs_no_key_metrics_need_the_admin_key(gateway: Gateway) -> None:
    assert httpx.get(gateway.url + "/healthz", timeout=5).json() == {"status": "ok"}
    ready = httpx.get(gateway.url + "/readyz", timeout=5)
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    # Which providers lack a key, not the names of the environment variables (no key needed here).
    assert body["providers_without_key"] == ["fake"]
    assert "TIERROUTE_TEST_UNSET_PROVIDER_KEY" not in ready.text
    assert body["models"] == gateway.config.model_names()
    # Gateway keys set, no admin key: /metrics (spend per model) is closed by default.
    assert httpx.get(gateway.url + "/metrics", timeout=5).status_code == 403
    assert gateway.client.get("/metrics").status_code == 403


def test_readyz_reports_the_keys_the_dispatcher_read_at_start_not_the_environment_now(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The dispatcher snapshots provider keys at start; a key set later is not used.
    monkeypatch.setenv("TIERROUTE_TEST_UNSET_PROVIDER_KEY", "set-too-late")
    body = httpx.get(gateway.url + "/readyz", timeout=5).json()
    assert body["providers_without_key"] == ["fake"]


def test_models_lists_auto_and_every_configured_model(gateway: Gateway) -> None:
    body = gateway.client.get("/v1/models").json()
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert ids == ["auto", "fake:small", "fake:medium", "fake:large", "fake:coder"]


def test_feedback_is_stored_for_a_logged_request(gateway: Gateway) -> None:
    rid = gateway.client.post("/v1/classify", json={"text": "hello"}).headers["x-request-id"]
    response = gateway.client.post("/v1/feedback", json={"request_id": rid, "tier": "code_gen"})
    assert response.status_code == 200
    assert response.json() == {"request_id": rid, "tier": "code_gen", "stored": True}
    (label,) = get_feedback(gateway.engine, rid)
    assert label["tier"] == "code_gen"
    assert label["user_key"]  # hash of the API key, never the key itself
    assert gateway.keys[0] not in label["user_key"]


def test_feedback_errors(gateway: Gateway) -> None:
    unknown = gateway.client.post("/v1/feedback", json={"request_id": "nope", "tier": "code_gen"})
    assert unknown.status_code == 404
    assert error_of(unknown)["param"] == "request_id"
    rid = gateway.client.post("/v1/classify", json={"text": "hello"}).headers["x-request-id"]
    bad_tier = gateway.client.post("/v1/feedback", json={"request_id": rid, "tier": "gold"})
    assert bad_tier.status_code == 422
    assert error_of(bad_tier)["param"] == "tier"
    missing = gateway.client.post("/v1/feedback", json={"tier": "code_gen"})
    assert missing.status_code == 422
    assert error_of(missing)["param"] == "request_id"


def test_cost_stats_validate_hours(gateway: Gateway) -> None:
    body = gateway.client.get("/v1/stats/cost", params={"hours": 2}).json()
    assert body["hours"] == 2
    assert {"total_requests", "cost_usd", "by_model", "by_tier"} <= set(body)
    bad = gateway.client.get("/v1/stats/cost", params={"hours": -1})
    assert bad.status_code == 422
    assert error_of(bad)["param"] == "hours"


def test_unknown_route_is_an_openai_style_404(gateway: Gateway) -> None:
    response = gateway.client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert error_of(response)["type"] == "not_found_error"


def test_client_leaving_mid_body_is_not_an_error(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    host, port = "127.0.0.1", gateway.server.port
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + gateway.keys[0].encode() + b"\r\n"
            b"Content-Length: 5000\r\n\r\n" + b'{"text": "half a bo'
        )
        time.sleep(0.2)
    time.sleep(0.3)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert gateway.client.post("/v1/classify", json={"text": "still there?"}).status_code == 200
