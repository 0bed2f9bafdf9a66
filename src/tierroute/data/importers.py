"""Importers for the public labeled sets, each mapping its rows to tiers by the labeling policy.

The text is read from the path given at run time and never committed. Every row is either
imported or counted under a named reason; nothing disappears silently.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tierroute.data.schema import LabeledRow, normalize_text
from tierroute.exceptions import DataError
from tierroute.text_input import read_utf8, utf8_lines
from tierroute.tiers import CODE_GEN, COMPLEX_REASONING, MODERATE_CONV, SIMPLE_FAQ


@dataclass
class ImportResult:
    """Imported rows and the count of rows left out, by reason."""

    rows: list[LabeledRow]
    skipped: Counter[str] = field(default_factory=Counter)


def _load_json(path: Path) -> Any:
    if not path.is_file():
        raise DataError(f"{path}: no such file (is this the dataset's folder?)")
    try:
        return json.loads(read_utf8(path))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: bad JSON: {exc.msg}") from exc


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise DataError(f"{path}: no such file (is this the dataset's folder?)")
    for number, line in utf8_lines(path):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{number}: bad JSON: {exc.msg}") from exc


def _row(text: str, tier: str, source: str, file: Path, line: int) -> LabeledRow:
    return LabeledRow(
        text=text.strip(), tier=tier, source=source, lang="en", file=str(file), line=line
    )


def _instruction_text(record: dict[str, Any]) -> str:
    instruction = str(record.get("instruction", "")).strip()
    extra = str(record.get("input", "")).strip()
    return f"{instruction}\n\n{extra}" if extra else instruction


# Chat beyond a greeting and translation are open-ended language work (data/README.md rulings).
CLINC150_MODERATE_INTENTS = frozenset(
    {
        "tell_joke",
        "fun_fact",
        "meaning_of_life",
        "what_are_your_hobbies",
        "do_you_have_pets",
        "translate",
    }
)


def clinc150_tier(intent: str) -> str:
    """moderate_conv for small talk beyond a greeting and for translate, else simple_faq."""
    return MODERATE_CONV if intent in CLINC150_MODERATE_INTENTS else SIMPLE_FAQ


def import_clinc150(path: Path, splits: Collection[str] | None = None) -> ImportResult:
    """CLINC150: in-scope intents -> simple_faq, small talk and translate -> moderate_conv.

    ``oos`` rows are heterogeneous open questions and are left out (counted as skipped).
    ``splits`` keeps only those splits (e.g. ``{"test"}``); all by default.
    """
    file = path / "data_full.json"
    data = _load_json(file)
    result = ImportResult(rows=[])
    line = 0
    for split in sorted(data):
        for text, intent in data[split]:
            line += 1
            if splits is not None and split not in splits:
                continue
            if intent == "oos" or split.startswith("oos"):
                result.skipped["oos (out-of-scope, no tier)"] += 1
                continue
            result.rows.append(_row(text, clinc150_tier(intent), "clinc150", file, line))
    return result


def clinc150_oos_texts(path: Path) -> list[tuple[int, str]]:
    """(item number, text) of CLINC150's out-of-scope rows: public text without a tier."""
    data = _load_json(path / "data_full.json")
    numbered = (item for split in sorted(data) for item in data[split])
    return [
        (line, text) for line, (text, intent) in enumerate(numbered, start=1) if intent == "oos"
    ]


def import_gsm8k(path: Path) -> ImportResult:
    """GSM8K: multi-step arithmetic word problems -> complex_reasoning (question only)."""
    file = path / "train.jsonl"
    return ImportResult(
        rows=[_row(r["question"], COMPLEX_REASONING, "gsm8k", file, n) for n, r in _jsonl(file)]
    )


def import_gpteacher(path: Path) -> ImportResult:
    """GPTeacher: Codegen -> code_gen, Roleplay -> moderate_conv (instruction + input)."""
    parts = (
        ("Codegen/codegen-instruct.json", CODE_GEN, "gpteacher-codegen"),
        (
            "Roleplay/roleplay-simple-deduped-roleplay-instruct.json",
            MODERATE_CONV,
            "gpteacher-roleplay",
        ),
    )
    result = ImportResult(rows=[])
    for relative, tier, source in parts:
        file = path / relative
        for index, record in enumerate(_load_json(file), start=1):
            result.rows.append(_row(_instruction_text(record), tier, source, file, index))
    return result


def import_code_alpaca(path: Path) -> ImportResult:
    """Code Alpaca (2k sample): instruction (+ input) -> code_gen. Data licence: CC BY-NC 4.0."""
    file = path / "code_alpaca_2k.json"
    return ImportResult(
        rows=[
            _row(_instruction_text(r), CODE_GEN, "code_alpaca", file, i)
            for i, r in enumerate(_load_json(file), start=1)
        ]
    )


