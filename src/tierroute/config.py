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
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from tierroute.exceptions import ConfigError
from tierroute.state.settings import StateConfig
from tierroute.text_input import read_utf8


class Settings(BaseSettings):
    """Process-wide settings; every field can be overridden by ``TIERROUTE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="TIERROUTE_", extra="ignore")

    models_dir: Path = Path("models")
    data_dir: Path = Path("data/raw")


def get_settings() -> Settings:
    """Settings read from the environment now (not cached: tests change the environment)."""
    return Settings()


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoutingConfig(_Section):
    """Where a query goes when the classifier is unsure; overrides the model card's policy.

    Unset, both come from the model card: its threshold was chosen for its default tier.
    """

    default_tier: str | None = None
    confidence_threshold: float | None = Field(default=None, ge=0.0, le=1.0)


class ProviderConfig(_Section):
    """An OpenAI-compatible endpoint; its key is read from the environment variable named here."""

    base_url: str
    api_key_env: str | None = None  # None: a local server that wants no key
    connect_timeout: float = Field(default=5.0, gt=0)
    # Streams: longest wait for the first byte and between two chunks. A non-streamed answer is
    # awaited until the request's deadline (a slow answer is not cut off and billed twice).
    read_timeout: float = Field(default=60.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    # genai-prices provider id for default prices; unset: matched from base_url, then model name.
    price_provider: str | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @property
    def chat_url(self) -> str:
        """The chat completions endpoint."""
        return f"{self.base_url}/chat/completions"


class TierConfig(_Section):
    """A tier's ordered model chain (primary first, then failover), max_tokens cap, deadline."""

    models: list[str] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, gt=0)
    deadline: float | None = Field(default=None, gt=0)  # seconds; unset: upstream.deadline


class ModelConfig(_Section):
    """Per-model request options.

    ``max_tokens_field``: the parameter that caps the answer. o-series and gpt-5 models reject
    ``max_tokens`` and want ``max_completion_tokens``; unset means that by model name, and the
    client's own choice for other models.
    """

    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] | None = None


class UpstreamConfig(_Section):
    """The pooled upstream client and the request's time limit."""

    # Whole request, every attempt and backoff included (a stream: until its first content).
    deadline: float = Field(default=600.0, gt=0)
    max_connections: int = Field(default=512, ge=1)
    # Longest wait for a connection: a free one from the pool, or a new one connected.
    pool_timeout: float = Field(default=10.0, gt=0)


class LimitConfig(_Section):
    """Per-model request and token rates; unset means unlimited."""

    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)


class PriceConfig(_Section):
    """USD per million tokens, input and output priced apart."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class RetryConfig(_Section):
    """Retries per model, backoff, Retry-After handling and the circuit breaker."""

    # Three tries, as the official OpenAI SDK makes by default (two retries).
    attempts_per_model: int = Field(default=3, ge=1, le=10)
    backoff_base: float = Field(default=0.25, gt=0)  # seconds; doubles per retry
    backoff_cap: float = Field(default=4.0, gt=0)
    # A 429 asking to wait longer than this fails over at once instead of waiting.
    max_retry_after: float = Field(default=5.0, ge=0)
    # The longest a provider's Retry-After may rest a model (inf or a date years ahead included).
    retry_after_cap: float = Field(default=60.0, gt=0)
    breaker_failures: int = Field(default=5, ge=1)  # consecutive failures that open the circuit
    breaker_cooldown: float = Field(default=30.0, gt=0)  # seconds open before a half-open probe


class LogConfig(_Section):
    """The request log: SQLAlchemy URL, whether (redacted) query text is stored, the spool.

    ``spool_dir`` holds rows the database cannot take now (replayed when it answers), the
    dead-letter file and the log secret; unset, ``serve`` puts it next to a SQLite file or in
    ``./tierroute-spool``. ``queue_max`` bounds the rows waiting in memory (beyond: the spool).
    """

    url: str = "sqlite:///tierroute.db"
    store_text: bool = True
    spool_dir: Path | None = None
    queue_max: int = Field(default=10_000, ge=1)


class ServerConfig(_Section):
    """Where the gateway listens, who may read /metrics, and the limits of every connection.

    The limits hold before any request reaches the app or its key check (service.http_limits):
    a request's headers must fit in ``max_header_bytes`` (431) and arrive within
    ``header_timeout`` seconds, its body within ``body_timeout`` (408, connection closed); an idle
    kept-alive connection closes after ``keep_alive_timeout``; past ``limit_concurrency`` open
    connections or requests uvicorn answers 503. ``metrics``: ``auto`` (the admin key when gateway
    keys are set, open otherwise), ``admin``, ``loopback`` (loopback clients only), ``open`` or
    ``off`` (404).
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    max_header_bytes: int = Field(default=65_536, ge=1024)
    header_timeout: float = Field(default=10.0, gt=0)
    body_timeout: float = Field(default=30.0, gt=0)
    keep_alive_timeout: int = Field(default=5, ge=1)
    limit_concurrency: int | None = Field(default=1000, ge=1)
    metrics: Literal["auto", "admin", "loopback", "open", "off"] = "auto"


class RolloutConfig(_Section):
    """A challenger classifier beside the champion: shadow scoring, optionally a canary share.

    ``challenger``: ``"latest"`` (the newest model created after the champion, none when the
    champion is the newest), a model id under the models root, or a model directory. Unset: no
    challenger. With ``canary = false`` the challenger only scores (shadow); with ``true`` it
    also routes a share of traffic that ramps and rolls back as ``service.canary`` says
    (this section is the canary's policy: no copy of it exists).
    """

    challenger: str | None = None
    canary: bool = False
    initial_weight: float = Field(default=0.10, ge=0.0, le=1.0)
    increment: float = Field(default=0.15, ge=0.0, le=1.0)
    interval_s: float = Field(default=3600.0, gt=0)
    max_weight: float = Field(default=1.0, ge=0.0, le=1.0)
    error_margin: float = Field(default=0.02, ge=0.0, le=1.0)
    fallback_margin: float = Field(default=0.05, ge=0.0, le=1.0)
    min_requests: int = Field(default=200, ge=1)
    window_s: float = Field(default=3600.0, gt=0)

    @model_validator(mode="after")
    def _ramp_fits(self) -> RolloutConfig:
        if self.initial_weight > self.max_weight:
            raise ValueError(
                f"initial_weight {self.initial_weight} is above max_weight {self.max_weight}"
            )
        return self


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
