"""Near-duplicate detection between training texts and evaluation texts (pure functions).

The rules are in :mod:`tierroute.data.overlap_rules`. Lookups go through inverted indexes
(normalized text, rare shingles, number pairs and triples), so twelve thousand training rows
against forty thousand public rows take seconds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from tierroute.data.overlap_rules import (
    OverlapRules,
    Reason,
    Signature,
    is_distinctive,
    is_informative,
    judge_pair,
    signature,
    word_weights,
)

# A shingle or number key that more than this many training texts share is a stock phrase: it
# is not used to *find* candidates (each real near-copy shares rarer keys too), only to score.
MAX_POSTINGS = 200


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


def _number_keys(numbers: Sequence[str]) -> set[tuple[str, ...]]:
    """Ordered pairs holding a distinctive number, ordered triples holding an informative one."""
    keys: set[tuple[str, ...]] = {
        pair for pair in combinations(numbers, 2) if any(map(is_distinctive, pair))
    }
    keys.update(t for t in combinations(numbers, 3) if any(map(is_informative, t)))
    return keys


@dataclass
class OverlapIndex:
    """Training texts indexed by normalized text, rare shingles and number keys."""

    refs: list[TextRef]
    signatures: list[Signature]
    weights: Mapping[str, float]
    by_key: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_shingle: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_numbers: dict[tuple[str, ...], list[int]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def build(
        cls,
        train: Sequence[TextRef],
        weights: Mapping[str, float],
        signatures: Sequence[Signature] | None = None,
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

    def candidates(self, sig: Signature) -> set[int]:
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

    def matches(self, ref: TextRef, sig: Signature, rules: OverlapRules) -> list[NearCopy]:
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
