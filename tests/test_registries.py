"""A loss or a framework registered at run time appears everywhere, with no other edit.

"One module plus one registry line": the loss below is a module's worth of
definitions (value, gradient, check, formula, exact form, cases) registered
with one call; the framework is a second NumPy backend under another name.
Both must show up in the agreement matrix, the benchmark grid and the suites.
"""

from __future__ import annotations

import ast
import importlib
import inspect

import numpy as np
import pytest

import wce_ref
from wce_ref import agreement, bench, compare, frameworks, losses, oracle
from wce_ref.frameworks._numpy import NumpyBackend

sw = importlib.import_module("wce_ref.losses._softmax_wce")  # the loss module of softmax_wce


def _double(logits, labels, *, class_weights=None, reduction="weighted_mean"):
    """Twice the weighted cross entropy (a stand-in for a user's new loss)."""
    return 2 * losses.softmax_wce(logits, labels, class_weights=class_weights, reduction=reduction)


def _double_grad(logits, labels, *, class_weights=None, reduction="weighted_mean"):
    return 2 * losses.softmax_wce_grad(logits, labels, class_weights=class_weights, reduction=reduction)


def _check(logits, labels, *, class_weights=None, reduction="weighted_mean"):
    return {"reduction": sw.check(logits, labels, class_weights=class_weights, reduction=reduction)["reduction"]}


def _formula(ops, logits, labels, *, class_weights=None, reduction="weighted_mean"):
    return 2 * sw.formula(ops, logits, labels, class_weights=class_weights, reduction=reduction)


def _exact(logits, labels, *, class_weights=None, reduction="weighted_mean"):
    value, grad = sw.exact(logits, labels, class_weights=class_weights, reduction=reduction)
    return 2 * value, 2 * grad


DOUBLE = losses.Loss(
    name="double_wce",
    family="softmax",
    value=_double,
    grad=_double_grad,
    check=_check,
    formula=_formula,
    exact=_exact,
    arrays=("logits", "labels", "class_weights"),
    positional=2,
    float_args=("logits", "class_weights"),
    reductions=("none", "sum", "mean", "weighted_mean"),
    cases=(
        losses.Case(
            "random",
            "double_wce",
            lambda rng: {
                "logits": rng.normal(size=(16, 3)) * 3,
                "labels": rng.integers(0, 3, 16),
                "class_weights": rng.uniform(0.5, 2, 3),
            },
            float_args=("logits", "class_weights"),
        ),
    ),
    bench=sw.LOSS.bench,
    bench_reduction="weighted_mean",
    train=lambda y, *, n_classes, class_weights=None: {"class_weights": class_weights},
)


class Numpy2Backend(NumpyBackend):
    """The NumPy reference again, under another name: a stand-in for a new framework module."""

    def __init__(self) -> None:
        super().__init__()
        self.name = "numpy2"


@pytest.fixture
def extra_loss():
    losses.register(DOUBLE)
    yield DOUBLE
    losses.unregister(DOUBLE.name)


@pytest.fixture
def extra_framework():
    frameworks.register("numpy2", Numpy2Backend)
    yield "numpy2"
    frameworks.unregister("numpy2")


def test_a_loss_registered_at_run_time_appears_everywhere(extra_loss):
    # exports: the package and its loss layer serve its functions; the matrix's cases include its own
    assert losses.exports()["double_wce"] is _double and losses.exports()["double_wce_grad"] is _double_grad
    assert wce_ref.double_wce is _double and wce_ref.losses.double_wce_grad is _double_grad
    assert "double_wce" in dir(wce_ref) and "double_wce_grad" in dir(wce_ref.losses)
    assert [c.id for c in losses.cases_for("double_wce")] == ["double_wce/random"]
    assert any(c.loss == "double_wce" for c in losses.cases_for())
    assert oracle.double_wce is _exact  # the oracle serves its exact form, importing no loss
    # agreement matrix: its cells exist and pass against its exact form
    cells = [c for c in agreement.enumerate_cells(["numpy"], dtypes=["float64"]) if c.loss == "double_wce"]
    assert {c.reduction for c in cells} == set(DOUBLE.reductions)
    assert all(agreement.run_cell(c).status == "pass" for c in cells)
    # benchmark grid
    assert any(c.loss == "double_wce" for c in bench.enumerate_cases(["numpy"], profile="full"))
    # training engines and a strategy using it
    from sklearn.datasets import make_classification

    X, y = make_classification(200, n_features=4, weights=[0.8], random_state=0)
    clf = compare.WCEClassifier(loss="double_wce", class_weight="balanced", max_epochs=10).fit(X, y)
    assert clf.predict(X).shape == (200,)
    strategy = compare.Strategy("double", "loss", "2 x WCE", {"loss": "double_wce", "class_weight": "balanced"})
    assert strategy.loss_kwargs(y)["loss"] == "double_wce"


def test_a_loss_registered_at_run_time_is_checked_in_the_frameworks(extra_loss, requested):
    for name in requested:
        backend = frameworks.get(name)
        if backend.reference:
            continue
        cell = agreement.Cell(name, name, "cpu", "float64", "double_wce", "weighted_mean")
        assert agreement.run_cell(cell).status == "pass"


