"""Open the request-log database: SQLite file by default, PostgreSQL (psycopg 3) by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from tierroute.exceptions import ConfigError
from tierroute.store.migrate import add_missing_columns
from tierroute.store.schema import metadata

# The databases the request log is tested on; others are refused by name, not by traceback.
SUPPORTED_BACKENDS = ("sqlite", "postgresql")


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 (the driver we ship), not psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def default_spool_dir(url: str) -> Path:
    """Where ``serve`` keeps the spool, dead letters and log secret when ``log.spool_dir`` is unset.

    Next to a SQLite file (``<file>-spool/``); for a server database, ``./tierroute-spool/``.
    """
    parsed = make_url(normalize_url(url))
    database = parsed.database
    is_file = database is not None and database not in ("", ":memory:")
    if parsed.get_backend_name() == "sqlite" and is_file and not str(database).startswith("file:"):
        path = Path(str(database)).expanduser()
        return path.parent / f"{path.name}-spool"
    return Path("tierroute-spool")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).splitlines()
    return lines[0][:200] if lines else ""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the stats queries read while the writer thread writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def open_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for the log at ``url``, tables created or migrated (``log.url`` in the config)."""
    try:
        parsed = make_url(normalize_url(url))
    except ArgumentError as exc:
        raise ConfigError(f"log.url: not a database URL: {url!r}") from exc
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise ConfigError(
            f"log.url: unsupported database {backend!r} in {parsed.render_as_string()}; "
            "use sqlite:///path.db or postgresql://user@host/db"
        )
    try:
        engine = _create_engine(parsed)
    except (ArgumentError, ImportError) as exc:
        raise ConfigError(f"log.url: cannot use {parsed.render_as_string()}: {exc}") from exc
    if create:
        try:
            metadata.create_all(engine)
            add_missing_columns(engine, metadata)
        except SQLAlchemyError as exc:
            engine.dispose()
            cause = _first_line(getattr(exc, "orig", None) or exc)
            # Class and first line: the rest of a driver's message may carry SQL and parameters.
            raise ConfigError(
                f"log.url: cannot open the request log at {parsed.render_as_string()}: "
                f"{type(exc).__name__}: {cause}"
            ) from exc
    return engine


def _create_engine(parsed: URL) -> Engine:
    # hide_parameters: SQLAlchemy's errors never quote the rows' values (the users' text).
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed, connect_args={"check_same_thread": False}, hide_parameters=True
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A short connect timeout: during an outage the writer spools instead of hanging.
    return create_engine(
        parsed, pool_pre_ping=True, connect_args={"connect_timeout": 5}, hide_parameters=True
    )
