"""Issue 8, item 9: provider error text stored in the log's ``error`` column is redacted."""

from __future__ import annotations

import openai
import pytest

from tests.fakes.upstream import FakeUpstream, Reply
from tests.support.live import Gateway
from tierroute.store import get_requests


def test_provider_error_text_is_redacted_in_the_log(
    gateway: Gateway, sdk: openai.OpenAI, fake: FakeUpstream
) -> None:
    quoted = "Your input 'mail tên.tôi@gmail.com, call 0912 345 678' was refused by policy"
    fake.script("large", Reply.error(400, quoted))
    with pytest.raises(openai.APIStatusError):
        sdk.chat.completions.create(
            model="fake:large",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-request-id": "e2e-redacted-error"},
        )
    gateway.client.get("/v1/stats/cost").raise_for_status()  # flushes the log writer
    rows = [
        r for r in get_requests(gateway.engine) if r["client_request_id"] == "e2e-redacted-error"
    ]
    assert len(rows) == 1
    error = str(rows[0]["error"])
    assert "refused by policy" in error
    assert "[EMAIL]" in error and "[PHONE]" in error
    assert "gmail" not in error and "0912" not in error
