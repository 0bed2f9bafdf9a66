"""Each near-copy rule flags what it should and leaves texts that only share a stock phrase."""

import pytest

from tierroute.data.overlap import TextRef, find_near_copies
from tierroute.data.overlap_rules import OverlapRules, number_sequence, overlap_key

# (training text, evaluation text, expected reason or None). Written for this test.
CASES = [
    # rule 1: equal up to case, diacritics, punctuation and spacing
    ("Thanks, that fixed it!", "thanks that fixed it", "same-text"),
    ("Đơn hàng của tôi đâu rồi?", "don hang cua toi dau roi", "same-text"),
    ("Solve: 3x + 2 = 17", "solve 3x 2 17", "same-text"),
    # rule 2: the same item reworded, keeping long runs of words
    (
        "convert this jquery to plain js: $('.tab').on('click', function(){ $(this).addClass('on') })",
        "Please convert this jQuery to plain JavaScript: "
        "$('.tab').on('click', function(){ $(this).addClass('on'); });",
        "shared-ngrams",
    ),
    (
        "What is the remainder when 3^1001 is divided by 7?",
        "find the remainder when 3^1001 is divided by 7",
        "shared-ngrams",
    ),
    (
        "viet regex kiem tra bien so xe may dang 51-F2 678.90",
        "Viết regex kiểm tra biển số xe máy dạng 51-F2 678.90 giúp mình",
        "shared-ngrams",
    ),
    # rule 3: the same problem with the same numbers, worded differently
    (
        "Lan has 48 stickers, gives 15 to Minh and buys 27 more. How many does she have?",
        "Lan starts with 48 stickers; after 15 go to Minh she buys another 27. How many now?",
        "shared-numbers",
    ),
    (
        "A tank holds 1250 litres and leaks 3.75 litres an hour; when is it half empty?",
        "The tank (1250 litres) loses 3.75 litres each hour. After how long is it half empty?",
        "shared-numbers",
    ),
    # short generic asks: only an equal text is a copy
    ("where is my order", "where is my order #123?", None),
    ("how many players are on a volleyball team", "how many players are on a polo team", None),
    # a shared stock phrase inside otherwise different texts
    (
        "Can you help me write a cover letter for a junior accountant job at a logistics firm?",
        "Can you help me write a bash script that backs up my photos folder every night?",
        None,
    ),
    (
        "What are the pros and cons of renting versus buying a flat in Da Nang?",
        "What are the pros and cons of using Kafka instead of RabbitMQ for our order events?",
        None,
    ),
    # the same template with other numbers is another problem
    (
        "A train leaves at 14:05 at 60 km/h; a second leaves at 15:20 at 90 km/h. When does it catch up?",
        "A train leaves at 08:10 at 45 km/h; a second leaves at 09:00 at 75 km/h. When does it catch up?",
        None,
    ),
    # the same small numbers in unrelated problems
    (
        "Roll 2 dice 3 times; what is the chance of at least 1 double?",
        "Sort the list [2, 3, 1] in Python without using sorted()",
        None,
    ),
]


# Unrelated texts around the pair, so that word weights are those of a real collection (common
# words like "the" and "is" weigh little), not of a two-text one.
BACKGROUND = [
    "What is the capital of Peru and when is the best time to visit it?",
    "How do I reset the password of my account on the app?",
    "Write a haiku about the rain in the city at night.",
    "Is it true that the shop is closed on Sunday and each holiday?",
    "Explain how a hash map works and when it is a poor choice.",
    "My parcel is late, how long does delivery to the north take?",
    "Tell me a fun fact about octopuses and the sea.",
    "After the meeting, how should I reply to an angry client email?",
]


@pytest.mark.parametrize(("train", "evaluation", "expected"), CASES)
def test_rules_flag_copies_and_only_copies(
    train: str, evaluation: str, expected: str | None
) -> None:
    background = [TextRef("bg.jsonl", n, t) for n, t in enumerate(BACKGROUND, start=2)]
    found = find_near_copies(
        [TextRef("t.jsonl", 1, train), *background], [TextRef("e.jsonl", 1, evaluation)]
    )
    assert [c.reason for c in found] == ([expected] if expected else [])
    if found:
        assert found[0].train.line == 1 and 0 < found[0].score <= 1


def test_overlap_key_folds_case_diacritics_and_punctuation() -> None:
    assert overlap_key("  Đặt HÀNG, giúp   mình!! ") == "dat hang giup minh"
    assert overlap_key("...") == ""


def test_number_sequence_keeps_order_and_reads_separators() -> None:
    assert number_sequence("pay 1,200 then 3.5 then 2.000.000 and 7") == (
        "1200",
        "3.5",
        "2000000",
        "7",
    )


def test_every_pair_is_reported_with_its_references() -> None:
    train = [TextRef("a.jsonl", 3, "good morning"), TextRef("b.jsonl", 9, "Good morning!")]
    evaluation = [TextRef("e.jsonl", 5, "good morning."), TextRef("e.jsonl", 6, "good night")]
    found = find_near_copies(train, evaluation)
    assert {(c.train.file, c.train.line, c.eval.line) for c in found} == {
        ("a.jsonl", 3, 5),
        ("b.jsonl", 9, 5),
    }


def test_rules_are_adjustable() -> None:
    pair = (
        [TextRef("t", 1, "where is my order right now please")],
        [TextRef("e", 1, "where is my order right now")],
    )
    assert find_near_copies(*pair)
    assert not find_near_copies(*pair, rules=OverlapRules(min_short_ngram_similarity=0.99))


def test_progress_steps_add_up() -> None:
    steps: list[int] = []
    evaluation = [TextRef("e", i, f"text number {i}") for i in range(1203)]
    find_near_copies([TextRef("t", 1, "unrelated")], evaluation, step=steps.append)
    assert sum(steps) == 1203
