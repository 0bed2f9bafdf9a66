"""The fake upstream also serves synchronous callers from a background thread."""

from __future__ import annotations

import httpx

from tests.fakes.upstream import FakeUpstream, Reply


def test_threaded_fake_serves_scripts_then_the_default() -> None:
    with FakeUpstream().running() as fake:
        fake.script("m", Reply.error(429, retry_after=3))
        url = f"{fake.base_url}/chat/completions"
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        with httpx.Client(timeout=5) as client:
            limited = client.post(url, json=body)
            answered = client.post(url, json=body)
            models = client.get(f"{fake.base_url}/models")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    assert answered.status_code == 200
    assert answered.json()["usage"] == {
        "prompt_tokens": 11,
        "completion_tokens": 7,
        "total_tokens": 18,
    }
    assert models.json()["data"][0]["id"] == "m"
    assert fake.models_seen() == ["m", "m"]
