"""Bad input: a clear error naming the argument and what was received."""

from __future__ import annotations

import numpy as np
import pytest

import wce_ref
from wce_ref import WCEInputError, WCETypeError

X = np.array([[1.0, 2.0, 0.5], [0.1, -1.0, 2.0]])
Y = np.array([0, 2])
W = np.array([1.0, 2.0, 3.0])

CASES = [
    (
        "nan logits",
        lambda: wce_ref.softmax_wce(np.array([[np.nan, 1.0]]), np.array([0])),
        WCEInputError,
        ["logits", "nan", "(0, 0)"],
    ),
    ("inf logits", lambda: wce_ref.sigmoid_wce(np.array([np.inf]), np.array([1.0])), WCEInputError, ["logits", "inf"]),
    (
        "integer logits",
        lambda: wce_ref.softmax_wce(np.array([[1, 2]]), np.array([0])),
        WCETypeError,
        ["logits", "int64"],
    ),
    ("label out of range", lambda: wce_ref.softmax_wce(X, np.array([0, 3])), WCEInputError, ["labels", "[0, 3)", "3"]),
    ("negative label", lambda: wce_ref.softmax_wce(X, np.array([-1, 0])), WCEInputError, ["labels", "-1"]),
    ("float labels", lambda: wce_ref.softmax_wce(X, np.array([0.0, 1.0])), WCETypeError, ["labels", "float64"]),
    ("label count", lambda: wce_ref.softmax_wce(X, np.array([0, 1, 2])), WCEInputError, ["labels", "(2,)", "(3,)"]),
    (
        "negative weight",
        lambda: wce_ref.softmax_wce(X, Y, class_weights=[1.0, -2.0, 1.0]),
        WCEInputError,
        ["class_weights", "non-negative", "-2"],
    ),
    (
        "nan weight",
        lambda: wce_ref.softmax_wce(X, Y, class_weights=[1.0, np.nan, 1.0]),
        WCEInputError,
        ["class_weights", "finite", "nan"],
    ),
    (
        "weight length",
        lambda: wce_ref.softmax_wce(X, Y, class_weights=[1.0, 2.0]),
        WCEInputError,
        ["class_weights", "length 3", "(2,)"],
    ),
    (
        "0-d softmax logits",
        lambda: wce_ref.softmax_wce(np.float64(1.0), np.array(0)),
        WCEInputError,
        ["logits", "at least 1 dimension", "(C,) for one sample", "shape ()"],
    ),
    (
        "1-d softmax logits with a batch of labels",
        lambda: wce_ref.softmax_wce(np.zeros(3), Y),
        WCEInputError,
        ["labels", "(3,)", "(2,)"],
    ),
    (
        "smoothing > 1",
        lambda: wce_ref.softmax_wce(X, Y, label_smoothing=1.5),
        WCEInputError,
        ["label_smoothing", "1.5"],
    ),
    (
        "smoothing < 0",
        lambda: wce_ref.softmax_wce(X, Y, label_smoothing=-0.1),
        WCEInputError,
        ["label_smoothing", "-0.1"],
    ),
    (
        "smoothing nan",
        lambda: wce_ref.softmax_wce(X, Y, label_smoothing=float("nan")),
        WCEInputError,
        ["label_smoothing", "nan"],
    ),
    (
        "reduction",
        lambda: wce_ref.sigmoid_wce(X, np.ones_like(X), reduction="weighted_mean"),
        WCEInputError,
        ["reduction", "weighted_mean"],
    ),
    (
        "cost shape",
        lambda: wce_ref.cost_sensitive_ce(X, Y, np.ones((2, 2))),
        WCEInputError,
        ["cost_matrix", "(3, 3)", "(2, 2)"],
    ),
    (
        "cost negative",
        lambda: wce_ref.cost_sensitive_ce(X, Y, -np.ones((3, 3))),
        WCEInputError,
        ["cost_matrix", "non-negative"],
    ),
    ("targets shape", lambda: wce_ref.sigmoid_wce(X, np.ones(2)), WCEInputError, ["targets", "(2, 3)", "(2,)"]),
    ("targets range", lambda: wce_ref.sigmoid_wce(X, 2 * np.ones_like(X)), WCEInputError, ["targets", "[0, 1]", "2.0"]),
    (
        "pos_weight length",
        lambda: wce_ref.sigmoid_wce(X, np.ones_like(X), pos_weight=[1.0, 2.0]),
        WCEInputError,
        ["pos_weight", "broadcast", "(2, 3)", "(2,)"],
    ),
    (
        "neg_weight nan",
        lambda: wce_ref.sigmoid_wce_grad(X, np.ones_like(X), neg_weight=np.nan),
        WCEInputError,
        ["neg_weight", "nan"],
    ),
    ("soft labels range", lambda: wce_ref.softmax_wce(X, -np.ones_like(X)), WCEInputError, ["labels", "[0, 1]"]),
    (
        "ignore_index + soft",
        lambda: wce_ref.softmax_wce(X, np.full_like(X, 1 / 3), ignore_index=-100),
        WCEInputError,
        ["ignore_index", "probability"],
    ),
    (
        "zero normaliser",
        lambda: wce_ref.softmax_wce(X, np.array([-100, -100]), ignore_index=-100),
        WCEInputError,
        ["weighted_mean", "0"],
    ),
    (
        "zero weights normaliser",
        lambda: wce_ref.softmax_wce_grad(X, Y, class_weights=[0.0, 1.0, 0.0]),
        WCEInputError,
        ["weighted_mean", "zero"],
    ),
    (
        "class_weights absent class",
        lambda: wce_ref.class_weights(np.array([0, 2, 2])),
        WCEInputError,
        ["class(es) [1]", "n_classes=3"],
    ),
    ("class_weights scheme", lambda: wce_ref.class_weights(Y, "magic"), WCEInputError, ["scheme", "magic"]),
    ("class_weights normalize", lambda: wce_ref.class_weights(Y, normalize="max"), WCEInputError, ["normalize", "max"]),
    (
        "class_weights beta",
        lambda: wce_ref.class_weights(Y, "effective_number", beta=1.0),
        WCEInputError,
        ["beta", "1.0"],
    ),
    ("class_weights empty", lambda: wce_ref.class_weights(np.array([], dtype=int)), WCEInputError, ["labels", "empty"]),
    ("class_weights float labels", lambda: wce_ref.class_weights(np.array([0.5])), WCETypeError, ["labels", "float64"]),
    (
        "class_weights label >= n_classes",
        lambda: wce_ref.class_weights(np.array([0, 5]), n_classes=3),
        WCEInputError,
        ["labels", "5"],
    ),
    # issue 15, item 2: finite weights that overflow the compute dtype were a silent NaN
    (
        "pos_weight overflows float32",
        lambda: wce_ref.sigmoid_wce(np.array([1.0], np.float32), np.array([0.0]), pos_weight=1e39),
        WCEInputError,
        ["pos_weight", "1e+39", "float32"],
    ),
    (
        "class_weights overflow float32",
        lambda: wce_ref.softmax_wce(np.zeros((1, 2), np.float32), np.array([0]), class_weights=[1e39, 1]),
        WCEInputError,
        ["class_weights", "float32"],
    ),
    # item 10: values silently coerced
    (
        "complex targets",
        lambda: wce_ref.sigmoid_wce(np.array([1.0]), np.array([1 + 1j])),
        WCETypeError,
        ["targets", "real"],
    ),
    (
        "complex weights",
        lambda: wce_ref.softmax_wce(X, Y, class_weights=np.array([1, 2, 3 + 1j])),
        WCETypeError,
        ["class_weights", "real"],
    ),
    (
        "complex cost matrix",
        lambda: wce_ref.cost_sensitive_ce(X, Y, np.ones((3, 3)) * (1 + 1j)),
        WCETypeError,
        ["cost_matrix", "real"],
    ),
    (
        "label_smoothing True",
        lambda: wce_ref.softmax_wce(X, Y, label_smoothing=True),
        WCETypeError,
        ["label_smoothing", "True"],
    ),
    (
        "label_smoothing string",
        lambda: wce_ref.softmax_wce(X, Y, label_smoothing="0.1"),
        WCETypeError,
        ["label_smoothing", "'0.1'"],
    ),
    (
        "uint64 label near 2**64",
        lambda: wce_ref.softmax_wce(X, np.array([0, 2**64 - 1], dtype=np.uint64), ignore_index=-1),
        WCEInputError,
        ["labels", "18446744073709551615"],
    ),
    # item 11: unclear errors
    (
        "array as reduction",
        lambda: wce_ref.softmax_wce(X, Y, reduction=np.array(["sum", "mean"])),
        WCEInputError,
        ["reduction", "received"],
    ),
    (
        "ragged logits",
        lambda: wce_ref.softmax_wce([[1.0, 2.0], [3.0]], Y),
        WCEInputError,
        ["logits", "rectangular"],
    ),
    (
        "ragged class_weights",
        lambda: wce_ref.softmax_wce(X, Y, class_weights=[1.0, [2.0, 3.0]]),
        WCEInputError,
        ["class_weights", "rectangular"],
    ),
    ("batch_weights n_classes", lambda: wce_ref.batch_weights(Y, n_classes=None), WCEInputError, ["n_classes"]),
]


@pytest.mark.parametrize("fn, exc, needles", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_error(fn, exc, needles):
    with pytest.raises(exc) as info:
        fn()
    message = str(info.value)
    for needle in needles:
        assert needle in message, (needle, message)


def test_errors_are_value_and_type_errors():
    assert issubclass(WCEInputError, ValueError) and issubclass(WCETypeError, TypeError)
