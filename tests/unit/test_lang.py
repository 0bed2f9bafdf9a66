"""guess_lang: short English is English; Vietnamese without diacritics or in teen-code is not."""

import pytest

from tierroute.data.schema import guess_lang

ENGLISH = [
    "the cat sat on the mat",
    "Write a short poem about the sea",
    "where is my order",
    "hi",
    "thanks!",
    "What is the capital of Vietnam?",
    "tell me a joke",
    "Can I pay by card?",
    "Play some jazz",
    "set an alarm for 6 am",
    "how do I reset my password",
    "Explain recursion like I'm five",
    "Translate 'good morning' to Vietnamese",
    "Is the shop open on Sunday?",
    "Write a Python function that reverses a list",
    "The man and the dog went to the park",
    "Do you ship to Da Nang?",
    "a cup of tea, please",
    "Give me three ideas for a birthday party",
    "what time does the store in Thu Duc close",
    "Can you help me with my homework?",
    "My card was charged twice, what should I do?",
    "The bill is 450k, split between 3 people",
]

VIETNAMESE = [
    "shop oi don hang cua em giao toi dau roi",
    "ko bik lam sao de doi mk",
    "Cho mình hỏi phí ship",
    "cho minh hoi phi ship bao nhieu",
    "ad oi cho e hoi",
    "don hang cua toi chua giao",
    "lam sao de doi mat khau",
    "toi muon huy don",
    "giup minh viet ham python dao nguoc chuoi",
    "bao nhieu tien vay shop",
    "sao chua thay giao hang z",
    "mk quen mat khau roi",
    "e muon doi size duoc ko",
    "cam on shop nhe",
    "xin chao",
    "ban co biet gi ve lich su viet nam ko",
    "tinh giup em 15% cua 80 nghin",
    "hom nay thu may vay",
    "dc ko shop",
    "chi oi don cua em bi huy roi",
    "Đơn hàng của tôi đâu rồi?",
    "viet giup minh mot bai tho ve bien",
]


@pytest.mark.parametrize("text", ENGLISH)
def test_english(text: str) -> None:
    assert guess_lang(text) == "en"


@pytest.mark.parametrize("text", VIETNAMESE)
def test_vietnamese(text: str) -> None:
    assert guess_lang(text) == "vi"
