"""Text normalisation and the analyzers the TF-IDF vectorizers use.

They are plain module-level functions so that the fitted pipeline pickles by reference and the
compiled predictor (``compiled.py``) calls the very same code: the two cannot drift apart. Each
analyzer is ``<name>_folded(fold(text))``; the compiled predictor folds once and calls the
``_folded`` halves directly.

Vietnamese is often typed without diacritics, so every text is folded to lower-case ASCII ("Đơn hàng" -> "don hang"); the folded form carries almost all of the signal and
lets the two spellings share features.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from itertools import pairwise

from tierroute.textfold import fold

# Character n-grams are taken from the start of the (folded) text only: that is where typos and
# unseen spellings of the request itself show; more of them cost time and add no accuracy.
CHAR_NGRAM_CHARS = 32
CHAR_NGRAM = 4
# Word bigrams come from the first tokens only: the phrasing of the request ("how do i",
# "viet ham") is there; later bigrams cost time on long texts and measured no better.
BIGRAM_TOKENS = 16

_TOKEN = re.compile(r"[a-z0-9_]+|[^\sa-z0-9_]+")


# Length (log2 buckets) and line count (0, 1, 2, 3-7, 8+) are strong, cheap signals: pasted
# code, long word problems. Tokens are precomputed: this runs on every request.
_LENGTH_TOKENS = tuple(f"__len{min(int(math.log2(n + 1)), 12)}" for n in range(1 << 12))
_LINE_TOKENS = tuple(f"__lines{min(n, 3) if n < 8 else 8}" for n in range(9))


def _shape_tokens(text: str) -> list[str]:
    return [
        _LENGTH_TOKENS[min(len(text), 4095)],
        _LINE_TOKENS[min(text.count("\n"), 8)],
    ]


def word_ngrams_folded(folded: str) -> list[str]:
    """Unigrams, and bigrams of the first ``BIGRAM_TOKENS`` tokens, of already folded text."""
    tokens = _TOKEN.findall(folded)
    return tokens + [a + " " + b for a, b in pairwise(tokens[:BIGRAM_TOKENS])]


def word_ngrams(text: str) -> list[str]:
    """Word unigrams and bigrams plus length/line-count tokens; the word vectorizer's analyzer."""
    return word_ngrams_folded(fold(text)) + _shape_tokens(text)


def char_ngrams_folded(folded: str) -> list[str]:
    """Character 4-grams inside word boundaries of already folded text."""
    grams: list[str] = []
    n = CHAR_NGRAM
    for word in folded[:CHAR_NGRAM_CHARS].split():
        padded = f" {word} "
        grams += [padded[i : i + n] for i in range(len(padded) - n + 1)]
    return grams


def char_ngrams(text: str) -> list[str]:
    """Character 4-grams; carry typos, morphology and code symbols. The char analyzer."""
    return char_ngrams_folded(fold(text))


Analyzer = Callable[[str], list[str]]
# For the compiled predictor: analyzer -> (part computed from folded text, extra raw-text part).
SPLIT_ANALYZERS: dict[Analyzer, tuple[Analyzer, Analyzer | None]] = {
    word_ngrams: (word_ngrams_folded, _shape_tokens),
    char_ngrams: (char_ngrams_folded, None),
}
