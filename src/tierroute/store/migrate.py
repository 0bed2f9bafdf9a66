"""Additive start-up migration: add the columns a log created by an older version lacks.

Enough for this log's history, which only ever adds nullable or defaulted columns: no
renames, no type changes, no data moved. It runs on every start (a few catalogue reads) and
on SQLite and PostgreSQL alike (``ALTER TABLE ... ADD COLUMN``).
"""

from __future__ import annotations

import logging

from sqlalchemy import Column, Engine, MetaData, inspect
from sqlalchemy.schema import CreateColumn

logger = logging.getLogger(__name__)


def _default_sql(column: Column[object]) -> str:
    default = column.default
    value = getattr(default, "arg", None)
    if isinstance(value, bool):
        return " DEFAULT TRUE" if value else " DEFAULT FALSE"
    if isinstance(value, int | float):
        return f" DEFAULT {value}"
    if isinstance(value, str):
        return " DEFAULT '" + value.replace("'", "''") + "'"
    return ""


def add_missing_columns(engine: Engine, metadata: MetaData) -> list[str]:
    """Add every column of ``metadata``'s existing tables the database lacks; their names."""
    inspector = inspect(engine)
    added: list[str] = []
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            if not inspector.has_table(table.name):
                continue
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                spec = str(CreateColumn(column).compile(dialect=engine.dialect))
                default = _default_sql(column)
                if not column.nullable and default:
                    # NOT NULL needs a default for the existing rows.
                    spec = spec.replace(" NOT NULL", "") + default + " NOT NULL"
                elif not column.nullable:
                    spec = spec.replace(" NOT NULL", "")
                conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {spec}")
                added.append(f"{table.name}.{column.name}")
    if added:
        logger.info("request log: added column(s) %s", ", ".join(added))
    return added