_DOLLY_QUERY = re.compile(r"^### Human: (.*?) ### Assistant: ", re.DOTALL)
# A short question asking for one fact (who/when/where/which/how many ...) is simple_faq by the
# policy ("short factual questions"); anything asking to explain, advise or discuss stays
# moderate_conv, as the dataset's own category suggests.
_FACTOID_START = re.compile(
    r"^(who|whom|whose|when|where|which|in (what|which)|name the|"
    r"how (many|much|old|tall|long|far|big|fast|deep|high|large|heavy)|"
    r"what (year|country|city|state|color|colour|language|time|day|date|type|kind|percentage)|"
    r"what('s| is| was| are| were| does .{1,40} stand for)|"
    r"(is|are|was|were|did|does|has|have) )",
    re.IGNORECASE,
)
_FACTOID_ANYWHERE = re.compile(
    r"\b(which|who|whom|when|where|in what year)\b|\bmean\??$", re.IGNORECASE
)
# "What film won ...", "What singer was born ...": "what" + a noun (not a verb) + a fact verb.
_WHAT_NOUN = re.compile(
    r"^(in [^,?]{1,40},? )?what (?!(is|are|was|were|do|does|did|can|could|should|would|will|"
    r"happens?|happened|makes?|made|causes?|caused|if|about|things?)\b)[\w'-]+( [\w'-]+){0,2} "
    r"(is|are|was|were|did|does|do|has|had|won|wins|built|invented|wrote|created|founded|"
    r"played|plays|became|hosted|starred|stands?|moves?|means?|uses?|lives?|belongs?|holds?|leads?)\b",
    re.IGNORECASE,
)
# A statement to complete: "The capital of Peru is", "Tomb of Sand was translated ... by".
_FILL_IN = re.compile(r"^[^?]*\b(is|was|were|are|by|in|at|of|on|to|from|as|called)\s*[.:_-]*$")
# Words that make a question open-ended: an explanation, advice, a list or an opinion
# ("best known for" and "best picture" name a fact, not an opinion).
_OPEN_WORDS = re.compile(
    r"\b(why|explain|describe|tell me|how (do|does|did|can|could|should|would|to|is|are)|"
    r"opinion|think|feel|best(?! (known|picture|actor|actress|director|selling))|better|worst|"
    r"should|tips|advice|recommend|suggest|ideas|ways|"
    r"difference|differences|compare|versus|vs|pros|cons|benefits|advantages|disadvantages|"
    r"some|examples|list|important|good|bad|ethical|meaning of|history of|know about|"
    r"like to|summar|write|imagine|a few|several|effective|popular|need)\b|\babout\W*$",
    re.IGNORECASE,
)
DOLLY_FACTOID_MAX_CHARS = 100


def dolly_tier(question: str) -> str:
    """simple_faq for a short single-fact question, else moderate_conv."""
    short = len(question) <= DOLLY_FACTOID_MAX_CHARS and question.count("?") <= 1
    question = question.strip()
    factoid = (
        _FACTOID_START.search(question)
        or _FACTOID_ANYWHERE.search(question)
        or _WHAT_NOUN.search(question)
        or _FILL_IN.search(question)
    )
    if short and factoid and not _OPEN_WORDS.search(question):
        return SIMPLE_FAQ
    return MODERATE_CONV


def import_dolly_open_qa(path: Path) -> ImportResult:
    """Dolly 15k open_qa: open questions -> moderate_conv, short single-fact ones -> simple_faq."""
    file = path / "chinkara-open_qa.jsonl"
    result = ImportResult(rows=[])
    for number, record in _jsonl(file):
        match = _DOLLY_QUERY.match(str(record.get("text", "")))
        if match is None:
            result.skipped["no '### Human: ... ### Assistant:' query"] += 1
            continue
        question = match.group(1).strip()
        result.rows.append(_row(question, dolly_tier(question), "dolly_open_qa", file, number))
    return result


IMPORTERS: dict[str, Callable[[Path], ImportResult]] = {
    "clinc150": import_clinc150,
    "gsm8k": import_gsm8k,
    "gpteacher": import_gpteacher,
    "code_alpaca": import_code_alpaca,
    "dolly_open_qa": import_dolly_open_qa,
}


def _sample_key(row: LabeledRow) -> str:
    return hashlib.sha256(normalize_text(row.text).encode()).hexdigest()


def unique_texts(
    rows: list[LabeledRow], skipped: Counter[str], *, by_source: bool = False
) -> list[LabeledRow]:
    """Each normalized text once; duplicates and texts seen under two tiers are counted and dropped.

    ``by_source`` names the row's source in each count (rows of several sets in one call).
    """
    by_key: dict[str, LabeledRow] = {}
    seen: Counter[str] = Counter()
    conflicted: set[str] = set()
    for row in rows:
        where = f" ({row.source})" if by_source else ""
        if not row.text:
            skipped["empty text" + where] += 1
            continue
        key = normalize_text(row.text)
        seen[key] += 1
        earlier = by_key.get(key)
        if earlier is None:
            by_key[key] = row
        elif earlier.tier != row.tier:
            conflicted.add(key)
        else:
            skipped["duplicate text" + where] += 1
    for key in conflicted:
        row = by_key.pop(key)
        where = f" ({row.source})" if by_source else ""
        # Every row with that text is dropped: no tier can be trusted for it.
        skipped["same text with two tiers" + where] += seen[key]
    return list(by_key.values())


def import_dataset(name: str, path: Path, limit: int | None = None) -> ImportResult:
    """Rows of one public dataset, de-duplicated, optionally a deterministic sample per tier.

    A text that appears with two tiers (e.g. CLINC small talk also in Dolly) is dropped and
    counted, as is every duplicate.
    """
    importer = IMPORTERS.get(name)
    if importer is None:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(sorted(IMPORTERS))}")
    if not path.is_dir():
        raise DataError(f"{path}: not a directory")
    result = importer(path)
    rows = unique_texts(result.rows, result.skipped)
    if limit is not None:
        kept: list[LabeledRow] = []
        for tier in sorted({r.tier for r in rows}):
            tier_rows = sorted((r for r in rows if r.tier == tier), key=_sample_key)
            kept.extend(tier_rows[:limit])
            if len(tier_rows) > limit:
                result.skipped[f"over --limit {limit} ({tier})"] += len(tier_rows) - limit
        rows = kept
    result.rows = rows
    return result
