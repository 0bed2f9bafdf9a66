import unicodedata

from tierroute.classifier.features import char_ngrams, word_ngrams
from tierroute.textfold import HEAD_CHARS, TAIL_CHARS, fold


def test_fold_strips_vietnamese_diacritics_and_case() -> None:
    assert fold("Đơn HÀNG của tôi   đang ở đâu?") == "don hang cua toi dang o dau?"


def test_fold_treats_decomposed_and_composed_text_alike() -> None:
    text = "Sản phẩm này còn hàng không ạ"
    assert fold(unicodedata.normalize("NFD", text)) == fold(text) == "san pham nay con hang khong a"


def test_fold_keeps_head_and_tail_of_long_text() -> None:
    text = "start " + "x" * 2000 + " so where is my package"
    folded = fold(text)
    assert folded.startswith("start ")
    assert folded.endswith("so where is my package")
    assert len(folded) <= HEAD_CHARS + TAIL_CHARS + 1


def test_word_ngrams_have_bigrams_code_symbols_and_shape_tokens() -> None:
    grams = word_ngrams("def foo(): return x => y")
    assert "def" in grams and "def foo" in grams
    assert "():" in grams and "=>" in grams
    assert any(g.startswith("__len") for g in grams)
    assert "__lines0" in grams


def test_shape_tokens_count_lines() -> None:
    assert "__lines3" in word_ngrams("a\nb\nc\nd\ne")
    assert "__lines8" in word_ngrams("\n".join("abcdefghij"))


def test_char_ngrams_stay_inside_words() -> None:
    grams = char_ngrams("abc de")
    assert grams == [" abc", "abc ", " de "]
    assert all("  " not in g for g in char_ngrams("hello big world"))
