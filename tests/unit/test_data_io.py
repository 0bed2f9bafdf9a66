import json
from pathlib import Path

import pytest

from tierroute.data.io import read_labeled, read_texts
from tierroute.data.schema import guess_lang
from tierroute.exceptions import DataError, ValidationFailed


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def row(text: str, tier: str, **extra: str) -> str:
    return json.dumps({"text": text, "tier": tier, "source": "t", "lang": "en", **extra})


def test_every_bad_row_is_named_by_file_line_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.jsonl",
        [
            row("where is my order", "simple_faq"),
            row("   ", "simple_faq"),
            row("hello", "nonsense_tier"),
            "{not json",
            row("write a poem", "moderate_conv"),
        ],
    )
    with pytest.raises(ValidationFailed) as info:
        read_labeled([path])
    issues = {(i.line, i.field) for i in info.value.issues}
    assert issues == {(2, "text"), (3, "tier"), (4, "row")}
    assert f"{path}:3: tier: unknown tier 'nonsense_tier'" in str(info.value)


def test_skip_invalid_keeps_good_rows_and_reports_the_rest(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", [row("ok one", "simple_faq"), row("", "simple_faq")])
    result = read_labeled([path], skip_invalid=True)
    assert [r.text for r in result.rows] == ["ok one"]
    assert len(result.issues) == 1 and result.issues[0].line == 2


def test_conflicting_labels_across_files_are_errors_on_both(tmp_path: Path) -> None:
    a = write(tmp_path / "a.jsonl", [row("Đơn hàng ở đâu", "simple_faq")])
    b = write(tmp_path / "b.jsonl", [row("don hang o dau", "moderate_conv")])
    with pytest.raises(ValidationFailed) as info:
        read_labeled([a, b])
    assert "a.jsonl:1" in str(info.value)
    result = read_labeled([a, b], skip_invalid=True)
    assert result.rows == []


def test_duplicates_with_same_label_are_merged_and_counted(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.jsonl", [row("Hi there", "simple_faq"), row("hi  THERE", "simple_faq")]
    )
    result = read_labeled([path])
    assert len(result.rows) == 1 and result.duplicates == 1


def test_csv_with_text_and_tier_columns(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text(
        'text,tier\n"where, exactly, is it?",simple_faq\nchao shop oi cho minh hoi,simple_faq\n',
        encoding="utf-8",
    )
    result = read_labeled([path])
    assert [r.text for r in result.rows] == ["where, exactly, is it?", "chao shop oi cho minh hoi"]
    assert [r.lang for r in result.rows] == ["en", "vi"]
    assert result.rows[0].source == "q"


def test_csv_without_tier_column_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text("text,label\nhello,simple_faq\n", encoding="utf-8")
    with pytest.raises(ValidationFailed, match="tier"):
        read_labeled([path])


def test_directory_reads_all_data_files_and_missing_path_fails(tmp_path: Path) -> None:
    write(tmp_path / "a.jsonl", [row("one", "simple_faq")])
    write(tmp_path / "b.jsonl", [row("two", "code_gen")])
    assert len(read_labeled([tmp_path]).rows) == 2
    with pytest.raises(DataError, match="no such file"):
        read_labeled([tmp_path / "missing.jsonl"])


def test_read_texts_requires_text(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", [json.dumps({"text": "a", "id": 1}), json.dumps({"id": 2})])
    with pytest.raises(ValidationFailed, match=r"in.jsonl:2: text"):
        read_texts(path)


def test_guess_lang() -> None:
    assert guess_lang("Cho mình hỏi phí ship") == "vi"
    assert guess_lang("shop oi don hang cua em dau roi") == "vi"
    assert guess_lang("where is my order") == "en"
