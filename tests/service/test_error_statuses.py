"""The HTTP edge's answers: exceptions carry no status, type or code; service.errors maps each."""

from __future__ import annotations

import inspect

import pytest

from tierroute import exceptions
from tierroute.exceptions import GatewayError, UpstreamRejected
from tierroute.service.errors import HTTP_ERRORS, HttpError, http_error, http_status

GATEWAY_ERRORS = [
    cls
    for _, cls in inspect.getmembers(exceptions, inspect.isclass)
    if issubclass(cls, GatewayError)
]


@pytest.mark.parametrize("attribute", ["status_code", "error_type", "code"])
def test_exceptions_carry_no_http_details(attribute: str) -> None:
    assert [cls for cls in GATEWAY_ERRORS if hasattr(cls, attribute)] == []
    assert not hasattr(UpstreamRejected(400, "bad", "p"), attribute)


def test_every_gateway_error_has_its_answer_in_the_table() -> None:
    assert {cls for cls in GATEWAY_ERRORS if cls is not UpstreamRejected} == set(HTTP_ERRORS)


def test_a_subclass_not_listed_answers_as_its_parent() -> None:
    class Narrower(exceptions.SchemaViolation):
        pass

    assert http_error(Narrower("x")) == HTTP_ERRORS[exceptions.SchemaViolation]


@pytest.mark.parametrize(
    ("upstream", "answered"), [(400, 400), (401, 502), (402, 502), (403, 502), (404, 404)]
)
def test_a_providers_refusal_of_our_key_or_credit_is_a_bad_gateway(
    upstream: int, answered: int
) -> None:
    assert http_status(UpstreamRejected(upstream, "no", "p")) == answered


@pytest.mark.parametrize(
    ("upstream", "provider_code", "answer"),
    [
        (
            400,
            "context_length_exceeded",
            HttpError(400, "invalid_request_error", "context_length_exceeded"),
        ),
        (400, None, HttpError(400, "invalid_request_error", "upstream_rejected")),
        (401, "invalid_api_key", HttpError(502, "api_error", "provider_key_rejected")),
        (402, None, HttpError(502, "api_error", "provider_out_of_credit")),
        (404, None, HttpError(404, "invalid_request_error", "model_not_found")),
    ],
)
def test_a_provider_rejection_keeps_the_providers_code_unless_it_is_about_our_key(
    upstream: int, provider_code: str | None, answer: HttpError
) -> None:
    assert http_error(UpstreamRejected(upstream, "no", "p", code=provider_code)) == answer
