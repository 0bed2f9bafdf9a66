"""The sections of the gateway TOML, one frozen pydantic model each; unknown keys are errors.

``config.GatewayConfig`` puts them together (and ``tierroute.config`` exports every one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Section(BaseModel):
    """A TOML table of the gateway configuration: frozen, no unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RoutingConfig(Section):
    """Where a query goes when the classifier is unsure; overrides the model card's policy.

    Unset, both come from the model card: its threshold was chosen for its default tier.
    """

    default_tier: str | None = None
    confidence_threshold: float | None = Field(default=None, ge=0.0, le=1.0)


class ProviderConfig(Section):
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


class TierConfig(Section):
    """A tier's ordered model chain (primary first, then failover), max_tokens cap, deadline."""

    models: list[str] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, gt=0)
    deadline: float | None = Field(default=None, gt=0)  # seconds; unset: upstream.deadline


class ModelConfig(Section):
    """Per-model request options.

    ``max_tokens_field``: the parameter that caps the answer. o-series and gpt-5 models reject
    ``max_tokens`` and want ``max_completion_tokens``; unset means that by model name, and the
    client's own choice for other models.
    """

    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] | None = None


class UpstreamConfig(Section):
    """The pooled upstream client and the request's time limit."""

    # Whole request, every attempt and backoff included (a stream: until its first content).
    deadline: float = Field(default=600.0, gt=0)
    max_connections: int = Field(default=512, ge=1)
    # Longest wait for a connection: a free one from the pool, or a new one connected.
    pool_timeout: float = Field(default=10.0, gt=0)


class LimitConfig(Section):
    """Per-model request and token rates; unset means unlimited."""

    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)


class PriceConfig(Section):
    """USD per million tokens, input and output priced apart."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class RetryConfig(Section):
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


class LogConfig(Section):
    """The request log: SQLAlchemy URL, whether (redacted) query text is stored, the spool.

    ``spool_dir`` holds rows the database cannot take now (replayed when it answers), the
    dead-letter file and the log secret; unset, ``serve`` puts it next to a SQLite file or in
    ``./tierroute-spool``. ``queue_max`` bounds the rows waiting in memory (beyond: the spool).
    """

    url: str = "sqlite:///tierroute.db"
    store_text: bool = True
    spool_dir: Path | None = None
    queue_max: int = Field(default=10_000, ge=1)


class ServerConfig(Section):
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


class RolloutConfig(Section):
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
