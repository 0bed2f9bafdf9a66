"""Chat requests the gateway refuses before (or instead of) calling a provider."""

from __future__ import annotations

import httpx
import pytest

from tests.support.live import Gateway
from tierroute.store import get_requests

HELLO = [{"role": "user", "content": "Where is my order?"}]


def error_of(response: httpx.Response) -> dict[str, object]:
    return dict(response.json()["error"])


def test_empty_messages_is_400(gateway: Gateway) -> None:
    response = gateway.client.post("/v1/chat/completions", json={"model": "auto", "messages": []})
    assert response.status_code == 400
    assert error_of(response)["param"] == "messages"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": HELLO}, "model"),
        ({"model": 3, "messages": HELLO}, "model"),
        ({"model": "auto", "messages": "hi"}, "messages"),
        ({"model": "auto", "messages": ["hi"]}, "messages[0]"),
        ({"model": "auto", "messages": [{"content": "hi"}]}, "messages[0].role"),
        ({"model": "auto", "messages": HELLO, "stream": "yes"}, "stream"),
        ({"model": "auto", "messages": HELLO, "max_tokens": -5}, "max_tokens"),
    ],
)
def test_schema_violations_are_422_naming_the_field(
    gateway: Gateway, body: dict[str, object], param: str
) -> None:
    response = gateway.client.post("/v1/chat/completions", json=body)
    assert response.status_code == 422
    error = error_of(response)
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"


def test_unknown_model_is_404_listing_valid_ones(gateway: Gateway) -> None:
    response = gateway.client.post(
        "/v1/chat/completions", json={"model": "gpt-9", "messages": HELLO}
    )
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "model_not_found"
    for name in ("auto", "fake:small", "fake:coder"):
        assert name in str(error["message"])


def test_missing_provider_key_is_503_naming_the_provider_not_the_variable(
    gateway: Gateway,
) -> None:
    for stream in (False, True):
        request_id = f"nokey-{stream}"
        response = gateway.client.post(
            "/v1/chat/completions",
            json={"model": "auto", "messages": HELLO, "stream": stream},
            headers={"x-request-id": request_id},
        )
        assert response.status_code == 503
        error = error_of(response)
        assert str(gateway.provider_key_env) not in response.text
        assert "'fake'" in str(error["message"])
        assert error["code"] == "provider_key_missing"
        assert response.headers["x-client-request-id"] == request_id
        assert response.headers["x-tierroute-tier"] in gateway.config.tiers
        gateway.client.get("/v1/stats/cost")
        (row,) = get_requests(gateway.engine, response.headers["x-request-id"])
        assert row["client_request_id"] == request_id
        assert row["status"] == 503
        assert row["stream"] is stream
        assert {a["outcome"] for a in row["attempts"]} == {"key_missing"}


def test_a_bare_model_name_resolves_to_its_provider(gateway: Gateway) -> None:
    response = gateway.client.post(
        "/v1/chat/completions",
        json={"model": "coder", "messages": HELLO},
        headers={"x-request-id": "bare-1"},
    )
    # Resolved (not 404); fails only for the missing provider key.
    assert response.status_code == 503
    assert response.headers["x-tierroute-tier"] == "passthrough"
    gateway.client.get("/v1/stats/cost")
    (row,) = get_requests(gateway.engine, client_request_id="bare-1")
    assert [a["model"] for a in row["attempts"]] == ["fake:coder"]
    assert row["tier"] is None
