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
from functools import lru_cache

# Text beyond this many characters adds little signal but costs time on every request.
MAX_CHARS = 600
# Character n-grams are taken from the start of the text only, for the same reason.
MAX_CHAR_NGRAM_CHARS = 300

_TOKEN = re.compile(r"[a-z0-9_]+|[^\sa-z0-9_]+")
_SPACES = re.compile(r"\s+")
_EXTRA_FOLD = str.maketrans({"đ": "d", "Đ": "d", "ø": "o", "ł": "l", "ß": "s"})


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    decomposed = unicodedata.normalize("NFD", ch.translate(_EXTRA_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold(text: str) -> str:
    """Lower-case, strip diacritics and collapse whitespace (the features' view of a text)."""
    text = text[:MAX_CHARS].lower()
    if not text.isascii():
        text = "".join(_fold_char(ch) for ch in text)
    return _SPACES.sub(" ", text).strip()


def word_tokens(folded: str) -> list[str]:
    """Word tokens and runs of punctuation (code symbols such as ``()``, ``=>``, ``{``)."""
    return _TOKEN.findall(folded)


def word_ngrams(text: str) -> list[str]:
    """Unigrams and bigrams of the folded text; the analyzer of the word vectorizer."""
    tokens = word_tokens(fold(text))
    grams = list(tokens)
    grams.extend([f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)])
    return grams


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
