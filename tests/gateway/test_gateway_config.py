"""Loading the gateway TOML: defaults, the example, environment overrides, errors naming keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from tierroute.config import GatewayConfig, load_gateway_config
from tierroute.exceptions import ConfigError
from tierroute.tiers import DEFAULT_TIERS

REPO = Path(__file__).resolve().parents[2]

MINIMAL = """
[providers.local]
base_url = "http://127.0.0.1:8001/v1/"
api_key_env = "LOCAL_LLM_KEY"
[tiers.moderate_conv]
models = ["local:m1", "local:m2"]
max_tokens = 512
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tierroute.toml"
    path.write_text(text)
    return path


def test_builtin_default_mirrors_the_writeup_mapping() -> None:
    config = load_gateway_config(None)
    assert list(config.tiers) == list(DEFAULT_TIERS)
    primaries = [config.chain(tier)[0].rsplit("/", 1)[1] for tier in DEFAULT_TIERS]
    assert primaries == ["gemini-2.5-flash", "claude-sonnet-4.5", "gpt-4.1", "deepseek-v3.2"]
    assert [config.tiers[t].max_tokens for t in DEFAULT_TIERS] == [512, 2048, 4096, 2048]
    assert config.routing.default_tier is None  # the model card's, with its threshold
    assert config.routing.confidence_threshold is None
    assert config.providers["aggregator"].api_key_env == "OPENROUTER_API_KEY"
    assert config.limits["aggregator:openai/gpt-4.1"].rpm == 3000
    assert config.log.url.startswith("sqlite:///")
    config.check_tiers(DEFAULT_TIERS)


def test_example_config_is_valid_and_covers_four_kinds_of_provider() -> None:
    config = load_gateway_config(REPO / "config" / "tierroute.example.toml")
    assert set(config.providers) == {"openai", "openrouter", "deepseek", "local"}
    assert config.providers["local"].api_key_env is None
    assert config.prices["local:llama3.1:8b"].output == 0.0
    # A model part may itself contain ':' (Ollama tags).
    assert "local:llama3.1:8b" in config.model_names()
    config.check_tiers(DEFAULT_TIERS)


def test_minimal_file_gets_defaults(tmp_path: Path) -> None:
    config = load_gateway_config(write(tmp_path, MINIMAL))
    assert config.providers["local"].chat_url == "http://127.0.0.1:8001/v1/chat/completions"
    assert config.model_names() == ["local:m1", "local:m2"]
    assert config.retry.attempts_per_model == 3
    assert config.server.port == 8000 and config.server.max_body_bytes == 1_048_576
    assert config.api_keys == [] and config.admin_key is None


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('[routing]\ndefault_tier = "nope"\n', "routing.default_tier"),
        ("[routing]\nconfidence_threshold = 1.5\n", "routing.confidence_threshold"),
        ('[tiers.simple_faq]\nmodels = ["ghost:m"]\n', "tiers.simple_faq.models[0]"),
        ('[tiers.simple_faq]\nmodels = ["no-colon"]\n', "tiers.simple_faq.models[0]"),
        ("[tiers.simple_faq]\nmodels = []\n", "tiers.simple_faq.models"),
        ('[limits."local:m9"]\nrpm = 5\n', "limits.local:m9"),
        ('[limits."local:m1"]\nrpm = 0\n', "limits.local:m1.rpm"),
        ('[prices."local:m1"]\ninput = -1\noutput = 1\n', "prices.local:m1.input"),
        ("[retry]\nattempts_per_model = 0\n", "retry.attempts_per_model"),
        ("[retry]\nbackof_base = 1\n", "retry.backof_base"),
        ("[log]\nstore_text = 'maybe'\n", "log.store_text"),
        ('[providers.other]\nbase_url = "ftp://x"\n', "providers.other.base_url"),
    ],
)
def test_bad_keys_are_named(tmp_path: Path, extra: str, key: str) -> None:
    path = write(tmp_path, MINIMAL + extra)
    with pytest.raises(ConfigError) as info:
        load_gateway_config(path)
    assert key in str(info.value)
    assert str(path) in str(info.value)


def test_unreadable_and_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_gateway_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_gateway_config(write(tmp_path, "[tiers\n"))


def test_secrets_in_the_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TIERROUTE_API_KEYS"):
        load_gateway_config(write(tmp_path, 'api_keys = ["k"]\n' + MINIMAL))


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERROUTE_API_KEYS", " key-one, key-two ,,")
    monkeypatch.setenv("TIERROUTE_ADMIN_KEY", "admin-secret")
    monkeypatch.setenv("TIERROUTE_LOG__URL", "postgresql+psycopg://postgres@127.0.0.1/test")
    monkeypatch.setenv("TIERROUTE_SERVER__PORT", "9123")
    monkeypatch.setenv("TIERROUTE_PROVIDERS__LOCAL__READ_TIMEOUT", "7.5")
    config = load_gateway_config(write(tmp_path, MINIMAL + "[log]\nstore_text = false\n"))
    assert config.api_keys == ["key-one", "key-two"]
    assert config.admin_key == "admin-secret"
    assert config.log.url.startswith("postgresql+psycopg://")
    assert config.log.store_text is False  # the file's value where the env says nothing
    assert config.server.port == 9123
    assert config.providers["local"].read_timeout == 7.5
    assert config.providers["local"].base_url == "http://127.0.0.1:8001/v1"
    assert "key-one" not in repr(config) and "admin-secret" not in repr(config)


def test_bad_environment_value_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERROUTE_SERVER__PORT", "eighty")
    with pytest.raises(ConfigError, match=r"server\.port"):
        load_gateway_config(write(tmp_path, MINIMAL))


def test_check_tiers_names_tiers_without_a_chain() -> None:
    config = GatewayConfig.model_validate(
        {
            "providers": {"p": {"base_url": "http://x/v1"}},
            "tiers": {"moderate_conv": {"models": ["p:m"]}},
        }
    )
    with pytest.raises(ConfigError, match="simple_faq, code_gen"):
        config.check_tiers(["simple_faq", "moderate_conv", "code_gen"])
