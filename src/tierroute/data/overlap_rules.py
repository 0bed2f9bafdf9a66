"""The three near-copy rules: what is compared of a text (its signature) and the verdict on a pair.

Tried in this order for each (train, eval) pair; the first that holds names it:

1. ``same-text``: equal after :func:`overlap_key` (case folded, Vietnamese diacritics folded,
   punctuation stripped, whitespace collapsed). Score 1.0.
2. ``shared-ngrams``: the two texts share at least ``min_shared_shingles`` word 3-gram shingles,
   their words are alike (a weighted Jaccard, rare words counting more, of at least
   ``min_ngram_similarity``; ``min_short_ngram_similarity`` when the shorter text has fewer than
   ``short_text_words`` words) and their numbers agree. The minimum count is what keeps short
   generic texts apart: "where is my order" and "where is my order #123?" share two shingles, so
   they are *not* near-copies (they are the same stock ask, not the same item), while a reworded
   problem that keeps six or more words in a row is. Sharing a stock phrase ("can you help me
   write a") inside otherwise different texts stays under the word-similarity cut. Score: the
   word similarity.
3. ``shared-numbers``: the same problem with the same numbers: the two number sequences have a
   common subsequence (same order) of at least ``min_numbers`` numbers, or of at least two with
   two *distinctive* ones (three or more digits, a decimal, or a code mixing letters and digits
   such as "x1"), covering ``min_number_share`` of the longer sequence, *and* the words are alike
   (``min_number_similarity``). Score: the share of the numbers in common.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Reason = Literal["same-text", "shared-ngrams", "shared-numbers"]

SHINGLE_WORDS = 3
MAX_NUMBERS = 10

_NON_WORD = re.compile(r"[\W_]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CODE = re.compile(r"^[a-z]+\d[a-z0-9]*$")


@dataclass(frozen=True, slots=True)
class OverlapRules:
    """The cuts of the three rules (see the module docstring)."""

    min_shared_shingles: int = 4
    min_ngram_similarity: float = 0.6
    short_text_words: int = 10
    min_short_ngram_similarity: float = 0.75
    min_numbers: int = 3
    min_number_share: float = 0.5
    min_number_similarity: float = 0.3


@dataclass(frozen=True, slots=True)
class Signature:
    """What the rules compare of one text."""

    key: str
    shingles: frozenset[str]
    words: frozenset[str]
    numbers: tuple[str, ...]
    codes: frozenset[str]


def overlap_key(text: str) -> str:
    """Case and diacritics folded, punctuation stripped, whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("đ", "d"))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NON_WORD.sub(" ", bare).split())


def word_shingles(words: Sequence[str], size: int = SHINGLE_WORDS) -> frozenset[str]:
    """The set of ``size``-word runs of a word sequence."""
    return frozenset(" ".join(words[i : i + size]) for i in range(len(words) - size + 1))


def number_sequence(text: str) -> tuple[str, ...]:
    """Numbers in reading order ("1,200" and "1200" alike; "123.45" stays one number)."""
    folded = text.casefold()
    return tuple(_canonical_number(m.group()) for m in _NUMBER.finditer(folded))[:MAX_NUMBERS]


def _canonical_number(raw: str) -> str:
    # "1,200" and "1.200" are thousands separators in English and Vietnamese respectively; a
    # single separator followed by one or two digits is a decimal point.
    parts = re.split(r"[.,]", raw)
    if len(parts) == 2 and len(parts[1]) in (1, 2):
        return f"{int(parts[0])}.{parts[1]}"
    return str(int("".join(parts)))


def is_distinctive(number: str) -> bool:
    """A number that names a problem on its own: three or more digits, or a decimal."""
    return "." in number or len(number) >= 3


def signature(text: str) -> Signature:
    """What the rules compare of one text."""
    key = overlap_key(text)
    words = key.split()
    numbers = number_sequence(text)
    return Signature(
        key=key,
        shingles=word_shingles(words),
        words=frozenset(words),
        numbers=numbers,
        codes=frozenset(w for w in words if _CODE.match(w)),
    )


def _common_subsequence(a: Sequence[str], b: Sequence[str]) -> list[str]:
    """A longest common subsequence of two short sequences (plain dynamic programming)."""
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) - 1, -1, -1):
        for j in range(len(b) - 1, -1, -1):
            table[i][j] = (
                table[i + 1][j + 1] + 1 if a[i] == b[j] else max(table[i + 1][j], table[i][j + 1])
            )
    out: list[str] = []
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i] == b[j]:
            out.append(a[i])
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return out


def word_weights(texts: Iterable[frozenset[str]]) -> dict[str, float]:
    """Inverse document frequency of each word over the given word sets (smoothed)."""
    frequency: Counter[str] = Counter()
    total = 0
    for words in texts:
        frequency.update(words)
        total += 1
    return {word: math.log((total + 1) / (count + 1)) + 1.0 for word, count in frequency.items()}


def _word_similarity(a: Signature, b: Signature, weights: Mapping[str, float]) -> float:
    """Weighted Jaccard of the word sets: a shared rare word counts more than a shared "the".

    This is what tells a copy from a template with another slot: "how many players are on a
    football team" and "... hockey team" share every common word but differ in the rare one.
    """
    union = a.words | b.words
    if not union:
        return 0.0
    # Every word of both sides is weighted (find_near_copies weighs both); 1.0 is a fallback.
    total = sum(weights.get(w, 1.0) for w in union)
    return sum(weights.get(w, 1.0) for w in a.words & b.words) / total


def is_informative(number: str) -> bool:
    """A number worth matching on: two or more digits, or a decimal."""
    # Single digits (1, 2, 3 ...) are in every other math problem; a run of them proves nothing.
    return "." in number or len(number) >= 2


def judge_pair(
    train: Signature, test: Signature, rules: OverlapRules, weights: Mapping[str, float]
) -> tuple[Reason, float] | None:
    """The first rule a pair of signatures meets, with its score; None if none."""
    if train.key == test.key and train.key:
        return "same-text", 1.0
    shared = len(train.shingles & test.shingles)
    shared_numbers = set(train.numbers) & set(test.numbers)
    numbers_possible = len(shared_numbers) >= 2 and any(map(is_informative, shared_numbers))
    if shared < rules.min_shared_shingles and not numbers_possible:
        return None  # the cheap tests first: most candidates stop here
    words = _word_similarity(train, test, weights)
    if words < min(rules.min_ngram_similarity, rules.min_number_similarity):
        return None
    common = _common_subsequence(train.numbers, test.numbers)
    longest = max(len(train.numbers), len(test.numbers))
    short = min(len(train.key.split()), len(test.key.split())) < rules.short_text_words
    needed = rules.min_short_ngram_similarity if short else rules.min_ngram_similarity
    # Same wording with other numbers is the same template, not the same problem.
    numbers_agree = longest == 0 or len(common) >= rules.min_number_share * longest
    if shared >= rules.min_shared_shingles and words >= needed and numbers_agree:
        return "shared-ngrams", round(words, 3)
    if numbers_possible and words >= rules.min_number_similarity:
        distinctive = sum(map(is_distinctive, common)) + len(train.codes & test.codes)
        enough = len(common) >= rules.min_numbers or (len(common) >= 2 and distinctive >= 2)
        if (
            enough
            and any(map(is_informative, common))
            and len(common) >= rules.min_number_share * longest
        ):
            return "shared-numbers", round(len(common) / longest, 3)
    return None
