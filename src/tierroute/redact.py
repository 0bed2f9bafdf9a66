"""Mask personal data in query text before it reaches the request log.

``redact(text)`` replaces e-mail addresses with ``[EMAIL]``, payment card numbers with ``[CARD]``
and phone numbers with ``[PHONE]``. It errs on the side of masking: an order number that looks
like a phone number is masked too, because a leaked phone number costs more than a lost digit run.

Phone formats covered: Vietnamese mobiles and landlines (``0901 234 567``, ``0901234567``,
``090-123-4567``, ``+84 901 234 567``, ``84901234567``, ``(028) 3823 4567``), other international
numbers written with ``+`` and a country code, and North American ``(555) 123-4567`` /
``555-123-4567``. Card numbers: 13 to 19 digits, optionally grouped by single spaces or dashes.
"""

from __future__ import annotations

import re

EMAIL_MASK = "[EMAIL]"
PHONE_MASK = "[PHONE]"
CARD_MASK = "[CARD]"

# Every pattern below needs 7+ digits with at most two other characters between them.
_DIGITS = re.compile(r"\d(?:\D{0,2}\d){6}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Cards run first: a 16-digit card would otherwise be eaten as two phone numbers.
_CARD = re.compile(r"(?<![\d+])\d(?:[ -]?\d){12,18}(?!\d)")
_PHONE = re.compile(
    r"""
    (?<![\w+])
    (?:
        \+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d(?:[ .-]?\d){5,12}   # +84 901 234 567, +1 (555) ...
      | \(\d{2,4}\)[ .-]?\d(?:[ .-]?\d){5,9}                        # (028) 3823 4567
      | 0\d(?:[ .-]?\d){7,10}                                       # 0901 234 567, 028 3823 4567
      | 84\d{9,10}                                                  # 84901234567
      | \d{3}[ .-]\d{3}[ .-]\d{4}                                   # 555-123-4567
    )
    (?!\w)
    """,
    re.VERBOSE,
)


def redact(text: str) -> str:
    """``text`` with e-mail addresses, card numbers and phone numbers masked."""
    if "@" in text:
        text = _EMAIL.sub(EMAIL_MASK, text)
    # Most queries hold no such digit run: they skip two regex passes.
    if _DIGITS.search(text) is None:
        return text
    text = _CARD.sub(CARD_MASK, text)
    return _PHONE.sub(PHONE_MASK, text)
