"""One rule for repeated labeled texts: first kept, same tier a duplicate, two tiers left out."""

from __future__ import annotations

from tierroute.data.first_labels import FirstLabels


def test_repeats_are_counted_and_a_text_labeled_two_ways_is_left_out() -> None:
    seen: FirstLabels[str] = FirstLabels()
    assert seen.add("a", "simple_faq", "a@1") is None
    assert seen.add("b", "code_gen", "b@2") is None
    assert seen.add("a", "simple_faq", "a@3") is None  # the same label again
    assert seen.add("c", "code_gen", "c@4") is None
    assert seen.add("b", "simple_faq", "b@5") == "b@2"  # the conflict names the first
    # After a conflict every repeat is still judged against the first label.
    assert seen.add("b", "code_gen", "b@6") is None
    assert seen.add("b", "moderate_conv", "b@7") == "b@2"
    assert seen.kept() == ["a@1", "c@4"]
    assert seen.duplicates == 2
    assert seen.conflicted == {"b"}
