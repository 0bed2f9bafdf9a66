from collections import Counter

from tierroute.data.schema import LabeledRow, normalize_text
from tierroute.data.splits import exclude_texts, split_rows


def rows() -> list[LabeledRow]:
    out = []
    for tier in ("a", "b"):
        for lang in ("en", "vi"):
            out += [LabeledRow(f"{tier} {lang} text {i}", tier, "s", lang) for i in range(40)]
    out.append(LabeledRow("A EN TEXT 1", "a", "s", "en"))  # a normalized duplicate
    return out


def test_split_is_deterministic_stratified_and_leak_free() -> None:
    train, held = split_rows(rows(), 0.25, seed=0)
    again = split_rows(rows(), 0.25, seed=0)
    assert (train, held) == again
    assert Counter((r.tier, r.lang) for r in held) == {
        k: 10 for k in [("a", "en"), ("a", "vi"), ("b", "en"), ("b", "vi")]
    }
    train_keys = {normalize_text(r.text) for r in train}
    assert not train_keys & {normalize_text(r.text) for r in held}
    assert len(train) + len(held) == 160


def test_other_seed_gives_other_split() -> None:
    assert split_rows(rows(), 0.25, seed=0)[1] != split_rows(rows(), 0.25, seed=1)[1]


def test_exclude_texts_uses_normalized_text() -> None:
    banned = [LabeledRow("Đơn Hàng", "a", "s", "vi")]
    kept = exclude_texts(
        [LabeledRow("don hang", "a", "s", "vi"), LabeledRow("other", "a", "s", "en")], banned
    )
    assert [r.text for r in kept] == ["other"]
