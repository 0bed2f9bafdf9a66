"""Reloading the champion while serving: under load, in flight, on failure, by SIGHUP, admin auth.

Real sockets throughout: the fake upstream, the gateway under uvicorn on an ephemeral port, the
openai SDK as the client and a SQLite request log.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from prometheus_client import CollectorRegistry

from tests.e2e.test_lifecycle import _free_port as free_port
from tests.fakes.upstream import FakeUpstream, Reply
from tests.support.live import load, serving, write_config
from tests.support.model_versions import clone_model, models_root_copy, tamper
from tests.support.served import Served, serve_root
from tierroute.classifier.artifacts import champion_id
from tierroute.loop.history import promote

ADMIN_KEY = "admin-secret-for-tests"
GATEWAY_KEY = "gw-reload-key"
PROVIDER_KEY_ENV = "TIERROUTE_RELOAD_PROVIDER_KEY"
QUESTION = "What is your refund policy?"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream(Reply(delay=0.005)).running() as upstream:
        yield upstream


@pytest.fixture
def served(
    fake: FakeUpstream, tmp_path: Path, small_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Served]:
    fake.reset()
    root = models_root_copy(small_models_dir, tmp_path / "models")
    monkeypatch.setenv("TIERROUTE_API_KEYS", GATEWAY_KEY)
    monkeypatch.setenv("TIERROUTE_ADMIN_KEY", ADMIN_KEY)
    monkeypatch.setenv(PROVIDER_KEY_ENV, "sk-reload")
    config = load(write_config(tmp_path, fake.base_url, key_env=PROVIDER_KEY_ENV))
    with serve_root(config, root, gateway_key=GATEWAY_KEY, admin_key=ADMIN_KEY) as served:
        yield served


def sdk(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=GATEWAY_KEY, max_retries=0)


def ask(client: openai.OpenAI, request_id: str) -> str:
    """One routed chat request; returns the classifier version that routed it."""
    raw = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": QUESTION}],
        extra_headers={"x-request-id": request_id},
    )
    assert raw.parse().choices[0].message.content
    return raw.headers["x-tierroute-model-id"]


def test_reload_under_load_drops_no_request(served: Served) -> None:
    new = clone_model(served.root, "m-reload-new")
    old = served.champion
    outcomes: Counter[str] = Counter()
    failures: list[BaseException] = []
    reloads: list[dict[str, object]] = []

    async def worker(client: openai.AsyncOpenAI, worker_id: int, n: int) -> None:
        for i in range(n):
            try:
                raw = await client.chat.completions.with_raw_response.create(
                    model="auto",
                    messages=[{"role": "user", "content": f"{QUESTION} ({worker_id}/{i})"}],
                    extra_headers={"x-request-id": f"load-{worker_id}-{i}"},
                )
                assert raw.status_code == 200
                outcomes[raw.headers["x-tierroute-model-id"]] += 1
            except BaseException as exc:
                failures.append(exc)

    async def reloader(admin: httpx.AsyncClient) -> None:
        for target in (new, old, new):
            await asyncio.sleep(0.15)
            promote(served.root, target, "test")
            response = await admin.post("/admin/reload")
            assert response.status_code == 200, response.text
            reloads.append(response.json())

    async def main() -> None:
        client = openai.AsyncOpenAI(base_url=served.url + "/v1", api_key=GATEWAY_KEY, max_retries=0)
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        async with httpx.AsyncClient(base_url=served.url, headers=headers, timeout=30) as admin:
            await asyncio.gather(*(worker(client, w, 40) for w in range(6)), reloader(admin))
        await client.close()

    asyncio.run(main())
    assert failures == []
    assert sum(outcomes.values()) == 240
    assert [r["model_id"] for r in reloads] == [new, old, new]
    assert [r["previous_model_id"] for r in reloads] == [old, new, old]
    # Both versions served some of the traffic: the reloads happened under load.
    assert outcomes[old] > 0 and outcomes[new] > 0, outcomes
    with sdk(served.url) as client:
        assert ask(client, "after-reloads") == new
    rows = served.rows()
    load_rows = [r for r in rows if str(r["client_request_id"]).startswith("load-")]
    assert len(load_rows) == 240
    assert all(r["status"] == 200 for r in load_rows)
    assert Counter(r["model_id"] for r in load_rows) == outcomes
    after = [r for r in rows if r["client_request_id"] == "after-reloads"]
    assert [r["model_id"] for r in after] == [new]
    ready = served.http.get("/readyz").json()
    assert ready["model_id"] == new


def test_request_in_flight_finishes_on_the_old_model(served: Served, fake: FakeUpstream) -> None:
    old = served.champion
    new = clone_model(served.root, "m-inflight-new")
    with sdk(served.url) as client:
        chain = served.http.post("/v1/classify", json={"text": QUESTION}).json()["chain"]
        fake.script(chain[0].partition(":")[2], Reply.ok("slow answer", delay=1.0))
        seen: dict[str, str] = {}
        thread = threading.Thread(target=lambda: seen.update(slow=ask(client, "slow-1")))
        thread.start()
        deadline = time.monotonic() + 10
        while not fake.seen():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        promote(served.root, new, "test")
        assert served.reload().json()["model_id"] == new
        assert ask(client, "fast-after") == new
        thread.join(10)
    assert seen["slow"] == old
    by_id = served.rows_by_id()
    assert by_id["slow-1"]["model_id"] == old
    assert by_id["fast-after"]["model_id"] == new


def test_failed_reload_keeps_the_old_model_and_says_why(served: Served) -> None:
    good = clone_model(served.root, "m-good")
    bad = clone_model(served.root, "m-tampered")
    tamper(served.root, bad)
    promote(served.root, bad, "test")
    response = served.reload()
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "reload_failed" and error["type"] == "api_error"
    assert "sha256" in error["message"] and served.champion in error["message"]
    with sdk(served.url) as client:
        assert ask(client, "after-failed-reload") == served.champion
    canary = served.http.get("/health/canary").json()
    assert canary["reloads"] == 0 and "IntegrityError" in canary["last_reload_error"]
    # A good champion loads again, and the error is cleared.
    promote(served.root, good, "test")
    assert served.reload().status_code == 200
    assert served.http.get("/health/canary").json()["last_reload_error"] is None


def test_admin_endpoint_wants_the_admin_key(served: Served) -> None:
    url = served.url + "/admin/reload"
    missing = httpx.post(url)
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "authentication_error"
    wrong = httpx.post(url, headers={"Authorization": f"Bearer {GATEWAY_KEY}"})
    assert wrong.status_code == 403  # a gateway key is not an admin key
    assert wrong.json()["error"]["type"] == "permission_error"
    assert served.reload().status_code == 200


def test_admin_endpoint_is_disabled_without_an_admin_key(
    fake: FakeUpstream, tmp_path: Path, small_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIERROUTE_ADMIN_KEY", raising=False)
    monkeypatch.delenv("TIERROUTE_API_KEYS", raising=False)
    config = load(write_config(tmp_path, fake.base_url))
    with serving(config, small_models_dir, registry=CollectorRegistry()) as (server, _app):
        response = httpx.post(
            server.url + "/admin/reload", headers={"Authorization": "Bearer anything"}
        )
    assert response.status_code == 403
    assert "TIERROUTE_ADMIN_KEY" in response.json()["error"]["message"]


def test_sighup_reloads_the_served_champion(
    fake: FakeUpstream, tmp_path: Path, small_models_dir: Path
) -> None:
    root = models_root_copy(small_models_dir, tmp_path / "models")
    old = champion_id(root)
    new = clone_model(root, "m-sighup")
    config_path = write_config(tmp_path, fake.base_url)
    port = free_port()
    env = {**os.environ, "TIERROUTE_MODELS_DIR": str(root)}
    env.pop("TIERROUTE_API_KEYS", None)
    process = subprocess.Popen(
        [
            *(sys.executable, "-c", "from tierroute.cli import main; main()", "serve"),
            *("--config", str(config_path), "--port", str(port)),
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"

    def model_id() -> str | None:
        try:
            response = httpx.get(url + "/readyz", timeout=1)
        except httpx.TransportError:
            return None
        return response.json().get("model_id") if response.status_code == 200 else None

    def wait_for(expected: str) -> None:
        deadline = time.monotonic() + 60
        while model_id() != expected:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, f"gateway never served {expected}"
            time.sleep(0.05)

    try:
        assert old is not None
        wait_for(old)
        promote(root, new, "test")
        process.send_signal(signal.SIGHUP)
        wait_for(new)
        assert httpx.get(url + "/health/canary").json()["reloads"] == 1
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
