"""The Bayesian signed-rank test (Benavoli et al. 2017) over per-dataset scores."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("baycomp", reason="the Bayesian comparison needs baycomp (wce-ref[suites])")

from wce_ref._validation import WCEInputError  # noqa: E402
from wce_ref.compare.analysis._bayes import DEFAULT_ROPE, KEY_PAIRS, bayes_signed_rank, compare_pairs, verdict  # noqa: E402

N = 2_000  # posterior draws: enough for probabilities near 0 or 1, cheap on two cores


@pytest.fixture
def scores():
    rng = np.random.default_rng(0)
    return rng.uniform(0.55, 0.95, 25)


def test_identical_scores_are_practically_equivalent(scores):
    r = bayes_signed_rank(scores, scores.copy(), names=("a", "b"), nsamples=N)
    assert r.p_rope == pytest.approx(1.0)
    assert r.p_left == r.p_right == 0.0
    assert r.verdict == "practically equivalent"
    assert r.rope == DEFAULT_ROPE and r.n_datasets == 25 and r.mean_diff == 0.0


def test_differences_inside_the_rope_are_equivalent_and_outside_are_not(scores):
    rng = np.random.default_rng(1)
    small = scores + rng.uniform(-0.004, 0.004, scores.size)
    assert bayes_signed_rank(small, scores, nsamples=N).p_rope > 0.95
    # the same differences are decisive when the ROPE is narrower than them
    shifted = scores + 0.004
    assert bayes_signed_rank(shifted, scores, rope=0.001, nsamples=N).p_left > 0.95
    assert bayes_signed_rank(shifted, scores, rope=0.01, nsamples=N).p_rope > 0.95


def test_a_clear_consistent_difference_is_detected(scores):
    rng = np.random.default_rng(2)
    better = scores + 0.05 + rng.normal(0, 0.01, scores.size)
    r = bayes_signed_rank(better, scores, names=("wce_balanced", "baseline"), nsamples=N)
    assert r.p_left > 0.99 and r.p_right < 0.01
    assert r.verdict == "wce_balanced better"
    assert r.mean_diff == pytest.approx(np.mean(better - scores))
    assert bayes_signed_rank(scores, better, nsamples=N).p_right > 0.99


def test_swapping_the_sides_swaps_the_probabilities(scores):
    rng = np.random.default_rng(3)
    other = scores + rng.normal(0.005, 0.03, scores.size)  # a mixed picture: no region near 1
    ab = bayes_signed_rank(scores, other, names=("a", "b"), nsamples=N, seed=7)
    ba = bayes_signed_rank(other, scores, names=("b", "a"), nsamples=N, seed=7)
    assert 0.02 < max(ab.p_left, ab.p_right) < 0.98
    assert (ab.p_left, ab.p_rope, ab.p_right) == pytest.approx((ba.p_right, ba.p_rope, ba.p_left))
    assert ab.mean_diff == pytest.approx(-ba.mean_diff)
    assert sum((ab.p_left, ab.p_rope, ab.p_right)) == pytest.approx(1.0)


def test_seeded_reproducibility(scores):
    rng = np.random.default_rng(4)
    other = scores + rng.normal(0.0, 0.03, scores.size)
    first = bayes_signed_rank(scores, other, nsamples=N, seed=11)
    assert bayes_signed_rank(scores, other, nsamples=N, seed=11) == first
    others = {bayes_signed_rank(scores, other, nsamples=N, seed=s).p_left for s in range(12, 16)}
    assert len(others | {first.p_left}) > 1  # the seed drives the draws


def test_series_are_aligned_on_their_datasets():
    pd = pytest.importorskip("pandas")
    a = pd.Series([0.9, 0.8, 0.7, 0.6], index=["d1", "d2", "d3", "d4"])
    b = pd.Series([0.6, 0.7, 0.8, 0.9], index=["d4", "d3", "d2", "d1"])  # the same scores, other order
    assert bayes_signed_rank(a, b, nsamples=N).p_rope == pytest.approx(1.0)
    with pytest.raises(WCEInputError, match=r"different datasets; only on one side: \['d4', 'd5'\]"):
        bayes_signed_rank(a, b.rename({"d4": "d5"}), nsamples=N)


@pytest.mark.parametrize(
    ("left", "right", "kw", "message"),
    [
        ([0.1, 0.2, 0.3], [0.1, 0.2], {}, r"left, right: one score per dataset on each side; got 3 and 2"),
        (
            [0.1, np.nan, 0.3],
            [0.1, 0.2, 0.3],
            {},
            r"left: 1 of 3 per-dataset scores are NaN or infinite \(first at "
            r"position 1\)",
        ),
        ([0.1, 0.2, 0.3], [0.1, 0.2, np.inf], {}, r"right: 1 of 3 .* NaN or infinite"),
        ([[0.1, 0.2]], [[0.1, 0.2]], {}, r"left: expected one score per dataset \(1-D\), got shape \(1, 2\)"),
        (["a", "b"], [0.1, 0.2], {}, r"left: expected per-dataset scores \(numbers\), got list"),
        ([0.5], [0.4], {}, r"at least 2 datasets, got 1"),
        ([0.1, 0.2], [0.1, 0.3], {"rope": -0.1}, r"rope: expected a finite half-width >= 0 .* got -0.1"),
        ([0.1, 0.2], [0.1, 0.3], {"seed": -1}, r"seed: expected a whole number in \[0, 2\*\*32\), got -1"),
        ([0.1, 0.2], [0.1, 0.3], {"nsamples": 10}, r"nsamples: .* >= 100, got 10"),
        ([0.1, 0.2], [0.1, 0.3], {"names": "ab"}, r"names: expected the two methods' names, got 'ab'"),
    ],
)
def test_bad_input_is_named(left, right, kw, message):
    with pytest.raises(WCEInputError, match=message):
        bayes_signed_rank(left, right, **kw)


def test_verdict_states_the_region_or_undecided():
    assert verdict(0.96, 0.03, 0.01, ("a", "b"), decide=0.95) == "a better"
    assert verdict(0.01, 0.02, 0.97, ("a", "b"), decide=0.95) == "b better"
    assert verdict(0.6, 0.3, 0.1, ("a", "b"), decide=0.95) == "undecided (most probable: a better, 0.60)"


def test_compare_pairs_over_a_datasets_by_methods_table():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(5)
    base = rng.uniform(0.5, 0.9, 12)
    wide = pd.DataFrame(
        {"baseline": base, "wce_balanced": base + 0.06, "smote": base + 0.06, "rus": base + 0.1},
        index=[f"d{i}" for i in range(12)],
    )
    wide.loc["d0", "smote"] = np.nan  # a failed cell: that dataset leaves only the smote pair
    table = compare_pairs(wide, nsamples=N)
    assert list(table["right"]) == ["baseline", "smote", "rus"]  # baseline@tuned is not in the table
    assert ("wce_balanced", "baseline@tuned") in KEY_PAIRS
    by = table.set_index("right")
    assert by.loc["baseline", "verdict"] == "wce_balanced better"
    assert by.loc["smote", "verdict"] == "practically equivalent" and by.loc["smote", "n_datasets"] == 11
    assert by.loc["rus", "verdict"] == "rus better"
