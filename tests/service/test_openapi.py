"""Issue 8, item 10: the OpenAPI document tells the truth, checked by schemathesis.

A live gateway (uvicorn on an ephemeral port, gateway keys set, the fake upstream answering
every chat request) is fuzzed from its own ``/openapi.json`` with ``schemathesis run --checks
all``: every operation, positive and negative bodies, with and without the key, a bounded number
of examples per operation. Any status, header, content type or body that the document does not
describe fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from tests.fakes.upstream import FakeUpstream
from tests.support.live import LiveServer, load, serving, write_config

KEY = "k-openapi"
ADMIN_KEY = "admin-openapi"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, small_models_dir: Path) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("openapi")
    with FakeUpstream(record=False).running() as fake, pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIERROUTE_API_KEYS", KEY)
        mp.setenv("TIERROUTE_ADMIN_KEY", ADMIN_KEY)
        config = load(write_config(directory, fake.base_url))
        with serving(config, small_models_dir, registry=CollectorRegistry()) as (server, _app):
            yield server


def test_document_describes_bodies_errors_security_and_metrics(live: LiveServer) -> None:
    document = httpx.get(live.url + "/openapi.json", timeout=10).json()
    paths = document["paths"]
    chat = paths["/v1/chat/completions"]["post"]
    assert chat["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ChatCompletionRequest"
    )
    for path in ("/v1/chat/completions", "/v1/classify", "/v1/feedback"):
        operation = paths[path]["post"]
        assert "requestBody" in operation
        assert operation["security"] == [{"bearer": []}]
        for status in ("400", "401", "413", "503"):
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}
    assert {"429", "404"} <= set(chat["responses"])
    assert "403" in paths["/admin/reload"]["post"]["responses"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    metrics = paths["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
    schemas = document["components"]["schemas"]
    assert schemas["FeedbackRequest"]["properties"]["tier"]["enum"]
    assert "auto" in schemas["ChatCompletionRequest"]["properties"]["model"]["enum"]


def test_schemathesis_finds_no_failure(live: LiveServer, tmp_path: Path) -> None:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{live.url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        os.environ.get("TIERROUTE_SCHEMATHESIS_EXAMPLES", "15"),
        "--seed",
        os.environ.get("TIERROUTE_SCHEMATHESIS_SEED", "8"),
        "--header",
        f"Authorization: Bearer {KEY}",
        "--request-timeout",
        "10",
        "--no-color",
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=240, cwd=tmp_path, check=False
    )
    report = done.stdout[-8000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