def test_a_framework_registered_at_run_time_appears_everywhere(extra_framework, tmp_path):
    assert "numpy2" in frameworks.names()
    cells = agreement.enumerate_cells(["numpy2"], dtypes=["float64"], builtins=False)
    assert {c.loss for c in cells} == set(losses.LOSSES)
    assert all(agreement.run_cell(c).passed for c in cells[:6])
    grid = bench.enumerate_cases(["numpy2"], profile="quick")
    assert grid and all(c.framework == "numpy2" for c in grid)
    assert bench.make_callable(grid[0])() is not None  # timed callable, synchronised by the backend
    suite = compare.load_suite("smoke", frameworks=["numpy2"], strategies=["baseline", "wce_balanced"])
    assert suite.frameworks == ("numpy2",)
    cell = next(c for c in compare.cells(suite) if c.model == "linear")
    row = compare.run_cell(cell)
    assert row["status"] == "ok", row


def test_unknown_names_are_rejected_with_the_registered_ones():
    with pytest.raises(ValueError, match=r"loss must be one of \[.*softmax_wce.*\]; received 'hinge'"):
        losses.get("hinge")
    with pytest.raises(ValueError, match="received 'caffe'"):
        frameworks.resolve("caffe")


def test_every_registered_loss_is_complete():
    """The contract every loss module meets (imbalanced-learn's estimator_checks, for losses)."""
    import wce_ref

    for name, spec in losses.LOSSES.items():
        assert getattr(wce_ref, name) is spec.value and getattr(wce_ref, name + "_grad") is spec.grad
        assert spec.cases and all(c.loss == name for c in spec.cases), name
        assert spec.value.__doc__ and ".. math::" in spec.value.__doc__ and ">>>" in spec.value.__doc__, name
        assert set(spec.reductions) >= {"none", "sum", "mean"}, name
        assert spec.arrays[: spec.positional][0] == "logits"


def test_a_loss_unregistered_leaves_the_exports():
    losses.register(DOUBLE)
    losses.unregister(DOUBLE.name)
    assert "double_wce" not in losses.exports() and not losses.cases_for("double_wce")
    with pytest.raises(AttributeError, match="'wce_ref' has no attribute 'double_wce'"):
        _ = wce_ref.double_wce
    with pytest.raises(AttributeError, match="'wce_ref.oracle' has no attribute 'double_wce'"):
        _ = oracle.double_wce


#: each front end, the framework it needs requested (Keras runs on the TensorFlow backend in tox)
_FRONT_ENDS = {"torch": "torch", "jax": "jax", "tensorflow": "tensorflow", "keras": "tensorflow"}


@pytest.mark.parametrize("front", list(_FRONT_ENDS))
def test_a_loss_registered_at_run_time_is_in_every_front_end(extra_loss, requested, front):
    if _FRONT_ENDS[front] not in requested:
        pytest.skip(f"{_FRONT_ENDS[front]} not requested (WCE_FRAMEWORKS)")
    module = importlib.import_module(f"wce_ref.{front}")
    kwargs = DOUBLE.cases[0].inputs("float64")
    expected = _double(**kwargs)
    backend = frameworks.get(_FRONT_ENDS[front])
    backend.load()  # the harness's settings (JAX's 64-bit mode) before any tensor is made
    data = backend.inputs(kwargs, DOUBLE.float_args, "float64", "cpu")
    fn = module.double_wce
    assert "double_wce" in dir(module) and fn.__wrapped__ is _double and fn.__module__ == f"wce_ref.{front}"
    assert float(np.asarray(fn(**data))) == pytest.approx(float(expected), rel=1e-12)
    assert float(np.asarray(module.loss_function("double_wce")(**data))) == float(np.asarray(fn(**data)))
    if hasattr(module, "loss_class"):  # the object front ends: a class named after the loss
        cls = getattr(module, DOUBLE.front_name)
        assert cls is module.loss_class("double_wce") and DOUBLE.front_name == "DoubleWceLoss"
        loss = cls(class_weights=kwargs["class_weights"])
        value = loss(data["logits"], data["labels"]) if front == "torch" else loss(kwargs["labels"], kwargs["logits"])
        assert float(np.asarray(value)) == pytest.approx(float(expected), rel=1e-6)


def _type_checking_names(module) -> set[str]:
    """The names a module imports under ``if TYPE_CHECKING:`` (its spelled-out exports)."""
    tree = ast.parse(inspect.getsource(module))
    blocks = [n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"]
    return {a.asname or a.name for b in blocks for n in ast.walk(b) if isinstance(n, ast.ImportFrom) for a in n.names}


@pytest.mark.parametrize("module", [wce_ref, losses], ids=lambda m: m.__name__)
def test_the_spelled_out_exports_match_the_registry(module):
    """``__all__`` and the ``TYPE_CHECKING`` imports (what ruff and readers see) are the registry's exports."""
    exported = losses.exports()
    assert set(exported) <= set(module.__all__), sorted(set(exported) - set(module.__all__))
    assert _type_checking_names(module) == set(exported)
    for name in module.__all__:  # every listed name exists; a listed loss name is the registry's function
        assert getattr(module, name) is exported.get(name, getattr(module, name)), name
    library = [n for n in module.__all__ if n not in exported]
    assert not any(n.endswith("_grad") for n in library), library  # no stale loss left in the list
