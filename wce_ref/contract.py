r"""The contract every registry entry meets, as checks over the registries (imbalanced-learn's ``estimator_checks``).

A registered loss (:data:`wce_ref.losses.LOSSES`) and a registered framework
(:data:`wce_ref.frameworks.REGISTRY`) get every check below without a test of
their own: ``tests/test_contracts.py`` parametrises these lists over the
registries, and :func:`check_loss` runs them on one loss (a loss registered at
run time included). Accuracy against the oracle, values and each framework's
autodiff gradients on every agreement case, is the agreement matrix's
(:mod:`wce_ref.agreement`); the checks here are the structural part:

- **losses**: exports and docstring (math and a doctest), the analytic gradient
  against central finite differences :math:`(f(x + h e_i) - f(x - h e_i)) / 2h`
  for every reduction, the reductions' relations (``sum`` is the sum of
  ``none``, ``mean`` its mean), N-d input equal to its flattened rows (softmax
  family), and bad arguments rejected with the argument's name;
- **frameworks**: the operations table's softmax NLL (the fused kernel where
  there is a hook) and softplus against NumPy, ``synchronize`` and the values
  it returns, ``memory`` (None or byte counts), and the training engine (it
  trains, or says it has none).

>>> from wce_ref import contract
>>> [name for name, _ in contract.loss_checks("poly1_ce")][:3]
['check_exports_and_docs', 'check_gradient_matches_finite_differences', 'check_reductions']
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from . import losses as _losses
from ._validation import WCEInputError

__all__ = ["FRAMEWORK_CHECKS", "LOSS_CHECKS", "check_loss", "framework_checks", "loss_checks"]


def _case(spec: _losses.Loss, *, rows: int = 6) -> dict[str, Any]:
    """A small float64 input of the loss: its first agreement case with 2-d logits (no ignore_index, hard
    labels for the softmax family), cut to ``rows`` samples."""
    x_name, y_name = spec.arrays[:2]
    for case in spec.cases:
        kw = case.inputs("float64")
        x, y = np.asarray(kw[x_name]), np.asarray(kw[y_name])
        if x.ndim == 2 and kw.get("ignore_index") is None and (spec.family == "sigmoid" or y.ndim == 1):
            for key in (x_name, y_name, "sample_weight"):
                if isinstance(kw.get(key), np.ndarray):
                    kw[key] = kw[key][:rows].copy()
            return kw
    raise AssertionError(f"{spec.name}: no agreement case with 2-d logits and hard labels")


def check_exports_and_docs(spec: _losses.Loss) -> None:
    """The package exports the value and gradient; the docstring has math and a doctest; the basic reductions."""
    import wce_ref

    assert getattr(wce_ref, spec.name) is spec.value and getattr(wce_ref, spec.name + "_grad") is spec.grad
    assert spec.cases and all(c.loss == spec.name for c in spec.cases), spec.name
    doc = spec.value.__doc__ or ""
    assert ".. math::" in doc and ">>>" in doc, f"{spec.name}: docstring without math or a doctest"
    assert set(spec.reductions) >= {"none", "sum", "mean"} and spec.arrays[0] == "logits", spec.name


def check_gradient_matches_finite_differences(spec: _losses.Loss, h: float = 1e-6) -> None:
    """``grad`` equals the central differences of the summed value, for every reduction."""
    kw = _case(spec)
    x = kw.pop(spec.arrays[0])
    for reduction in spec.reductions:
        def total(z, reduction=reduction):
            return float(np.sum(spec.value(z, **kw, reduction=reduction)))

        fd = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            step = np.zeros_like(x)
            step[idx] = h
            fd[idx] = (total(x + step) - total(x - step)) / (2 * h)
        grad = spec.grad(x, **kw, reduction=reduction)
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7 * max(1.0, np.abs(fd).max()),
                                   err_msg=f"{spec.name} {reduction}")


def check_reductions(spec: _losses.Loss) -> None:
    """``sum`` is the sum of ``none`` and ``mean`` its mean (samples, or elements for the sigmoid family)."""
    kw = _case(spec)
    per = np.asarray(spec.value(**kw, reduction="none"))
    total = spec.value(**kw, reduction="sum")
    np.testing.assert_allclose(total, per.sum(), rtol=1e-12, err_msg=spec.name)
    np.testing.assert_allclose(spec.value(**kw, reduction="mean"), per.sum() / per.size, rtol=1e-12, err_msg=spec.name)
    np.testing.assert_allclose(spec.grad(**kw, reduction="mean"), spec.grad(**kw, reduction="sum") / per.size,
                               rtol=1e-12, atol=0, err_msg=spec.name)


def check_nd_equals_flattened_rows(spec: _losses.Loss) -> None:
    """Softmax family: N-d logits (its first 4-d case, channels first or last) give their rows' losses and
    gradients, bit for bit, with N = 1 (the rows of one sample are a non-contiguous view) and N = 2."""
    if spec.family != "softmax":
        return
    case = next((c for c in spec.cases if np.ndim(c.inputs("float64")[spec.arrays[0]]) == 4), None)
    assert case is not None, f"{spec.name}: no 4-d agreement case"
    for n in (1, 2):
        kw = case.inputs("float64")
        x, y = kw.pop("logits")[:n], kw.pop(spec.arrays[1])[:n]
        kw.pop("sample_weight", None)
        axis = kw.pop("class_axis", 1) % x.ndim
        c = x.shape[axis]
        rows, flat = np.moveaxis(x, axis, -1).reshape(-1, c), y.reshape(-1)
        for reduction in spec.reductions:
            got = spec.value(x, y, **kw, class_axis=axis, reduction=reduction)
            want = spec.value(rows, flat, **kw, reduction=reduction)
            np.testing.assert_array_equal(np.reshape(got, -1), np.reshape(want, -1), err_msg=spec.name)
            grad = spec.grad(x, y, **kw, class_axis=axis, reduction=reduction)
            np.testing.assert_array_equal(np.moveaxis(grad, axis, -1).reshape(-1, c),
                                          spec.grad(rows, flat, **kw, reduction=reduction), err_msg=spec.name)


def check_bad_arguments_are_named(spec: _losses.Loss) -> None:
    """An unknown reduction and non-finite logits are rejected with a message naming the argument."""
    kw = _case(spec)
    for key, value, bad in (("reduction", "avg", "reduction"), (spec.arrays[0], np.nan, "logits")):
        args = dict(kw)
        if key == spec.arrays[0]:
            args[key] = kw[key].copy()
            args[key].flat[0] = value
        else:
            args[key] = value
        try:
            spec.value(**args)
        except (WCEInputError, ValueError, TypeError) as exc:
            assert bad in str(exc), f"{spec.name}: {exc}"
        else:
            raise AssertionError(f"{spec.name}: {key}={value!r} accepted")


#: every loss's checks, in order (each takes the :class:`~wce_ref.losses.Loss`)
LOSS_CHECKS: tuple[Callable[[_losses.Loss], None], ...] = (
    check_exports_and_docs,
    check_gradient_matches_finite_differences,
    check_reductions,
    check_nd_equals_flattened_rows,
    check_bad_arguments_are_named,
)


def loss_checks(name: str) -> list[tuple[str, Callable[[], None]]]:
    """The contract's checks of the registered loss ``name``: ``(check name, check)`` pairs, each callable alone.

    Parameters
    ----------
    name : str
        A registered loss.

    Returns
    -------
    list of (str, callable)
        One pair per entry of :data:`LOSS_CHECKS`; a check raises AssertionError where the loss breaks it.
    """
    spec = _losses.get(name)
    return [(check.__name__, functools.partial(check, spec)) for check in LOSS_CHECKS]


def check_loss(name: str) -> list[str]:
    """Run every check of :data:`LOSS_CHECKS` on the registered loss ``name``; returns their names.

    >>> from wce_ref.contract import check_loss
    >>> len(check_loss("sigmoid_wce"))
    5
    """
    done = []
    for check_name, check in loss_checks(name):
        check()
        done.append(check_name)
    return done


# --------------------------------------------------------------------------- frameworks


def check_operations_match_numpy(backend: Any) -> None:
    """The operations table's pieces against NumPy (float64): the softmax NLL of each row (the fused kernel
    where the framework has a custom-gradient hook) and the softplus pair. Whole losses, values and autodiff
    gradients, on every agreement case: the agreement matrix."""
    from .losses._generic import SoftmaxRows, softplus_pair

    if backend.reference:  # the NumPy reference has no operations table: it is what the tables are checked against
        return
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 5)) * 3, rng.integers(0, 5, 8)
    rows = SoftmaxRows(backend.ops, backend.tensor(x, "float64", "cpu"), backend.tensor(y, None, "cpu"))
    want = _losses.get("softmax_wce").value(x, y, reduction="none")
    np.testing.assert_allclose(backend.to_numpy(rows.nll_label()), want, rtol=1e-13, err_msg=backend.name)
    pos, neg = softplus_pair(backend.ops, backend.tensor(x[:, 0], "float64", "cpu"))
    np.testing.assert_allclose(backend.to_numpy(pos), np.logaddexp(x[:, 0], 0), rtol=1e-14, err_msg=backend.name)
    np.testing.assert_allclose(backend.to_numpy(neg), np.logaddexp(-x[:, 0], 0), rtol=1e-14, err_msg=backend.name)


def check_synchronize_and_memory(backend: Any) -> None:
    """``synchronize`` returns a result whose values are the computation's; ``memory`` is None or byte counts."""
    t = backend.tensor(np.arange(6.0).reshape(2, 3), "float64", "cpu")
    backend.synchronize(t)
    np.testing.assert_array_equal(backend.to_numpy(t), np.arange(6.0).reshape(2, 3))
    stats = backend.memory("cpu")
    assert stats is None or all(isinstance(v, int) and v >= 0 for v in stats.values()), stats


