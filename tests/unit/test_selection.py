"""Grouped cross-validation and the out-of-group calibration it feeds."""

import numpy as np

from tests.conftest import sample_rows
from tierroute.classifier.pipeline import fit_temperature
from tierroute.classifier.selection import Candidate, best_of, group_folds, out_of_group

LABELS = ["a", "b", "c"] * 20


def test_folds_hold_out_whole_sources() -> None:
    groups = [f"s{i % 4}" for i in range(len(LABELS))]
    folds, how = group_folds(LABELS, groups, max_folds=6, seed=0)
    assert len(folds) == 4 and "leave-one-source-out over 4 sources" in how
    for train, test in folds:
        held = {groups[i] for i in test}
        assert len(held) == 1 and not held & {groups[i] for i in train}
    folds, how = group_folds(LABELS, groups, max_folds=3, seed=0)
    assert len(folds) == 3 and how.startswith("GroupKFold(3)")
    for train, test in folds:
        assert not {groups[i] for i in test} & {groups[i] for i in train}


def test_few_sources_fall_back_to_random_folds_and_say_so() -> None:
    folds, how = group_folds(LABELS, ["x"] * len(LABELS), max_folds=3, seed=0)
    assert len(folds) == 3 and "random stratified" in how


def test_folds_missing_a_tier_in_training_are_dropped() -> None:
    labels = ["a"] * 10 + ["b"] * 10 + ["c"] * 10 + ["c"] * 5
    groups = ["g1"] * 10 + ["g2"] * 10 + ["g3"] * 10 + ["g4"] * 5
    folds, how = group_folds(labels, groups, max_folds=6, seed=0)
    assert len(folds) == 2 and "2 fold(s) dropped" in how  # leaving out g1 or g2 loses a tier


def test_out_of_group_scores_every_source_and_picks_the_best_mean() -> None:
    rows = sample_rows(40)
    texts, labels, groups = (
        [r.text for r in rows],
        [r.tier for r in rows],
        [r.source for r in rows],
    )
    folds, _ = group_folds(labels, groups, max_folds=6, seed=0)
    results = out_of_group(
        [Candidate(10.0, True), Candidate(10.0, False)], texts, labels, groups, folds, n_jobs=1
    )
    covered_groups = {groups[i] for _, test in folds for i in test}
    for result in results:
        assert set(result.group_f1) == covered_groups
        assert result.logits.shape == (len(rows), 4)
        assert ((result.oov > 0) & (result.oov <= 1))[result.covered].all()
    best = best_of(results)
    assert best.score == max(r.score for r in results)


def test_temperature_learns_to_flatten_unfamiliar_text() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    y = rng.integers(0, 3, n)
    oov = rng.uniform(0, 1, n)
    logits = rng.normal(0, 0.3, (n, 3))
    # Familiar text: the logits point to the truth; unfamiliar: just as confident, but random.
    right = rng.uniform(0, 1, n) > oov
    target = np.where(right, y, rng.integers(0, 3, n))
    logits[np.arange(n), target] += 4.0
    beta, gamma = fit_temperature(logits, y, oov)
    assert gamma > 1.0
    plain_beta, no_gamma = fit_temperature(logits, y)
    assert no_gamma == 0.0 and plain_beta < beta
    # No link between unseen share and errors: (almost) no term.
    _, gamma = fit_temperature(logits, y, rng.uniform(0, 1, n))
    assert gamma < 0.3
