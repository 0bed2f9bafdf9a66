"""Insert many rows through the driver's own ``executemany``, skipping per-row type processing.

SQLAlchemy Core's ``conn.execute(insert(table), rows)`` runs every value of every row through
its type processors: about 25 µs a request-log row, on the same core (and GIL) that serves
requests. The statement is compiled once per dialect here, and the few values the drivers
cannot take as they are get converted by hand: JSON columns to text (orjson), and on SQLite
datetimes to the text format SQLAlchemy's SQLite ``DateTime`` reads back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, DateTime, Engine, Table, insert

_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"
_JSON_NUL = b"\\u0000"
_JSON_REPLACEMENT = b"\\ufffd"


class BulkInsert:
    """A compiled ``INSERT`` for ``table`` with the given columns, ready for ``executemany``."""

    def __init__(self, engine: Engine, table: Table, keys: Sequence[str]) -> None:
        compiled = insert(table).compile(dialect=engine.dialect, column_keys=list(keys))
        self.sql = compiled.string
        self.order: tuple[str, ...] | None = (
            tuple(compiled.positiontup or ()) if compiled.positional else None
        )
        columns = {column.name: column for column in table.columns}
        self.json_keys = tuple(k for k in keys if isinstance(columns[k].type, JSON))
        sqlite = engine.dialect.name == "sqlite"
        self.datetime_keys = (
            tuple(k for k in keys if isinstance(columns[k].type, DateTime)) if sqlite else ()
        )
        # SQLite: many rows per statement. sqlite3 releases the GIL around every statement it
        # steps, so executemany of N rows hands the GIL back and forth with the event loop N
        # times; one multi-row INSERT does it once.
        self._multi_rows = 0
        self._multi_sql: dict[int, str] = {}
        if sqlite and self.order is not None:
            head, _, group = self.sql.partition(" VALUES ")
            max_variables = 32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999
            self._multi_rows = max(1, min(500, max_variables // len(self.order)))
            self._head, self._group = head, group

    def _convert(self, row: dict[str, Any]) -> dict[str, Any]:
        for key in self.json_keys:
            encoded = orjson.dumps(row[key])
            if _JSON_NUL in encoded:  # PostgreSQL text cannot hold U+0000 (see sanitize)
                encoded = encoded.replace(_JSON_NUL, _JSON_REPLACEMENT)
            row[key] = encoded.decode("utf-8")
        for key in self.datetime_keys:
            value = row[key]
            if isinstance(value, datetime):
                row[key] = value.strftime(_SQLITE_DATETIME)
        return row

    def execute(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Insert ``rows`` (dicts keyed by column name; converted copies are sent)."""
        converted = [self._convert(dict(row)) for row in rows]
        order = self.order
        if order is None:
            conn.exec_driver_sql(self.sql, converted)
        elif self._multi_rows:
            step = self._multi_rows
            for start in range(0, len(converted), step):
                chunk = converted[start : start + step]
                flat = tuple(r[k] for r in chunk for k in order)
                conn.exec_driver_sql(self._sql_for(len(chunk)), flat)
        else:
            conn.exec_driver_sql(self.sql, [tuple(r[k] for k in order) for r in converted])

    def _sql_for(self, rows: int) -> str:
        sql = self._multi_sql.get(rows)
        if sql is None:
            sql = self._multi_sql[rows] = f"{self._head} VALUES " + ", ".join([self._group] * rows)
        return sql
