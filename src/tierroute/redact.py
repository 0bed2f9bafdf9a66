"""Mask personal data in query text before it reaches the request log.

``redact(text)`` replaces e-mail addresses with ``[EMAIL]``, payment card numbers with ``[CARD]``,
Vietnamese citizen ids (CCCD, 12 digits) with ``[ID]`` and phone numbers with ``[PHONE]``. It errs
on the side of masking: an order number that looks like a phone number is masked too, because a
leaked phone number costs more than a lost digit run.

Phone formats covered: Vietnamese mobiles and landlines (``0901 234 567``, ``0901234567``,
``090-123-4567``, ``+84 901 234 567``, ``84901234567``, ``84-912-345-678``, ``(+84) 912 345 678``,
``(028) 3823 4567``, glued to a word as in ``sdt0912345678``), other international numbers written
with ``+`` and a country code, and North American ``(555) 123-4567`` / ``555-123-4567``. Card
numbers: 13 to 19 digits that pass the Luhn check, grouped by up to two spaces, dots or dashes.
E-mail local parts and domains may be Unicode (``tên.tôi@gmail.com``, ``user@bücher.de``).
Full-width digits and separators (``０９１２``) count like ASCII ones.

Every pattern runs in time linear in the text (issue 8): a pattern may start only where a run of
its characters starts (a one-character look-behind), runs are consumed possessively, and every
repetition that can backtrack is bounded by a small constant. ``tests/unit/test_redact.py`` times
adversarial megabyte inputs; ``benchmarks/redact.py`` prints the figures.
"""

from __future__ import annotations

import re

EMAIL_MASK = "[EMAIL]"
PHONE_MASK = "[PHONE]"
CARD_MASK = "[CARD]"
ID_MASK = "[ID]"

# Full-width forms are typed by Vietnamese, Chinese and Japanese input methods; \d already
# matches full-width digits, literals need their full-width twin.
_SEP = "[ .\\-\u3000\uff0e\uff0d]"  # space, dot, dash (ASCII or full-width)
_PLUS = "[+\uff0b]"
_OPEN = "[(\uff08]"
_CLOSE = "[)\uff09]"

# Local part: starts where a run of its characters starts, taken whole (possessive), so a long
# run without "@" is read once, not once per starting position. At most 10 domain labels.
_LOCAL = r"[\w.%+'\-]"
_LABEL = r"(?>[^\W_](?:[\w\-]{0,61}[^\W_])?)"  # a domain label, Unicode letters included
_TLD = r"(?:xn--[a-z0-9\-]{1,59}|[^\W\d_]{2,63})"
_EMAIL = re.compile(rf"(?<!{_LOCAL}){_LOCAL}++@(?:{_LABEL}\.){{1,10}}{_TLD}(?![\w\-])")

# Every number starts with a digit, "+" or "(" that follows no digit or "+". The pattern opens
# with that character class, so the regex engine skips ahead to candidates in C, then branches
# on the character it took. Each branch repeats a bounded number of times.
_START = r"[\d+(\uff0b\uff08](?<![\d+\uff0b](?s:.))"
_CARD = rf"(?<=\d)(?P<card>(?:{_SEP}{{0,2}}\d){{12,18}})"  # 13-19 digits, Luhn-checked
# CCCD: 12 digits starting with a 0 province code; no Vietnamese phone number is that long.
_CITIZEN_ID = rf"(?<=[0\uff10])(?P<id>(?:{_SEP}?\d){{11}})"
_PHONES = (
    rf"(?<=[0\uff10])\d(?:{_SEP}?\d){{7,10}}",  # 0901 234 567, 028 3823 4567
    rf"(?<=[8\uff18])[4\uff14]{_SEP}?\d(?:{_SEP}?\d){{8,9}}",  # 84901234567, 84-912-345-678
    rf"(?<=\d)\d{{2}}{_SEP}\d{{3}}{_SEP}\d{{4}}",  # 555-123-4567
    rf"(?<={_PLUS})\d{{1,3}}{_SEP}?(?:{_OPEN}\d{{1,4}}{_CLOSE}{_SEP}?)?\d(?:{_SEP}?\d){{5,12}}",  # +84 901 234 567
    rf"(?<={_OPEN}){_PLUS}?\d{{1,4}}{_CLOSE}{_SEP}?\d(?:{_SEP}?\d){{5,10}}",  # (028) 3823 4567, (+84) 912 ...
)
_NUMBER = re.compile(rf"{_START}(?:{'|'.join((_CARD, _CITIZEN_ID, *_PHONES))})(?!\d)")
_ID_OR_PHONE = re.compile(rf"{_START}(?:{'|'.join((_CITIZEN_ID, *_PHONES))})(?!\d)")


# Luhn on ASCII bytes: a digit at an even place from the right counts doubled, digit-summed.
_DOUBLED = bytes(48 + (2 * (b - 48) - 9 * (b > 52)) if 48 <= b <= 57 else b for b in range(256))
_TO_ASCII = str.maketrans(
    {**{chr(0xFF10 + d): str(d) for d in range(10)}, **dict.fromkeys(" .-\u3000\uff0e\uff0d")}
)


def luhn_valid(digits: str) -> bool:
    """Whether the digits (ASCII or full-width, separators ignored) pass the Luhn checksum."""
    raw = digits.translate(_TO_ASCII).encode("ascii", "ignore")
    total = sum(raw[-1::-2]) + sum(raw[-2::-2].translate(_DOUBLED)) - 48 * len(raw)
    return total % 10 == 0


def _mask_id_or_phone(match: re.Match[str]) -> str:
    return PHONE_MASK if match.group("id") is None else ID_MASK


def _mask_number(match: re.Match[str]) -> str:
    if match.group("card") is None:
        return _mask_id_or_phone(match)
    text = match.group()
    # A run that fails the checksum is no card: the citizen-id and phone patterns get it.
    return CARD_MASK if luhn_valid(text) else _ID_OR_PHONE.sub(_mask_id_or_phone, text)


# A character no pattern can match or look at: text on either side of it is redacted alike
# whether the two sides are passed together or apart. Long texts are cut there, so a thread that
# redacts a megabyte lets the event loop's thread run between pieces (one regex call holds the GIL).
_BOUNDARY = re.compile(r"[^\w.%+'\-@ ()\u3000\uff0b\uff08\uff09\uff0e\uff0d]")
PIECE_CHARS = 16_384


def _pieces(text: str) -> list[str]:
    pieces = []
    start = 0
    while len(text) - start > PIECE_CHARS:
        cut = _BOUNDARY.search(text, start + PIECE_CHARS)
        if cut is None:
            break
        pieces.append(text[start : cut.end()])
        start = cut.end()
    pieces.append(text[start:])
    return pieces


def redact(text: str) -> str:
    """``text`` with e-mail addresses, card numbers, citizen ids and phone numbers masked."""
    if len(text) > PIECE_CHARS:
        return "".join(_redact(piece) for piece in _pieces(text))
    return _redact(text)


def _redact(text: str) -> str:
    if "@" in text:
        text = _EMAIL.sub(EMAIL_MASK, text)
    return _NUMBER.sub(_mask_number, text)
