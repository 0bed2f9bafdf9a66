"""Text normalisation and the analyzers the TF-IDF vectorizers use.

They are plain module-level functions so that the fitted pipeline pickles by reference and the
compiled predictor (``compiled.py``) calls the very same code: the two cannot drift apart.

Vietnamese is often typed without diacritics, so every text is folded to lower-case ASCII-ish
form ("Đơn hàng" -> "don hang"); the folded form carries almost all of the signal and lets the
two spellings share features.
"""

from __future__ import annotations

import re
import unicodedata

# Text beyond this many characters adds little signal but costs time on every request.
MAX_CHARS = 600
# Character n-grams are taken from the start of the text only, for the same reason.
MAX_CHAR_NGRAM_CHARS = 300

_TOKEN = re.compile(r"[a-z0-9_]+|[^\sa-z0-9_]+")
_EXTRA_FOLD = {"đ": "d", "Đ": "d", "ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "ß": "ss"}


def _fold_char(ch: str) -> str:
    ch = _EXTRA_FOLD.get(ch, ch)
    decomposed = unicodedata.normalize("NFD", ch)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _build_fold_table() -> dict[int, str | None]:
    # Latin letters with diacritics (Latin-1 .. Latin Extended Additional, where Vietnamese
    # lives) fold to ASCII; bare combining marks (text typed in decomposed form) disappear.
    table: dict[int, str | None] = {}
    for code in (*range(0x00C0, 0x0250), *range(0x1E00, 0x1F00)):
        ch = chr(code)
        folded = _fold_char(ch)
        if folded != ch:
            table[code] = folded
    for code in range(0x0300, 0x0370):
        table[code] = None
    return table


_FOLD_TABLE = _build_fold_table()


def fold(text: str) -> str:
    """Lower-case, strip diacritics and collapse whitespace (the features' view of a text)."""
    text = text[:MAX_CHARS].lower()
    if not text.isascii():
        text = text.translate(_FOLD_TABLE)
    return " ".join(text.split())


def word_tokens(folded: str) -> list[str]:
    """Word tokens and runs of punctuation (code symbols such as ``()``, ``=>``, ``{``)."""
    return _TOKEN.findall(folded)


def word_ngrams(text: str) -> list[str]:
    """Unigrams and bigrams of the folded text; the analyzer of the word vectorizer."""
    tokens = _TOKEN.findall(fold(text))
    return tokens + [a + " " + b for a, b in zip(tokens, tokens[1:], strict=False)]


def char_ngrams(text: str) -> list[str]:
    """Character 3- and 4-grams inside word boundaries; carry typos, morphology and symbols."""
    folded = fold(text)[:MAX_CHAR_NGRAM_CHARS]
    grams: list[str] = []
    for word in folded.split():
        padded = f" {word} "
        size = len(padded)
        for n in (3, 4):
            if size < n:
                continue
            grams.extend([padded[i : i + n] for i in range(size - n + 1)])
    return grams
