"""Tenancy over a real socket: unguessable ids, feedback and stats scoped to the key that made
the request (the admin key sees all), the client's id kept apart, keys hashed with a secret."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from tests.support.live import LiveServer, load, serving, write_config
from tierroute.store import KeyHasher, get_requests, open_engine

KEY_A, KEY_B, ADMIN = "k-tenant-a", "k-tenant-b", "k-admin-tenancy"
HELLO = [{"role": "user", "content": "hello"}]


@dataclass
class Tenants:
    server: LiveServer
    engine: Engine
    spool: Path
    clients: dict[str, httpx.Client]


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory, small_models_dir: Path) -> Iterator[Tenants]:
    directory = tmp_path_factory.mktemp("tenancy")
    # Nothing listens on port 9 and no provider key is set: chat answers 503, and is logged.
    path = write_config(directory, "http://127.0.0.1:9/v1", key_env="TIERROUTE_TEST_UNSET_KEY")
    spool = directory / "spool"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIERROUTE_API_KEYS", f"{KEY_A},{KEY_B}")
        mp.setenv("TIERROUTE_ADMIN_KEY", ADMIN)
        mp.delenv("TIERROUTE_TEST_UNSET_KEY", raising=False)
        mp.delenv("TIERROUTE_LOG_SECRET", raising=False)
        config = load(path)
        registry = CollectorRegistry()
        with serving(config, small_models_dir, registry=registry, spool_dir=spool) as (server, _):
            clients = {
                name: httpx.Client(
                    base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=10
                )
                for name, key in (("a", KEY_A), ("b", KEY_B), ("admin", ADMIN))
            }
            engine = open_engine(config.log.url)
            yield Tenants(server, engine, spool, clients)
            engine.dispose()
            for client in clients.values():
                client.close()


def classify(tenants: Tenants, who: str, **headers: str) -> httpx.Response:
    response = tenants.clients[who].post("/v1/classify", json={"text": "hi"}, headers=headers)
    assert response.status_code == 200
    return response


def test_request_ids_are_random_not_a_counter(tenants: Tenants) -> None:
    ids = [classify(tenants, "a").headers["x-request-id"] for _ in range(20)]
    assert all(re.fullmatch(r"clf-[0-9a-f]{24}", rid) for rid in ids)
    assert len(set(ids)) == 20
    # A per-process prefix plus a counter shared its first characters; random ids do not.
    assert len({rid[4:12] for rid in ids}) > 15
    chat = tenants.clients["a"].post(
        "/v1/chat/completions", json={"model": "auto", "messages": HELLO}
    )
    assert re.fullmatch(r"chatcmpl-[0-9a-f]{24}", chat.headers["x-request-id"])


def test_feedback_on_another_keys_request_is_a_404_like_an_unknown_id(tenants: Tenants) -> None:
    rid = classify(tenants, "a").headers["x-request-id"]
    body = {"request_id": rid, "tier": "code_gen"}
    other = tenants.clients["b"].post("/v1/feedback", json=body)
    unknown = tenants.clients["b"].post(
        "/v1/feedback", json={"request_id": "clf-" + "0" * 24, "tier": "code_gen"}
    )
    assert other.status_code == unknown.status_code == 404
    assert other.json()["error"]["code"] == unknown.json()["error"]["code"]
    assert other.json()["error"]["message"].replace(rid, "X") == unknown.json()["error"][
        "message"
    ].replace("clf-" + "0" * 24, "X")
    assert tenants.clients["a"].post("/v1/feedback", json=body).status_code == 200
    assert tenants.clients["admin"].post("/v1/feedback", json=body).status_code == 200


def test_cost_stats_count_only_the_callers_requests(tenants: Tenants) -> None:
    def total(who: str) -> int:
        response = tenants.clients[who].get("/v1/stats/cost")
        assert response.status_code == 200
        return int(response.json()["total_requests"])

    before = {who: total(who) for who in ("a", "b", "admin")}
    for who, count in (("a", 2), ("b", 1)):
        for _ in range(count):
            tenants.clients[who].post(
                "/v1/chat/completions", json={"model": "auto", "messages": HELLO}
            )
    assert total("a") - before["a"] == 2
    assert total("b") - before["b"] == 1
    assert total("admin") - before["admin"] == 3
    assert httpx.get(tenants.server.url + "/v1/stats/cost").status_code == 401


def test_the_clients_id_is_kept_apart_and_bounded(tenants: Tenants) -> None:
    long_id = "x" * 200  # a 128+ character x-request-id used to overflow the id column
    response = tenants.clients["a"].post(
        "/v1/classify", json={"inputs": ["a", "b", "c"]}, headers={"x-request-id": long_id}
    )
    assert response.status_code == 200
    batch_id = response.json()["request_id"]
    tenants.clients["a"].get("/v1/stats/cost")  # flushes the writer
    rows = get_requests(tenants.engine, client_request_id="x" * 128)
    assert sorted(r["request_id"] for r in rows) == [f"{batch_id}.{i}" for i in range(3)]


def test_key_hashes_are_keyed_with_the_persisted_secret(tenants: Tenants) -> None:
    rid = classify(tenants, "a").headers["x-request-id"]
    tenants.clients["a"].get("/v1/stats/cost")
    (row,) = get_requests(tenants.engine, rid)
    secret = (tenants.spool / "log-secret").read_bytes().strip()
    assert row["api_key_hash"] == KeyHasher(secret)(KEY_A)
    assert row["api_key_hash"] != hashlib.sha256(KEY_A.encode()).hexdigest()[:32]
    assert KEY_A not in str(row)


def test_metrics_export_the_log_row_counters(tenants: Tenants) -> None:
    classify(tenants, "a")
    tenants.clients["a"].get("/v1/stats/cost")
    text = tenants.clients["admin"].get("/metrics").text
    for name in ("written", "spooled", "replayed", "dead_lettered", "dropped"):
        assert f"tierroute_log_rows_{name}_total " in text
    written = re.search(r"^tierroute_log_rows_written_total (\S+)$", text, re.M)
    assert written is not None and float(written.group(1)) >= 1
    assert re.search(r"^tierroute_log_rows_dropped_total 0\.0$", text, re.M)


def test_the_log_secret_is_an_environment_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tierroute.config import load_gateway_config
    from tierroute.exceptions import ConfigError

    path = write_config(tmp_path, "http://127.0.0.1:9/v1")
    in_file = tmp_path / "with-secret.toml"
    in_file.write_text('log_secret = "0123456789abcdef0123"\n' + path.read_text())
    with pytest.raises(ConfigError, match="TIERROUTE_LOG_SECRET"):
        load_gateway_config(in_file)
    monkeypatch.setenv("TIERROUTE_LOG_SECRET", "short")
    with pytest.raises(ConfigError, match="log_secret"):
        load_gateway_config(path)
    monkeypatch.setenv("TIERROUTE_LOG_SECRET", "a-long-enough-secret-for-the-log")
    assert load_gateway_config(path).log_secret == "a-long-enough-secret-for-the-log"
