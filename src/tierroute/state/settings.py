"""The ``[state]`` section: where serving state shared by processes lives (limits, breakers, canary).

``url = "memory://"`` (the default) keeps it in each process, as a single ``serve`` process
needs. ``redis://host:port/db`` (or ``rediss://``, ``unix://``) shares it between every worker
and replica pointed at the same Redis, under keys starting with ``prefix``. ``processes`` is
how many processes share the limits: when Redis cannot be reached, each process falls back to
its own limits at 1/``processes`` of every rpm and tpm budget, so the cluster as a whole stays
within them. ``timeout`` bounds every Redis call (a stalled Redis must not stall requests);
after a failure Redis is tried again every ``reconnect_s`` seconds.

Its own module (not config.py) so the state backend can be read on its own; config.py holds
one field of this type.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

MEMORY_URL = "memory://"
REDIS_SCHEMES = ("redis", "rediss", "unix")


class StateConfig(BaseModel):
    """Where shared serving state lives, and how to behave when it cannot be reached."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(default=MEMORY_URL, repr=False)  # a Redis URL may hold a password
    prefix: str = Field(default="tierroute", min_length=1, max_length=100, pattern=r"^[^\s{}]+$")
    processes: int = Field(default=1, ge=1, le=10_000)
    timeout: float = Field(default=0.25, gt=0, le=30)
    reconnect_s: float = Field(default=1.0, gt=0, le=600)
    # Seconds between reads of the shared canary state (another process's rollback).
    sync_s: float = Field(default=1.0, gt=0, le=600)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value == MEMORY_URL:
            return value
        if urlsplit(value).scheme not in REDIS_SCHEMES:
            raise ValueError(
                "must be 'memory://' or a Redis URL (redis://host:port/db, rediss://, unix://)"
            )
        return value

    @property
    def shared(self) -> bool:
        """Whether the state lives in Redis (shared by every process using the same URL)."""
        return self.url != MEMORY_URL

    @property
    def where(self) -> str:
        """The URL without credentials, for logs."""
        if not self.shared:
            return MEMORY_URL
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"
