"""Issue 8, item 1: a crafted request must not freeze the event loop.

A batch of 1,000 texts built to give the redaction patterns the most work (card candidates that
fail the Luhn check and fall back to the phone patterns) is scored in a worker thread, so
``/healthz`` keeps answering while the batch is processed.
"""

from __future__ import annotations

import threading
import time

import httpx

from tests.support.live import Gateway

CRAFTED = ("0901 234 5" * 100)[:1000]


def test_healthz_answers_while_a_crafted_batch_is_scored(gateway: Gateway) -> None:
    body = {"inputs": [CRAFTED] * 1000}
    done = threading.Event()
    took: list[float] = []

    def send_batch() -> None:
        start = time.perf_counter()
        response = gateway.client.post("/v1/classify", json=body, timeout=60)
        took.append(time.perf_counter() - start)
        assert response.status_code == 200, response.text
        assert len(response.json()["results"]) == 1000
        done.set()

    worker = threading.Thread(target=send_batch)
    latencies: list[float] = []
    with httpx.Client(base_url=gateway.url, timeout=30) as probe:
        probe.get("/healthz").raise_for_status()  # connected before the batch starts
        worker.start()
        time.sleep(0.05)  # the batch body is on its way
        while not done.is_set():
            start = time.perf_counter()
            assert probe.get("/healthz").status_code == 200
            latencies.append(time.perf_counter() - start)
            time.sleep(0.01)
    worker.join(60)
    assert took, "the batch request failed"
    # The batch keeps the gateway busy for a while; /healthz answers many times meanwhile, each
    # far faster than the batch (on the event loop it would have waited for all of it).
    assert len(latencies) >= 5
    assert max(latencies) < max(took[0] / 4, 0.05), (max(latencies), took[0])
