import numpy as np
import pytest

from tierroute.classifier.heuristic import KeywordHeuristic, heuristic_tier


@pytest.mark.parametrize(
    "text",
    [
        "write a function",
        "fix my code",
        "PYTHON list",
        "javascript promise",
        "rest api design",
        "a class for users",
        "def foo",
        "import numpy",
        "x => x + 1",
        "call f()",
    ],
)
def test_rule1_code_keywords(text: str) -> None:
    assert heuristic_tier(text) == "code_gen"


@pytest.mark.parametrize(
    "text",
    [
        "analyze this",
        "compare the two",
        "our strategy",
        "evaluate it",
        "go deep into it",
        "be thorough",
        "comprehensive list",
        "detailed steps",
    ],
)
def test_rule2_reasoning_keywords(text: str) -> None:
    assert heuristic_tier(text) == "complex_reasoning"


def test_rule2_long_query_is_complex_even_with_faq_words() -> None:
    assert heuristic_tier("where is my order? " + "x" * 1500) == "complex_reasoning"
    assert heuristic_tier("y" * 1500) == "moderate_conv"  # exactly 1500 is not longer


@pytest.mark.parametrize(
    "text",
    [
        "what is a refund",
        "how to pay",
        "where",
        "when do you open",
        "faq",
        "help",
        "support",
        "ok?",
    ],
)
def test_rule3_short_faq_keywords(text: str) -> None:
    assert heuristic_tier(text) == "simple_faq"


def test_rule3_needs_short_query() -> None:
    assert heuristic_tier("where " + "z" * 200) == "moderate_conv"
    assert heuristic_tier("where " + "z" * 193) == "simple_faq"  # 199 characters


def test_rule_order_code_beats_reasoning_beats_faq() -> None:
    assert heuristic_tier("compare these two python functions?") == "code_gen"
    assert heuristic_tier("what is the best strategy?") == "complex_reasoning"


def test_rule4_default_moderate() -> None:
    assert heuristic_tier("tell me a story about a dragon") == "moderate_conv"


def test_writeup_example() -> None:
    assert heuristic_tier("How do I reset my password?") == "simple_faq"


def test_estimator_interface() -> None:
    est = KeywordHeuristic()
    assert est.fit(["x"]) is est
    proba = est.predict_proba(["def f()", "hello?"])
    assert proba.shape == (2, 4)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert list(est.classes_[proba.argmax(axis=1)]) == ["code_gen", "simple_faq"]
