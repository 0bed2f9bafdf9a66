"""Text folding: the one normal form of a query shared by the classifier and the data checks.

Below both ``classifier`` and ``data`` (it imports neither): ``classifier.features`` builds its
analyzers on it, ``data.schema`` guesses a row's language from it. Vietnamese is often typed
without diacritics, so text is folded to lower-case ASCII ("Đơn hàng" -> "don hang").
"""

from __future__ import annotations

import unicodedata

# Long texts: the instruction is usually at the start or at the end ("... summarize the above"),
# so features see the head and the tail; the middle adds little signal but costs time.
HEAD_CHARS = 120
TAIL_CHARS = 60


def fold(text: str) -> str:
    """Lower-case, strip diacritics, collapse whitespace, keep head and tail of long texts."""
    if len(text) > HEAD_CHARS + TAIL_CHARS:
        text = text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]
    text = text.lower()
    if not text.isascii():
        # NFKD splits off diacritics and maps compatibility forms ("…", full-width letters) to
        # ASCII; encoding to ASCII then drops the marks in C. Scripts without an ASCII form
        # (CJK, Cyrillic) vanish: the model has no such training data to use them anyway.
        text = (
            unicodedata.normalize("NFKD", text.replace("đ", "d")).encode("ascii", "ignore").decode()
        )
    return " ".join(text.split())
