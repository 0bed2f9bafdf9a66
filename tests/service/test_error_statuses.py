"""HTTP statuses are the HTTP edge's: exceptions carry none, service.errors maps every one."""

from __future__ import annotations

import inspect

import pytest

from tierroute import exceptions
from tierroute.exceptions import GatewayError, UpstreamRejected
from tierroute.service.errors import HTTP_STATUS, http_status

GATEWAY_ERRORS = [
    cls
    for _, cls in inspect.getmembers(exceptions, inspect.isclass)
    if issubclass(cls, GatewayError)
]


def test_exceptions_carry_no_http_status() -> None:
    assert all(not hasattr(cls, "status_code") for cls in GATEWAY_ERRORS)
    assert not hasattr(UpstreamRejected(400, "bad", "p"), "status_code")


def test_every_gateway_error_has_its_status_in_the_table() -> None:
    assert {cls for cls in GATEWAY_ERRORS if cls is not UpstreamRejected} == set(HTTP_STATUS)


@pytest.mark.parametrize(
    ("upstream", "answered"), [(400, 400), (401, 502), (402, 502), (403, 502), (404, 404)]
)
def test_a_providers_refusal_of_our_key_or_credit_is_a_bad_gateway(
    upstream: int, answered: int
) -> None:
    assert http_status(UpstreamRejected(upstream, "no", "p")) == answered
