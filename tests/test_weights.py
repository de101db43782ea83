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


def test_a_huge_label_is_rejected_before_counting():
    import tracemalloc

    tracemalloc.start()
    try:
        # a gap below a large label: the error must come before an array as long as the label is allocated
        with pytest.raises(wce_ref.WCEInputError, match=r"labels has no sample of class\(es\) \[2, 3, 4, 5, 6"):
            wce_ref.class_weights(np.array([0, 1, 10**7]))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, f"{peak:,} bytes allocated to reject three labels"
    for labels in (np.array([0, 1, 10**9]), np.array([0, 2**64 - 1], dtype=np.uint64)):
        with pytest.raises(wce_ref.WCEInputError, match=r"labels must be class indices below 16,777,216; received"):
            wce_ref.class_weights(labels)
    with pytest.raises(wce_ref.WCEInputError, match=r"labels must lie in \[0, 3\) for n_classes=3; received label"):
        wce_ref.class_weights(np.array([0, 1, 10**9]), n_classes=3)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"beta": "0.5", "scheme": "effective_number"}, TypeError, r"beta must be a real number .* received str '0.5'"),
        ({"beta": True}, TypeError, "beta must be a real number .* received bool True"),
        ({"beta": 0.5 + 1j}, TypeError, r"beta must be a real number .* received complex"),
        ({"normalize": np.array([1, 2])}, ValueError, r"normalize must be one of .* received ndarray"),
        ({"scheme": ["balanced"]}, ValueError, r"scheme must be one of .* received list \['balanced'\]"),
        ({"n_classes": 2**63}, ValueError, r"n_classes must be an int in \[1, 16,777,216\]; received 922337203685"),
        ({"n_classes": 10**12}, ValueError, r"n_classes must be an int in \[1, 16,777,216\]; received 1000000000000"),
        ({"n_classes": 2.0}, TypeError, "n_classes must be a positive int; received float 2.0"),
        ({"labels": [[0], [1, 2]]}, ValueError, "labels must be a rectangular array of numbers; received a ragged"),
        ({"labels": np.array([0, 1 + 1j])}, TypeError, "labels must be integer class indices; .* complex128"),
        ({"labels": []}, ValueError, "labels is empty"),
    ],  # fmt: skip
)
def test_class_weights_rejects_bad_arguments_by_name(kwargs, error, message):
    args = {"labels": [0, 1, 1], **kwargs}
    with pytest.raises(error, match=message) as info:
        wce_ref.class_weights(args.pop("labels"), **args)
    assert isinstance(info.value, (wce_ref.WCEInputError, wce_ref.WCETypeError))


@pytest.mark.parametrize(
    ("labels", "weights", "error", "message"),
    [
        ([0, 1, 2], [np.nan, -1.0, np.inf], ValueError, "weights must be finite and non-negative; received nan"),
        ([0, 1], [1.0, -2.0], ValueError, r"weights must be finite and non-negative; received -2.0 at index 1"),
        ([0, 1], ["1.5", "2"], TypeError, "weights must be real numbers; received an array of dtype <U3"),
        ([0, 1], ["a", "b"], TypeError, "weights must be real numbers; received an array of dtype <U1"),
        ([0, 1], [1 + 1j, 2], TypeError, "weights must be real numbers; received an array of dtype complex128"),
        ([0, 1], [], ValueError, "weights is empty: it needs one weight per class"),
        ([0, 1], [[1.0], [2.0, 3.0]], ValueError, "weights must be a rectangular array of numbers; received a ragged"),
        ([[0], [1, 2]], [1.0, 2.0], ValueError, "labels must be a rectangular array of numbers; received a ragged"),
        ([0, 5], [1.0, 2.0], ValueError, r"labels must lie in \[0, 2\) to index weights of length 2; received label 5"),
        ([0.0, 1.0], [1.0, 2.0], TypeError, "labels must be integer class indices"),
    ],  # fmt: skip
)
def test_sample_weights_validates_its_arguments(labels, weights, error, message):
    with pytest.raises(error, match=message) as info:
        wce_ref.sample_weights(labels, weights)
    assert isinstance(info.value, (wce_ref.WCEInputError, wce_ref.WCETypeError))
    assert "n_classes" not in str(info.value)  # an argument sample_weights does not have


@pytest.mark.parametrize("labels", [[], np.array([], dtype=np.int64)])
def test_sample_weights_of_empty_labels_is_an_error(labels):
    message = r"labels is empty \(received \[\]\): sample_weights needs at least one label"
    with pytest.raises(ValueError, match=message) as info:
        wce_ref.sample_weights(labels, [1.0, 2.0])
    assert isinstance(info.value, wce_ref.WCEInputError)
