"""Class-weight schemes against their published formulas and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import wce_ref

counts_strategy = st.lists(st.integers(1, 500), min_size=2, max_size=8)


def _labels(counts):
    return np.repeat(np.arange(len(counts)), counts)


@given(counts_strategy)
def test_balanced_is_scikit_learns(counts):
    from sklearn.utils.class_weight import compute_class_weight

    y = _labels(counts)
    np.testing.assert_allclose(
        wce_ref.class_weights(y), compute_class_weight("balanced", classes=np.unique(y), y=y), rtol=1e-12
    )


@given(counts_strategy, st.floats(0.5, 0.9999))
def test_formulas(counts, beta):
    y = _labels(counts)
    n = np.array(counts, dtype=float)
    np.testing.assert_allclose(wce_ref.class_weights(y, "inverse"), 1 / n, rtol=1e-12)
    np.testing.assert_allclose(wce_ref.class_weights(y, "inverse_sqrt"), 1 / np.sqrt(n), rtol=1e-12)
    np.testing.assert_allclose(
        wce_ref.class_weights(y, "effective_number", beta=beta), (1 - beta) / (1 - beta**n), rtol=1e-9
    )
    np.testing.assert_allclose(wce_ref.class_weights(y, "enet"), 1 / np.log(1.02 + n / n.sum()), rtol=1e-12)


@given(counts_strategy, st.sampled_from(sorted(wce_ref.SCHEMES)))
def test_normalisation_and_ordering(counts, scheme):
    y = _labels(counts)
    w = wce_ref.class_weights(y, scheme)
    assert np.isclose(wce_ref.class_weights(y, scheme, normalize="sum").sum(), 1.0)
    assert np.isclose(wce_ref.class_weights(y, scheme, normalize="classes").sum(), len(counts))
    # every scheme gives rarer classes at least the weight of more frequent ones
    order = np.argsort(counts, kind="stable")
    assert np.all(np.diff(w[order]) <= 1e-12 * w.max())


def test_effective_number_limits():
    y = _labels([10, 1000])
    np.testing.assert_allclose(wce_ref.class_weights(y, "effective_number", beta=0.0), [1.0, 1.0])
    # beta -> 1 approaches inverse frequency
    w = wce_ref.class_weights(y, "effective_number", beta=1 - 1e-9, normalize="sum")
    np.testing.assert_allclose(w, wce_ref.class_weights(y, "inverse", normalize="sum"), rtol=1e-5)


def test_absent_classes_get_zero_weight_when_n_classes_is_given():
    w = wce_ref.class_weights(np.array([0, 0, 2]), n_classes=4)
    assert w[1] == 0 and w[3] == 0
    np.testing.assert_allclose(w[[0, 2]], 3 / (2 * np.array([2, 1])))  # K counts the classes present


def test_batch_weights_follow_each_batch():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=300)
    for batch in np.array_split(y, 5):
        np.testing.assert_allclose(wce_ref.batch_weights(batch, n_classes=3), wce_ref.class_weights(batch, n_classes=3))


@pytest.mark.parametrize("scheme", sorted(wce_ref.SCHEMES))
def test_sample_weights_match_class_weights(scheme):
    y = _labels([5, 20, 75])
    w = wce_ref.class_weights(y, scheme)
    np.testing.assert_array_equal(wce_ref.sample_weights(y, w), w[y])
