"""The memoised argument check (``wce_ref.frameworks._check_memo``) still rejects every bad call.

The framework versions skip the reference's full check for a call whose configuration and shapes already
passed it and whose batch values lie where passing values lay; these tests make a good call first and then a bad
one of the same shapes, so that each rejection below had to get past the memo: a label out of range, NaN
logits, a weight vector of the wrong length, negative weights, negative or zero sample weights, every label
ignored. The messages are the reference's.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
from conftest import requested_frameworks

from wce_ref import WCEInputError, frameworks, losses
from wce_ref.frameworks._check_memo import CheckMemo

FRAMEWORKS = [f for f in ("torch", "jax", "tensorflow") if f in requested_frameworks()]
N, C = 256, 10


def _batch(seed: int = 0, n: int = N, high: int = C) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, C)).astype(np.float32) * 3, rng.integers(0, high, n)


def _counting(name: str = "softmax_wce") -> tuple[types.SimpleNamespace, list[int]]:
    """A stand-in for a loss record whose ``check`` is the real one, counting its calls."""
    spec = losses.get(name)
    calls = [0]

    def check(**kwargs):
        calls[0] += 1
        return spec.check(**kwargs)

    return types.SimpleNamespace(name=name, check=check, memo_check=spec.memo_check), calls


def _args(x, y, **kw):
    views = {"logits": x, "labels": y, "class_weights": kw.pop("class_weights", None),
             "sample_weight": kw.pop("sample_weight", None)}
    others = {"reduction": "weighted_mean", "label_smoothing": 0.0, "ignore_index": None, "class_axis": 1, **kw}
    return views, others


def test_memo_skips_the_full_check_for_a_known_signature_and_reruns_it_outside_the_hull():
    memo, (spec, calls) = CheckMemo(), _counting()
    w = np.linspace(0.5, 2.0, C)
    x, y = _batch(0)
    assert memo.check(spec, *_args(x, y, class_weights=w))["reduction"] == "weighted_mean"
    x2, y2 = _batch(1, high=C - 1)  # labels inside the hull of the first call's
    memo.check(spec, *_args(x2, y2, class_weights=w))
    assert calls[0] == 1 and len(memo) == 1
    memo.check(spec, *_args(x2, y2, class_weights=w * 2))  # other class weights: another signature
    memo.check(spec, *_args(x2[:100], y2[:100], class_weights=w))  # another shape
    assert calls[0] == 3 and len(memo) == 3


def test_memo_returns_a_fresh_dict():
    memo, (spec, _) = CheckMemo(), _counting()
    x, y = _batch(0)
    memo.check(spec, *_args(x, y))["reduction"] = "changed"
    assert memo.check(spec, *_args(x, y))["reduction"] == "weighted_mean"


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ({"labels": C}, ["labels", f"[0, {C})", str(C)]),
        ({"labels": -1}, ["labels", "-1"]),
        ({"logits": np.nan}, ["logits", "finite", "nan"]),
        ({"logits": np.inf}, ["logits", "finite", "inf"]),
        ({"sample_weight": -1.0}, ["sample_weight", "non-negative"]),
        ({"sample_weight": np.nan}, ["sample_weight", "finite"]),
        ({"all_sample_weights": 0.0}, ["weighted_mean", "0"]),
        ({"all_ignored": True}, ["weighted_mean", "0"]),
    ],
    ids=["label_C", "label_-1", "nan_logit", "inf_logit", "negative_sw", "nan_sw", "zero_sw", "all_ignored"],
)
def test_memo_rejects_a_bad_batch_after_a_good_one(bad, words):
    memo, (spec, _) = CheckMemo(), _counting()
    x, y = _batch(0)
    sw = np.linspace(0.5, 1.5, N).astype(np.float32)
    memo.check(spec, *_args(x, y, sample_weight=sw, ignore_index=-100))
    x, y, sw = x.copy(), y.copy(), sw.copy()
    if "labels" in bad:
        y[7] = bad["labels"]
    if "logits" in bad:
        x[3, 4] = bad["logits"]
    if "sample_weight" in bad:
        sw[5] = bad["sample_weight"]
    if "all_sample_weights" in bad:
        sw[:] = bad["all_sample_weights"]
    if "all_ignored" in bad:
        y[:] = -100
    with pytest.raises(WCEInputError) as err:
        memo.check(spec, *_args(x, y, sample_weight=sw, ignore_index=-100))
    for word in words:
        assert word in str(err.value)


def test_memo_widens_only_over_passing_calls():
    memo, (spec, calls) = CheckMemo(), _counting()
    x, y = _batch(0, high=5)
    memo.check(spec, *_args(x, y))
    memo.check(spec, *_args(x, np.where(y == 4, 9, y)))  # outside the hull [0, 4]: checked in full, passes
    assert calls[0] == 2
    memo.check(spec, *_args(x, np.where(y == 4, 8, y)))  # inside [0, 9] now
    assert calls[0] == 2
    with pytest.raises(WCEInputError, match="labels"):
        memo.check(spec, *_args(x, np.where(y == 4, 10, y)))


def test_memo_checks_zero_class_weights_in_full():
    memo, (spec, calls) = CheckMemo(), _counting()
    x, y = _batch(0)
    w = np.ones(C)
    w[3] = 0.0  # the normaliser may be 0 for some batch: never proven by the memo
    memo.check(spec, *_args(x, y, class_weights=w))
    memo.check(spec, *_args(x, y, class_weights=w))
    assert calls[0] == 2
    with pytest.raises(WCEInputError, match="weighted_mean"):
        memo.check(spec, *_args(x, np.full(N, 3), class_weights=w))


def test_losses_with_row_wise_checks_are_never_memoised():
    for name, spec in losses.LOSSES.items():
        assert spec.memo_check == (name not in {"ldam_ce", "logit_adjusted_ce"})
    memo, (spec, calls) = CheckMemo(), _counting("ldam_ce")
    x, y = _batch(0)
    views, others = _args(x, y, class_counts=None)
    views["class_counts"] = np.arange(1.0, C + 1)
    others = {"max_margin": 0.5, "scale": 30.0, "reduction": "weighted_mean", "ignore_index": None, "class_axis": 1}
    memo.check(spec, views, others)
    memo.check(spec, views, others)
    assert calls[0] == 2 and len(memo) == 0


def test_lists_and_unhashable_options_take_the_full_check():
    memo, (spec, calls) = CheckMemo(), _counting()
    x, y = _batch(0)
    memo.check(spec, *_args(x, y, class_weights=list(np.ones(C))))
    memo.check(spec, *_args(x, y, class_weights=list(np.ones(C))))
    assert calls[0] == 2 and len(memo) == 0


# --------------------------------------------------------------------------- through the framework versions


@pytest.fixture(params=FRAMEWORKS or [pytest.param(None, marks=pytest.mark.skip("no framework requested"))])
def backend(request):
    return frameworks.get(request.param)


def _t(backend, a):
    a = np.asarray(a)
    return backend.tensor(a, None if a.dtype.kind in "iub" else "float32", "cpu")


def test_framework_rejects_a_bad_label_after_a_good_call(backend):
    x, y = _batch(0)
    w = _t(backend, np.linspace(0.5, 2.0, C))
    good = backend.loss("softmax_wce", _t(backend, x), _t(backend, y), class_weights=w)
    assert np.isfinite(float(np.asarray(good)))
    y[11] = C
    with pytest.raises(WCEInputError, match=rf"labels must lie in \[0, {C}\).*{C}"):
        backend.loss("softmax_wce", _t(backend, x), _t(backend, y), class_weights=w)


def test_framework_rejects_nan_logits_after_a_good_call(backend):
    x, y = _batch(0)
    backend.loss("softmax_wce", _t(backend, x), _t(backend, y))
    x[0, 0] = np.nan
    with pytest.raises(WCEInputError, match="logits must be finite"):
        backend.loss("softmax_wce", _t(backend, x), _t(backend, y))


@pytest.mark.parametrize(
    ("weights", "words"),
    [(np.ones(C - 1), ["class_weights", f"length {C}", f"({C - 1},)"]),
     (np.r_[np.ones(C - 1), -1.0], ["class_weights", "non-negative", "-1"])],
    ids=["wrong_length", "negative"],
)
def test_framework_rejects_bad_class_weights_after_a_good_call(backend, weights, words):
    x, y = _batch(0)
    backend.loss("softmax_wce", _t(backend, x), _t(backend, y), class_weights=_t(backend, np.ones(C)))
    with pytest.raises(WCEInputError) as err:
        backend.loss("softmax_wce", _t(backend, x), _t(backend, y), class_weights=_t(backend, weights))
    for word in words:
        assert word in str(err.value)


def test_framework_rejects_negative_sample_weight_after_a_good_call(backend):
    x, y = _batch(0)
    sw = np.ones(N, dtype=np.float32)
    backend.loss("softmax_wce", _t(backend, x), _t(backend, y), sample_weight=_t(backend, sw))
    sw[9] = -0.5
    with pytest.raises(WCEInputError, match="sample_weight must be non-negative"):
        backend.loss("softmax_wce", _t(backend, x), _t(backend, y), sample_weight=_t(backend, sw))
