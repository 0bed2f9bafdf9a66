"""The labeled-row schema and its validation rules (pure: no file access here)."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from tierroute.data.lang import guess_lang

__all__ = ["LabeledRow", "check_fields", "guess_lang", "normalize_text"]


@dataclass(frozen=True, slots=True)
class LabeledRow:
    """One labeled query and where it came from."""

    text: str
    tier: str
    source: str
    lang: str
    file: str = ""
    line: int = 0

    def to_json(self) -> dict[str, Any]:
        """The row as written to JSONL (without its file position)."""
        data = asdict(self)
        data.pop("file")
        data.pop("line")
        return data


def normalize_text(text: str) -> str:
    """The key two texts are compared by for duplicates and train/eval leakage.

    Case, diacritics and spacing are ignored ("Đơn hàng" == "don  hang"); unlike the features'
    ``fold`` it keeps the whole text and every script.
    """
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("đ", "d"))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def check_fields(
    record: Mapping[str, Any], allowed_tiers: Collection[str]
) -> list[tuple[str, str]]:
    """Problems with one decoded record as (field, message) pairs; empty when valid."""
    problems: list[tuple[str, str]] = []
    text = record.get("text")
    if not isinstance(text, str):
        problems.append(("text", "missing or not a string"))
    elif not text.strip():
        problems.append(("text", "empty"))
    tier = record.get("tier")
    if not isinstance(tier, str) or not tier:
        problems.append(("tier", "missing or not a string"))
    elif tier not in allowed_tiers:
        problems.append(
            ("tier", f"unknown tier {tier!r} (expected one of {sorted(allowed_tiers)})")
        )
    for optional in ("source", "lang"):
        value = record.get(optional)
        if value is not None and not isinstance(value, str):
            problems.append((optional, "not a string"))
    return problems
