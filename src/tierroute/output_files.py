"""Write output files whole or not at all, with temporary files only beside the output.

A reader never sees half a file and a failed write leaves the old file as it was: the content
goes to a hidden temporary file in the output's own directory, then replaces the output in one
``os.replace``. (Never ``path.with_name``: for ``/tmp`` that names ``/.tmp.partial`` at the root.)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


@contextmanager
def atomic_text_writer(path: Path) -> Iterator[TextIO]:
    """A UTF-8 text handle whose content becomes ``path`` when the block ends without error."""
    if path.is_dir():
        raise IsADirectoryError(21, "is a directory, not a file", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step."""
    with atomic_text_writer(path) as handle:
        handle.write(text)


def same_file(a: Path, b: Path) -> bool:
    """True when two paths name one file (symlinks and relative paths resolved)."""
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def overwritten_input(output: Path, inputs: Iterable[Path]) -> Path | None:
    """The input that ``output`` would overwrite, if any."""
    return next((path for path in inputs if same_file(output, path)), None)
