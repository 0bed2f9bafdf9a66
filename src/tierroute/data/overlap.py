"""Near-duplicate detection between training texts and evaluation texts (pure functions).

Three rules, tried in this order for each (train, eval) pair; the first that holds names it:

1. ``same-text``: equal after :func:`overlap_key` (case folded, Vietnamese diacritics folded,
   punctuation stripped, whitespace collapsed). Score 1.0.
2. ``shared-ngrams``: the two texts share at least ``min_shared_shingles`` word 3-gram shingles
   and those cover at least ``min_containment`` of the smaller text's shingles. The minimum
   count is what keeps short generic texts apart: "where is my order" and "where is my order
   #123?" share two shingles, so they are *not* near-copies (they are the same stock ask, not
   the same item), while a reworded problem that keeps six or more words in a row is. Sharing a
   stock phrase ("can you help me write a") inside otherwise different texts stays under the
   containment cut because the smaller text has many other shingles. Score: the containment.
3. ``shared-numbers``: the same problem with the same numbers: the two number sequences have a
   common subsequence (same order) of at least ``min_numbers`` numbers, or of at least two
   *distinctive* numbers (three or more digits, a decimal, or a code mixing letters and digits
   such as "x1"), *and* the texts share at least ``min_word_overlap`` of the smaller text's
   distinct words. Score: the word overlap.

Lookups go through inverted indexes (rare shingles, number pairs and triples), so twelve
thousand training rows against forty thousand public rows take seconds.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Literal

Reason = Literal["same-text", "shared-ngrams", "shared-numbers"]

SHINGLE_WORDS = 3
# A shingle or number key that more than this many training texts share is a stock phrase: it
# is not used to *find* candidates (each real near-copy shares rarer keys too), only to score.
MAX_POSTINGS = 200
MAX_NUMBERS = 10

_NON_WORD = re.compile(r"[\W_]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CODE = re.compile(r"^[a-z]+\d[a-z0-9]*$")


@dataclass(frozen=True, slots=True)
class TextRef:
    """One text and where it is: ``file`` and 1-based ``line`` (or item number)."""

    file: str
    line: int
    text: str


@dataclass(frozen=True, slots=True)
class NearCopy:
    """An evaluation text that is a near-copy of a training text, and why."""

    train: TextRef
    eval: TextRef
    reason: Reason
    score: float


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
class _Signature:
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


def _is_distinctive(number: str) -> bool:
    return "." in number or len(number) >= 3


def signature(text: str) -> _Signature:
    """What the rules compare of one text."""
    key = overlap_key(text)
    words = key.split()
    numbers = number_sequence(text)
    return _Signature(
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


def _number_keys(numbers: Sequence[str]) -> set[tuple[str, ...]]:
    """Ordered pairs holding a distinctive number, ordered triples holding an informative one."""
    keys: set[tuple[str, ...]] = {
        pair for pair in combinations(numbers, 2) if any(map(_is_distinctive, pair))
    }
    keys.update(t for t in combinations(numbers, 3) if any(map(_is_informative, t)))
    return keys


def word_weights(texts: Iterable[frozenset[str]]) -> dict[str, float]:
    """Inverse document frequency of each word over the given word sets (smoothed)."""
    frequency: Counter[str] = Counter()
    total = 0
    for words in texts:
        frequency.update(words)
        total += 1
    return {word: math.log((total + 1) / (count + 1)) + 1.0 for word, count in frequency.items()}


def _word_similarity(a: _Signature, b: _Signature, weights: Mapping[str, float]) -> float:
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


def _is_informative(number: str) -> bool:
    # Single digits (1, 2, 3 ...) are in every other math problem; a run of them proves nothing.
    return "." in number or len(number) >= 2


def judge_pair(
    train: _Signature, test: _Signature, rules: OverlapRules, weights: Mapping[str, float]
) -> tuple[Reason, float] | None:
    """The first rule a pair of signatures meets, with its score; None if none."""
    if train.key == test.key and train.key:
        return "same-text", 1.0
    shared = len(train.shingles & test.shingles)
    shared_numbers = set(train.numbers) & set(test.numbers)
    numbers_possible = len(shared_numbers) >= 2 and any(map(_is_informative, shared_numbers))
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
        distinctive = sum(map(_is_distinctive, common)) + len(train.codes & test.codes)
        enough = len(common) >= rules.min_numbers or (len(common) >= 2 and distinctive >= 2)
        if (
            enough
            and any(map(_is_informative, common))
            and len(common) >= rules.min_number_share * longest
        ):
            return "shared-numbers", round(len(common) / longest, 3)
    return None


@dataclass
class OverlapIndex:
    """Training texts indexed by normalized text, rare shingles and number keys."""

    refs: list[TextRef]
    signatures: list[_Signature]
    weights: Mapping[str, float]
    by_key: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_shingle: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_numbers: dict[tuple[str, ...], list[int]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def build(
        cls,
        train: Sequence[TextRef],
        weights: Mapping[str, float],
        signatures: Sequence[_Signature] | None = None,
    ) -> OverlapIndex:
        """Index every training text; ``weights`` are the word weights of :func:`word_weights`."""
        sigs = list(signatures) if signatures is not None else [signature(r.text) for r in train]
        index = cls(list(train), sigs, weights)
        for position, sig in enumerate(index.signatures):
            index.by_key[sig.key].append(position)
            for shingle in sig.shingles:
                index.by_shingle[shingle].append(position)
            for key in _number_keys(sig.numbers):
                index.by_numbers[key].append(position)
        return index

    def candidates(self, sig: _Signature) -> set[int]:
        """Training positions that could meet a rule with this signature."""
        found: set[int] = set(self.by_key.get(sig.key, ()))
        # A pair meeting the shingle rule shares some rare shingles unless nearly all of its
        # shared shingles are stock phrases; one rare shared shingle is enough to look closer.
        for shingle in sig.shingles:
            postings = self.by_shingle.get(shingle, ())
            if len(postings) <= MAX_POSTINGS:
                found.update(postings)
        for key in _number_keys(sig.numbers):
            postings = self.by_numbers.get(key, ())
            if len(postings) <= MAX_POSTINGS:
                found.update(postings)
        return found

    def matches(self, ref: TextRef, sig: _Signature, rules: OverlapRules) -> list[NearCopy]:
        """Every training text of which ``ref`` (with signature ``sig``) is a near-copy."""
        out: list[NearCopy] = []
        for position in sorted(self.candidates(sig)):
            verdict = judge_pair(self.signatures[position], sig, rules, self.weights)
            if verdict is not None:
                out.append(NearCopy(self.refs[position], ref, verdict[0], verdict[1]))
        return out


def find_near_copies(
    train: Sequence[TextRef],
    evaluation: Sequence[TextRef],
    rules: OverlapRules | None = None,
    step: Callable[[int], None] | None = None,
) -> list[NearCopy]:
    """Every (training, evaluation) pair that is a near-copy, in evaluation order.

    Word weights come from both sides together. ``step`` is called with the number of
    evaluation texts done since its last call (for a progress bar).
    """
    rules = rules or OverlapRules()
    test_signatures = [signature(ref.text) for ref in evaluation]
    train_signatures = [signature(ref.text) for ref in train]
    weights = word_weights(s.words for s in [*train_signatures, *test_signatures])
    index = OverlapIndex.build(train, weights, train_signatures)
    found: list[NearCopy] = []
    for done, (ref, sig) in enumerate(zip(evaluation, test_signatures, strict=True), start=1):
        found.extend(index.matches(ref, sig, rules))
        if step is not None and done % 500 == 0:
            step(500)
    if step is not None and len(evaluation) % 500:
        step(len(evaluation) % 500)
    return found
