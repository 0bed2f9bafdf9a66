"""Keyed hashes of gateway keys and client user ids, and the log secret they are keyed with.

A plain sha256 of an API key or user id can be reversed by anyone holding the log and a list
of candidates; an HMAC keyed with a server secret cannot. The secret comes from
``TIERROUTE_LOG_SECRET`` when set (needed when several hosts share one log), else from the
file ``log-secret`` in the log's spool directory, generated once (0600) so that hashes stay the
same across restarts. Without either, a random per-process secret: hashes then change on
restart, and the gateway says so at start.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from functools import lru_cache
from pathlib import Path

logger = logging.getLogger(__name__)

SECRET_FILE = "log-secret"


class KeyHasher:
    """``hasher(value)``: HMAC-SHA256 of ``value`` under the log secret, 32 hex characters."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the log secret must be at least 16 bytes")
        self._secret = secret
        # The same few keys come back on every request: hash each once.
        self._cached = lru_cache(maxsize=4096)(self._hash)

    def _hash(self, value: str) -> str:
        return hmac.new(self._secret, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    def __call__(self, value: str) -> str:
        """The keyed hash of ``value``."""
        return self._cached(value)

    @classmethod
    def ephemeral(cls) -> KeyHasher:
        """A hasher with a random secret (hashes valid for this process only)."""
        return cls(secrets.token_bytes(32))


def load_log_secret(env_secret: str | None, directory: Path | None) -> bytes | None:
    """The secret from the environment, else from (or newly into) ``directory``; None if neither."""
    if env_secret:
        return env_secret.encode("utf-8")
    if directory is None:
        return None
    path = directory / SECRET_FILE
    directory.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_hex(32).encode("ascii"))
        handle.flush()
        os.fsync(handle.fileno())
    logger.warning("request log: generated a new log secret in %s (keep it with the log)", path)
    return path.read_bytes().strip()


def key_hasher(env_secret: str | None, directory: Path | None) -> KeyHasher:
    """The hasher for a gateway: persistent secret when there is one, else ephemeral (warned)."""
    secret = load_log_secret(env_secret, directory)
    if secret is None:
        logger.warning(
            "request log: no TIERROUTE_LOG_SECRET and no spool directory: user and key hashes "
            "use a per-process secret and change on restart"
        )
        return KeyHasher.ephemeral()
    return KeyHasher(secret)
