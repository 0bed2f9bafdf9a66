"""Start-up and shutdown: default config, the `serve` entry point, draining the log, PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest
from prometheus_client import CollectorRegistry

from tests.e2e.conftest import GATEWAY_KEY, PROVIDER_KEY, PROVIDER_KEY_ENV
from tests.fakes.upstream import FakeUpstream, Reply
from tests.support.live import load, serving, write_config
from tierroute.config import load_gateway_config
from tierroute.store import get_requests, open_engine


def test_shutdown_writes_every_queued_row(
    fake: FakeUpstream, tmp_path: Path, small_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIERROUTE_API_KEYS", raising=False)
    monkeypatch.setenv(PROVIDER_KEY_ENV, PROVIDER_KEY)
    config = load(write_config(tmp_path, fake.base_url, key_env=PROVIDER_KEY_ENV))
    with serving(config, small_models_dir, registry=CollectorRegistry()) as (server, _app):
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
        for i in range(40):
            client.chat.completions.create(
                model="fake:coder",
                messages=[{"role": "user", "content": f"q{i}"}],
                extra_headers={"x-request-id": f"drain-{i}"},
            )
        client.close()
    # No flush was asked for: the lifespan's shutdown drained the writer.
    engine = open_engine(config.log.url)
    rows = get_requests(engine)
    engine.dispose()
    assert sorted(r["client_request_id"] for r in rows) == sorted(f"drain-{i}" for i in range(40))


def test_builtin_default_config_classifies_offline_and_logs_the_missing_key(
    tmp_path: Path,
    small_models_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv("TIERROUTE_API_KEYS", raising=False)
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    monkeypatch.setenv("TIERROUTE_LOG__URL", f"sqlite:///{tmp_path / 'default.db'}")
    config = load_gateway_config(None)
    with serving(config, small_models_dir, registry=CollectorRegistry()) as (server, _app):
        classified = httpx.post(
            server.url + "/v1/classify", json={"text": "What is your refund policy?"}
        )
        assert classified.status_code == 200
        assert classified.json()["model"].startswith("aggregator:")
        chat = httpx.post(
            server.url + "/v1/chat/completions",
            json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert chat.status_code == 503
        message = chat.json()["error"]["message"]
        # The client learns which provider lacks a key; the variable's name is for the operator.
        assert "'aggregator'" in message and "OPENROUTER_API_KEY" not in message
    assert "OPENROUTER_API_KEY is not set" in caplog.text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_command_runs_and_stops_gracefully(
    fake: FakeUpstream, tmp_path: Path, small_models_dir: Path
) -> None:
    fake.reset()
    fake.script("coder", Reply.ok("served"))
    config_path = write_config(tmp_path, fake.base_url, key_env=PROVIDER_KEY_ENV)
    port = _free_port()
    env = {
        **os.environ,
        "TIERROUTE_API_KEYS": GATEWAY_KEY,
        PROVIDER_KEY_ENV: PROVIDER_KEY,
        "TIERROUTE_MODELS_DIR": str(small_models_dir),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from tierroute.cli import main; main()",
            "serve",
            "--config",
            str(config_path),
            "--port",
            str(port),
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "gateway did not become ready"
            time.sleep(0.1)
        client = openai.OpenAI(base_url=url + "/v1", api_key=GATEWAY_KEY, max_retries=0)
        answer = client.chat.completions.create(
            model="fake:coder", messages=[{"role": "user", "content": "x"}]
        )
        client.close()
        assert answer.choices[0].message.content == "served"
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    engine = open_engine(load(config_path).log.url)
    assert len(get_requests(engine)) == 1
    engine.dispose()


@pytest.mark.postgres
def test_request_log_on_postgresql(
    fake: FakeUpstream,
    tmp_path: Path,
    small_models_dir: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake.reset()
    monkeypatch.delenv("TIERROUTE_API_KEYS", raising=False)
    monkeypatch.setenv(PROVIDER_KEY_ENV, PROVIDER_KEY)
    config = load(
        write_config(tmp_path, fake.base_url, key_env=PROVIDER_KEY_ENV, log_url=postgres_url)
    )
    with serving(config, small_models_dir, registry=CollectorRegistry()) as (server, _app):
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
        ids = {}
        for stream in (False, True):
            response = client.chat.completions.with_raw_response.create(
                model="auto",
                messages=[{"role": "user", "content": "Call me at +84 901 234 567 please"}],
                stream=stream,
                extra_headers={"x-request-id": f"pg-{stream}"},
            )
            ids[stream] = response.headers["x-request-id"]
            if stream:
                for _ in response.parse():
                    pass
        client.close()
        feedback = httpx.post(
            server.url + "/v1/feedback", json={"request_id": ids[False], "tier": "simple_faq"}
        )
        assert feedback.status_code == 200
        summary = httpx.get(server.url + "/v1/stats/cost").json()
        assert summary["total_requests"] == 2
        assert summary["prompt_tokens"] == 22
    engine = open_engine(postgres_url)
    rows = {row["client_request_id"]: row for row in get_requests(engine)}
    engine.dispose()
    assert set(rows) == {"pg-False", "pg-True"}
    assert {rows["pg-False"]["request_id"], rows["pg-True"]["request_id"]} == set(ids.values())
    assert rows["pg-True"]["stream"] is True
    assert rows["pg-False"]["text"] == "Call me at [PHONE] please"
    assert rows["pg-True"]["completion_tokens"] == 7
