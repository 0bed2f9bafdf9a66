"""Make a log row storable on every backend, so one bad value never fails a whole batch.

PostgreSQL rejects U+0000 in text (SQLite takes it), and a ``VARCHAR(n)`` rejects longer values
(SQLite ignores the length): either error used to fail the batch the row was in, other clients'
rows included. Every text column has NUL replaced by U+FFFD (visible, unlike a silent strip) and
every sized column is cut to its size. JSON columns are cleaned where they are encoded
(``bulk.BulkInsert``): a byte search on the encoded text costs less than walking the values.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, Table

NUL = "\x00"
REPLACEMENT = "\ufffd"


def _clean_text(value: str, size: int | None) -> str:
    if NUL in value:
        value = value.replace(NUL, REPLACEMENT)
    if size is not None and len(value) > size:
        value = value[:size]
    return value


class RowSanitizer:
    """Cleans rows of one table in place: NUL in text replaced, sized strings cut to size."""

    __slots__ = ("text",)

    def __init__(self, table: Table) -> None:
        self.text: tuple[tuple[str, int | None], ...] = tuple(
            (column.name, column.type.length)
            for column in table.columns
            if isinstance(column.type, String)  # Text is a String without a length
        )

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        """``row``, cleaned (the same dict)."""
        for name, size in self.text:
            value = row.get(name)
            if value.__class__ is str and (NUL in value or (size and len(value) > size)):
                row[name] = _clean_text(value, size)
        return row
