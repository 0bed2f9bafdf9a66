"""The ``[state]`` section: defaults, the backend it picks, errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from tests.gateway.test_gateway_config import MINIMAL, write
from tierroute.config import load_gateway_config
from tierroute.exceptions import ConfigError
from tierroute.state.backends import open_backend
from tierroute.state.memory import MemoryBackend
from tierroute.state.redis_backend import RedisBackend


def test_memory_is_the_default_and_keeps_state_in_the_process(tmp_path: Path) -> None:
    config = load_gateway_config(write(tmp_path, MINIMAL))
    assert config.state.url == "memory://" and not config.state.shared
    backend = open_backend(config.state, registry=CollectorRegistry())
    assert isinstance(backend, MemoryBackend) and not backend.shared


def test_a_redis_url_from_the_environment_picks_redis_and_never_shows_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERROUTE_STATE__URL", "redis://:s3cret-pass@10.0.0.5:6380/2")
    config = load_gateway_config(write(tmp_path, MINIMAL + "[state]\nprocesses = 4\n"))
    assert config.state.shared and config.state.processes == 4
    assert config.state.where == "redis://10.0.0.5:6380/2"
    assert "s3cret" not in repr(config) and "s3cret" not in repr(config.state)
    backend = open_backend(config.state, registry=CollectorRegistry())
    assert isinstance(backend, RedisBackend)


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ('url = "http://127.0.0.1:6379"', "state.url"),
        ("processes = 0", "state.processes"),
        ('prefix = "has space"', "state.prefix"),
        ("timeout = 0", "state.timeout"),
        ("unknown = 1", "state.unknown"),
    ],
)
def test_bad_state_settings_name_their_key(tmp_path: Path, section: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_gateway_config(write(tmp_path, MINIMAL + f"[state]\n{section}\n"))
