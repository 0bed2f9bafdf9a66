"""Read UTF-8 text input; a byte that is not UTF-8 is reported by file, line and byte offset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tierroute.exceptions import DataError, TierrouteError


def decode_error_at(path: Path | str, data: bytes, exc: UnicodeDecodeError, base: int = 0) -> str:
    """``file:line: not UTF-8 (byte 0xNN at offset N)`` for a failed decode of ``data``.

    ``base`` is the offset of ``data`` in the file (when one line of it was decoded).
    """
    offset = base + exc.start
    line = data[: exc.start].count(b"\n") + 1
    return (
        f"{path}:{line}: not UTF-8 (byte 0x{data[exc.start]:02x} at byte offset {offset}); "
        "save the file as UTF-8"
    )


def read_utf8(path: Path, error: type[TierrouteError] = DataError) -> str:
    """The whole file as text; ``error`` (DataError) names the first byte that is not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(decode_error_at(path, data, exc)) from exc


def utf8_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line, decoded one at a time (constant memory)."""
    offset = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                message = decode_error_at(path, raw, exc, base=offset)
                # decode_error_at counts lines within ``raw`` (one line): use the real number.
                raise DataError(message.replace(f"{path}:1:", f"{path}:{number}:", 1)) from exc
            offset += len(raw)
            yield number, text
