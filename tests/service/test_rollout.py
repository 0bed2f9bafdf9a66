"""A challenger beside the champion in the running service: shadow rows, canary split, rollback.

Both are copies of the trained test model with another policy in their card. The champion
never falls back (``threshold = 0.0``), so it sends the plain FAQ question below to simple_faq
(fake:small); the challenger always does (``threshold = 1.0``), so it sends every query to the
default tier (moderate_conv: fake:medium, then fake:large). Each side's decisions, models and
upstream outcomes are then told apart by the fake upstream alone, whatever the small model's
calibrated threshold happens to be.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import openai
import pytest

from tests.fakes.upstream import FakeUpstream, Reply
from tests.support.live import load, write_config
from tests.support.model_versions import clone_model, models_root_copy
from tests.support.served import Served, serve_root
from tierroute.classifier.artifacts import champion_id
from tierroute.classifier.registry import ModelRegistry
from tierroute.exceptions import ConfigError
from tierroute.service.canary import assignment_point, hash_salt
from tierroute.service.rollout import resolve_challenger

GATEWAY_KEY = "gw-rollout-key"
ADMIN_KEY = "admin-rollout-key"
QUESTION = "How do I reset my password?"
CHALLENGER = "m-challenger"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream().running() as upstream:
        yield upstream


Start = Callable[[str], AbstractContextManager[Served]]


@pytest.fixture
def start(
    fake: FakeUpstream, tmp_path: Path, small_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Start]:
    """``with start(rollout_toml) as served``: a gateway over a root with champion + challenger."""
    fake.reset()
    root = models_root_copy(small_models_dir, tmp_path / "models")
    ModelRegistry(root).promote(clone_model(root, "m-champion", threshold=0.0), "test")
    clone_model(root, CHALLENGER, threshold=1.0)
    monkeypatch.setenv("TIERROUTE_API_KEYS", GATEWAY_KEY)
    monkeypatch.setenv("TIERROUTE_ADMIN_KEY", ADMIN_KEY)
    monkeypatch.chdir(tmp_path)  # "models/<id>" in the config is relative to the working dir

    @contextmanager
    def run(rollout: str) -> Iterator[Served]:
        config = load(write_config(tmp_path, fake.base_url, extra="\n[rollout]\n" + rollout))
        with serve_root(config, root, gateway_key=GATEWAY_KEY, admin_key=ADMIN_KEY) as served:
            yield served

    yield run


def chat(
    served: Served, request_id: str, user: str | None = None, model: str = "auto"
) -> httpx.Response:
    body: dict[str, object] = {"model": model, "messages": [{"role": "user", "content": QUESTION}]}
    if user is not None:
        body["user"] = user
    return served.http.post("/v1/chat/completions", json=body, headers={"x-request-id": request_id})


def test_shadow_scores_every_request_and_logs_both_decisions(
    start: Start, fake: FakeUpstream
) -> None:
    with start('challenger = "latest"\n') as served:
        sdk = openai.OpenAI(base_url=served.url + "/v1", api_key=GATEWAY_KEY, max_retries=0)
        for i in range(5):
            raw = sdk.chat.completions.with_raw_response.create(
                model="auto",
                messages=[{"role": "user", "content": QUESTION}],
                user=f"user-{i}",
                extra_headers={"x-request-id": f"shadow-{i}"},
            )
            assert raw.headers["x-tierroute-model-id"] == served.champion
            assert "x-tierroute-route-side" not in raw.headers  # shadow: no canary
        sdk.chat.completions.create(
            model="fake:coder",
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-request-id": "passthrough"},
        )
        sdk.close()
        classified = served.http.get("/health/canary").json()
        assert classified["mode"] == "shadow" and classified["challenger_model_id"] == CHALLENGER
        assert classified["current_weight"] == 0.0
        served.http.post(
            "/v1/classify", json={"text": QUESTION}, headers={"x-request-id": "classified"}
        ).raise_for_status()
        rows = served.rows_by_id()
    # Routing was the champion's alone: every chat went to fake:small.
    assert fake.models_seen() == ["small"] * 5 + ["coder"]
    for request_id in [f"shadow-{i}" for i in range(5)] + ["classified"]:
        row = rows[request_id]
        assert row["route_side"] == "champion"
        assert row["model_id"] == served.champion and row["tier"] == "simple_faq"
        assert row["challenger_model_id"] == CHALLENGER
        assert row["challenger_tier"] == "moderate_conv"  # the challenger's own decision
    assert rows["passthrough"]["challenger_tier"] is None  # a concrete model is not classified


def test_promoting_the_challenger_and_reloading_ends_the_shadow(start: Start) -> None:
    with start('challenger = "latest"\n') as served:
        ModelRegistry(served.root).promote(CHALLENGER, "test")
        reloaded = served.reload().json()
        assert reloaded["model_id"] == CHALLENGER
        assert reloaded["previous_challenger_model_id"] == CHALLENGER
        assert reloaded["challenger_model_id"] is None and reloaded["rollout"] == "off"
        assert chat(served, "after").headers["x-tierroute-model-id"] == CHALLENGER
        assert served.rows_by_id()["after"]["challenger_tier"] is None


CANARY = """
challenger = "models/{challenger}"
canary = true
initial_weight = 0.5
increment = 0.0
min_requests = {min_requests}
error_margin = 0.05
fallback_margin = {fallback_margin}
"""


def expected_side(user: str, weight: float) -> str:
    return "canary" if assignment_point(user, hash_salt(CHALLENGER)) < weight else "champion"


def test_canary_assignment_is_sticky_by_user_and_routed_by_the_challenger(
    start: Start, fake: FakeUpstream
) -> None:
    rollout = CANARY.format(challenger=CHALLENGER, min_requests=1000, fallback_margin=1.0)
    users = [f"user-{i}" for i in range(40)]
    with start(rollout) as served:
        sides: dict[str, set[str]] = {}
        for round_ in range(3):
            for user in users:
                response = chat(served, f"{user}-{round_}", user=user)
                assert response.status_code == 200
                side = response.headers["x-tierroute-route-side"]
                sides.setdefault(user, set()).add(side)
                routed_by = CHALLENGER if side == "canary" else served.champion
                assert response.headers["x-tierroute-model-id"] == routed_by
        # Without a user field the API key is the key: one side for all of that key's requests.
        keyed = {chat(served, f"nouser-{i}").headers["x-tierroute-route-side"] for i in range(5)}
        status = served.http.get("/health/canary").json()
        rows = served.rows_by_id()
    assert all(len(seen) == 1 for seen in sides.values())  # sticky
    for user, seen in sides.items():
        assert seen == {expected_side(user, 0.5)}
    canary_users = [u for u in users if sides[u] == {"canary"}]
    assert 0 < len(canary_users) < len(users)
    assert keyed == {expected_side(GATEWAY_KEY, 0.5)}
    assert status["mode"] == "canary" and status["current_weight"] == 0.5
    assert status["total_requests"] == 125
    assert status["canary_requests"] == 3 * len(canary_users) + 5 * (keyed == {"canary"})
    for user in users:
        row = rows[f"{user}-0"]
        assert row["route_side"] == expected_side(user, 0.5)
        assert row["challenger_model_id"] == CHALLENGER
        assert row["challenger_tier"] == "moderate_conv"
        if row["route_side"] == "canary":
            assert row["model_id"] == CHALLENGER and row["tier"] == "moderate_conv"
            assert row["model"] == "fake:medium" and row["fallback"] is True
        else:
            assert row["model_id"] == served.champion and row["tier"] == "simple_faq"
            assert row["model"] == "fake:small"
    assert fake.models_seen().count("medium") == status["canary_requests"]


def test_error_burst_on_the_canary_side_rolls_it_back(start: Start, fake: FakeUpstream) -> None:
    # The challenger's tier fails upstream (both models of its chain); the champion's does not.
    fake.script("medium", *[Reply.error(500, "canary boom")] * 400)
    fake.script("large", *[Reply.error(500, "canary boom")] * 400)
    rollout = CANARY.format(challenger=CHALLENGER, min_requests=15, fallback_margin=1.0)
    users = [f"user-{i}" for i in range(80)]
    with start(rollout) as served:
        statuses = {}
        for user in users:
            response = chat(served, f"burst-{user}", user=user)
            statuses[user] = (response.status_code, response.headers.get("x-tierroute-route-side"))
        status = served.http.get("/health/canary").json()
        after = {user: chat(served, f"after-{user}", user=user) for user in users}
        # A reload with the same challenger keeps the rolled-back canary rolled back.
        served.reload().raise_for_status()
        kept = served.http.get("/health/canary").json()
        # A new champion against the same challenger is a new comparison: a fresh canary.
        ModelRegistry(served.root).promote(clone_model(served.root, "m-champion-2"), "test")
        served.reload().raise_for_status()
        fresh = served.http.get("/health/canary").json()
    canary_errors = [u for u, (code, side) in statuses.items() if side == "canary"]
    # 503 while the models fail, 429 + Retry-After once both circuits are open (resting).
    assert canary_errors and all(statuses[u][0] in (429, 503) for u in canary_errors)
    assert all(code == 200 for code, side in statuses.values() if side == "champion")
    assert status["rolled_back"] is True and status["current_weight"] == 0.0
    assert "error rate" in status["rollback_reason"]
    assert status["canary_error_rate"] == 1.0 and status["baseline_error_rate"] == 0.0
    assert status["window_canary_requests"] >= 15 and status["window_baseline_requests"] >= 15
    # Once rolled back, everyone is on the champion and served.
    assert all(r.status_code == 200 for r in after.values())
    assert {r.headers["x-tierroute-route-side"] for r in after.values()} == {"champion"}
    assert kept["rolled_back"] is True and kept["current_weight"] == 0.0
    assert kept["total_requests"] == status["total_requests"] + len(users)
    assert fresh["rolled_back"] is False and fresh["current_weight"] == 0.5
    assert fresh["champion_model_id"] == "m-champion-2" and fresh["total_requests"] == 0


def test_challenger_resolution(tmp_path: Path, small_models_dir: Path) -> None:
    root = models_root_copy(small_models_dir, tmp_path / "models")
    champion = champion_id(root)
    assert champion is not None
    assert resolve_challenger(None, root, champion) is None
    assert resolve_challenger("latest", root, champion) is None  # nothing newer yet
    older = clone_model(root, "m-older", after=timedelta(days=-1))
    assert resolve_challenger("latest", root, champion) is None  # older ones are not candidates
    newer = clone_model(root, "m-newer", after=timedelta(hours=1))
    clone_model(root, "m-newest", after=timedelta(hours=2))
    assert resolve_challenger("latest", root, champion) == root / "m-newest"
    assert resolve_challenger(newer, root, champion) == root / newer  # a bare id
    assert resolve_challenger(str(root / older), root, champion) == root / older  # a directory
    assert resolve_challenger(champion, root, champion) is None  # the champion itself
    with pytest.raises(ConfigError, match=r"rollout\.challenger: 'm-missing'"):
        resolve_challenger("m-missing", root, champion)
