"""All configuration in one place: pydantic-settings models, environment overrides (TIERROUTE_*).

The classifier side needs only paths (``Settings``); the gateway reads one TOML file
(``load_gateway_config``) validated here, so that every bad key is reported by name. Environment
variables override the file with ``TIERROUTE_`` and ``__`` between levels, e.g.
``TIERROUTE_LOG__URL=postgresql+psycopg://...`` or ``TIERROUTE_SERVER__PORT=9000``. Secrets
never live in the file: gateway keys come from ``TIERROUTE_API_KEYS`` (comma-separated) and
``TIERROUTE_ADMIN_KEY``, the log's hashing secret from ``TIERROUTE_LOG_SECRET``, provider keys
from the variable each provider names in ``api_key_env``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from tierroute.config_sections import (
    LimitConfig,
    LogConfig,
    ModelConfig,
    PriceConfig,
    ProviderConfig,
    RetryConfig,
    RolloutConfig,
    RoutingConfig,
    ServerConfig,
    TierConfig,
    UpstreamConfig,
)
from tierroute.exceptions import ConfigError
from tierroute.state.settings import StateConfig
from tierroute.text_input import read_utf8

# The sections are defined in config_sections; every piece of configuration is imported from here.
__all__ = [
    "GatewayConfig",
    "LimitConfig",
    "LogConfig",
    "ModelConfig",
    "PriceConfig",
    "ProviderConfig",
    "RetryConfig",
    "RolloutConfig",
    "RoutingConfig",
    "ServerConfig",
    "Settings",
    "TierConfig",
    "UpstreamConfig",
    "default_config_text",
    "get_settings",
    "load_gateway_config",
    "split_model_ref",
    "validation_message",
]


class Settings(BaseSettings):
    """Process-wide settings; every field can be overridden by ``TIERROUTE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="TIERROUTE_", extra="ignore")

    models_dir: Path = Path("models")
    data_dir: Path = Path("data/raw")


def get_settings() -> Settings:
    """Settings read from the environment now (not cached: tests change the environment)."""
    return Settings()


def split_model_ref(ref: str) -> tuple[str, str]:
    """``"provider:model"`` -> ``("provider", "model")``; the model part may contain ``:``."""
    provider, sep, model = ref.partition(":")
    if not sep or not provider or not model:
        raise ValueError(f"{ref!r} is not of the form 'provider:model'")
    return provider, model


class GatewayConfig(BaseSettings):
    """The gateway's whole configuration (see ``config/tierroute.example.toml``)."""

    model_config = SettingsConfigDict(
        env_prefix="TIERROUTE_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    routing: RoutingConfig = RoutingConfig()
    providers: dict[str, ProviderConfig] = Field(min_length=1)
    tiers: dict[str, TierConfig] = Field(min_length=1)
    limits: dict[str, LimitConfig] = Field(default_factory=dict)
    prices: dict[str, PriceConfig] = Field(default_factory=dict)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    retry: RetryConfig = RetryConfig()
    upstream: UpstreamConfig = UpstreamConfig()
    log: LogConfig = LogConfig()
    server: ServerConfig = ServerConfig()
    rollout: RolloutConfig = RolloutConfig()
    state: StateConfig = StateConfig()  # shared serving state (tierroute.state.settings)
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list, repr=False)
    admin_key: str | None = Field(default=None, repr=False)
    # Keys the hashes of user ids and gateway keys in the log (store.keys).
    log_secret: str | None = Field(default=None, min_length=16, repr=False)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file (init arguments hold the file's content).
        return env_settings, init_settings

    @field_validator("api_keys", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @model_validator(mode="after")
    def _references_resolve(self) -> GatewayConfig:
        for tier, tier_config in self.tiers.items():
            for i, ref in enumerate(tier_config.models):
                self._check_ref(f"tiers.{tier}.models[{i}]", ref)
        if self.routing.default_tier is not None and self.routing.default_tier not in self.tiers:
            raise ValueError(
                f"routing.default_tier: {self.routing.default_tier!r} is not a configured tier "
                f"({', '.join(self.tiers)})"
            )
        chained = set(self.model_names())
        for section, refs in (
            ("limits", self.limits),
            ("prices", self.prices),
            ("models", self.models),
        ):
            for ref in refs:
                if ref not in chained:
                    raise ValueError(
                        f"{section}.{ref}: not a model of any tier chain "
                        f"({', '.join(sorted(chained))})"
                    )
        return self

    def _check_ref(self, key: str, ref: str) -> None:
        try:
            provider, _ = split_model_ref(ref)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
        if provider not in self.providers:
            raise ValueError(
                f"{key}: unknown provider {provider!r} in {ref!r} "
                f"(configured: {', '.join(self.providers)})"
            )

    def model_names(self) -> list[str]:
        """Every configured concrete model (``provider:model``), in tier-chain order, once."""
        return list(dict.fromkeys(ref for tier in self.tiers.values() for ref in tier.models))

    def chain(self, tier: str) -> tuple[str, ...]:
        """The tier's model chain, primary first."""
        return tuple(self.tiers[tier].models)

    def check_tiers(self, tiers: Sequence[str]) -> None:
        """Raise ConfigError unless every tier the classifier can answer has a model chain."""
        missing = [tier for tier in tiers if tier not in self.tiers]
        if missing:
            raise ConfigError(
                f"tiers: no model chain for classifier tier(s) {', '.join(missing)} "
                f"(configured: {', '.join(self.tiers)})"
            )


_SECRET_KEYS = ("api_keys", "admin_key", "log_secret")


def validation_message(source: str, exc: ValidationError) -> str:
    """``source: key.path: message; ...`` for every error pydantic found (the CLI prints it)."""
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{key}: {message}" if key else message)
    return f"{source}: " + "; ".join(lines)


def default_config_text() -> str:
    """The built-in default configuration (package data)."""
    return resources.files("tierroute").joinpath("defaults/tierroute.toml").read_text("utf-8")


def load_gateway_config(path: Path | None = None) -> GatewayConfig:
    """Read and validate the gateway TOML (None: the built-in default), env overriding the file.

    Raises ConfigError naming the file and the bad key.
    """
    source = str(path) if path is not None else "built-in default config"
    try:
        text = read_utf8(path, ConfigError) if path is not None else default_config_text()
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    for key in _SECRET_KEYS:
        if key in data:
            raise ConfigError(
                f"{source}: {key}: secrets do not belong in the file; "
                f"set TIERROUTE_{key.upper()} in the environment"
            )
    try:
        return GatewayConfig(**data)
    except ValidationError as exc:
        raise ConfigError(validation_message(source, exc)) from exc
