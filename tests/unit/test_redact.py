"""redact(): e-mails, phone numbers (Vietnamese and international) and card numbers are masked."""

from __future__ import annotations

import pytest

from tierroute.redact import CARD_MASK, EMAIL_MASK, PHONE_MASK, redact


@pytest.mark.parametrize(
    "email",
    ["an.nguyen@example.com", "support+vip@shop.com.vn", "X_Y-Z@mail.co.uk"],
)
def test_emails_are_masked(email: str) -> None:
    assert redact(f"Contact {email} please") == f"Contact {EMAIL_MASK} please"


@pytest.mark.parametrize(
    "phone",
    [
        "0901 234 567",
        "0901234567",
        "090-123-4567",
        "090.123.4567",
        "+84 901 234 567",
        "+84901234567",
        "+84-90-123-4567",
        "84901234567",
        "(028) 3823 4567",
        "028 3823 4567",
        "+1 (555) 123-4567",
        "(555) 123-4567",
        "555-123-4567",
        "+44 20 7946 0958",
        "09 01 23 45 67",
    ],
)
def test_phone_numbers_are_masked(phone: str) -> None:
    assert redact(f"Call me at {phone}, thanks") == f"Call me at {PHONE_MASK}, thanks"


@pytest.mark.parametrize(
    "card",
    [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111111111111111",
        "378282246310005",
        "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",
    ],
)
def test_card_numbers_are_masked(card: str) -> None:
    assert redact(f"My card {card} was charged") == f"My card {CARD_MASK} was charged"


def test_several_kinds_in_one_text() -> None:
    text = "Email a@b.io, phone 0912 345 678, card 5555 5555 5555 4444."
    assert redact(text) == f"Email {EMAIL_MASK}, phone {PHONE_MASK}, card {CARD_MASK}."


@pytest.mark.parametrize(
    "text",
    [
        "How do I reset my password?",
        "Order shipped in 2024 for 1500 VND",
        "Compare O(n log n) and O(n^2) for n = 100000",
        "version 3.14 of the API, port 8000",
        "",
    ],
)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert redact(text) == text


def test_vietnamese_text_keeps_its_words() -> None:
    text = "Số điện thoại của tôi là 0987 654 321, giao hàng tới Quận 1 nhé"
    assert redact(text) == f"Số điện thoại của tôi là {PHONE_MASK}, giao hàng tới Quận 1 nhé"
