"""Repeated labeled texts merged one way everywhere: the first label of a key is kept, a repeat
with the same tier is counted as a duplicate, and a key labeled two ways is left out entirely.

Labeled files (``io.read_labeled``), the public pool (``pool.merge_pool``) and label files
(``retraining.label_file``) each key and report rows their own way; the rule is this one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class FirstLabels(Generic[T]):
    """The first item seen for each key with its tier; the keys seen with two tiers."""

    first: dict[str, tuple[str, T]] = field(default_factory=dict)
    conflicted: set[str] = field(default_factory=set)
    duplicates: int = 0

    def add(self, key: str, tier: str, item: T) -> T | None:
        """Record ``item``; the key's first item if that was labeled another tier, else None."""
        earlier = self.first.get(key)
        if earlier is None:
            self.first[key] = (tier, item)
            return None
        if earlier[0] == tier:
            self.duplicates += 1
            return None
        self.conflicted.add(key)
        return earlier[1]

    def kept(self) -> list[T]:
        """The first item of every key never labeled two ways, in the order first seen."""
        return [item for key, (_, item) in self.first.items() if key not in self.conflicted]