def check_engine(backend: Any) -> None:
    """The training engine's Adam steps lower the loss of a separable problem, or it says it has none. (That
    each engine trains numpy's model: ``tests/test_compare.py``.)"""
    from .frameworks import NotSupported

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    params = [np.zeros((3, 2), np.float32), np.zeros(2, np.float32)]
    try:
        engine = backend.engine(X, y, X, y, "softmax_wce", {"reduction": "mean"}, params, 0.1, 0.0)
    except NotSupported:
        return
    before = engine.val_loss({})
    for _ in range(3):
        engine.step(None, {})
    assert engine.val_loss({}) < before, backend.name


#: every framework's checks (each takes the loaded :class:`~wce_ref.frameworks.Backend`)
FRAMEWORK_CHECKS: tuple[Callable[[Any], None], ...] = (
    check_operations_match_numpy,
    check_synchronize_and_memory,
    check_engine,
)


def framework_checks(name: str) -> list[tuple[str, Callable[[], None]]]:
    """The contract's checks of the registered framework ``name`` (imported when a check runs).

    Parameters
    ----------
    name : str
        A registered framework.

    Returns
    -------
    list of (str, callable)
        One pair per entry of :data:`FRAMEWORK_CHECKS`.
    """
    from . import frameworks

    def run(check: Callable[[Any], None]) -> None:
        backend = frameworks.get(name)
        backend.load()
        check(backend)

    return [(check.__name__, functools.partial(run, check)) for check in FRAMEWORK_CHECKS]
