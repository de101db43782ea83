"""A loss or a framework registered at run time appears everywhere, with no other edit.

"One module plus one registry line": the loss is a new loss written through
the softmax-family template in ``tests/runtime_losses.py`` (its rows, gradient,
framework formula, exact form and cases in about 27 lines; the family writes the
rest) and registered with one call; the framework is a second NumPy backend under
another name.
Both must show up in the agreement matrix, the benchmark grid and the suites.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
from pathlib import Path

import numpy as np
import pytest
import runtime_losses
from conftest import keras_framework

import wce_ref
from wce_ref import agreement, bench, check, compare, contract, frameworks, losses, oracle
from wce_ref.frameworks._numpy import NumpyBackend

GCE = runtime_losses.GCE  # generalized cross entropy, written through the softmax-family template


class Numpy2Backend(NumpyBackend):
    """The NumPy reference again, under another name: a stand-in for a new framework module."""

    def __init__(self) -> None:
        super().__init__()
        self.name = "numpy2"


class IsolatedNumpy(NumpyBackend):
    """The NumPy reference as a framework that runs only in a process with ``WCE_TEST_HERE=1`` (as Keras runs on
    one backend per process); ``always`` never runs anywhere (a broken environment)."""

    always = False

    def __init__(self) -> None:
        super().__init__()
        self.name = "numpy-isolated"

    def isolation(self) -> dict[str, str] | None:
        if os.environ.get("WCE_TEST_HERE") == "1" and not self.always:
            return None
        path = os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])
        return {"WCE_TEST_HERE": "1", "PYTHONPATH": path}  # the child imports this module by name


class NeverRunnable(IsolatedNumpy):
    always = True


@pytest.fixture
def extra_loss():
    losses.register(GCE)
    yield GCE
    losses.unregister(GCE.name)


@pytest.fixture
def extra_framework():
    frameworks.register("numpy2", Numpy2Backend)
    yield "numpy2"
    frameworks.unregister("numpy2")


def test_a_loss_registered_at_run_time_appears_everywhere(extra_loss, tmp_path, monkeypatch):
    # exports: the package and its loss layer serve its functions; the matrix's cases include its own
    assert losses.exports()["generalized_ce"] is GCE.value and losses.exports()["generalized_ce_grad"] is GCE.grad
    assert wce_ref.generalized_ce is GCE.value and wce_ref.losses.generalized_ce_grad is GCE.grad
    assert "generalized_ce" in dir(wce_ref) and "generalized_ce_grad" in dir(wce_ref.losses)
    assert [c.id for c in losses.cases_for("generalized_ce")] == [f"generalized_ce/{c.name}" for c in GCE.cases]
    assert oracle.generalized_ce is GCE.exact  # the oracle serves its exact form, importing no loss
    x, y = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]]), np.array([0, 2])
    p_y = np.exp(-wce_ref.softmax_wce(x, y, reduction="none"))
    np.testing.assert_allclose(wce_ref.generalized_ce(x, y, q=0.5, reduction="none"), (1 - p_y**0.5) / 0.5)
    # the contract suite's checks (tests/test_contracts.py parametrises them over the registry)
    assert contract.check_loss("generalized_ce") == [name for name, _ in contract.loss_checks("softmax_wce")]
    # `wce check`: its cells, every reduction, pass against its exact form and appear in the report
    results, info = check.run_matrix(["numpy"], dtypes=["float64"], losses=["generalized_ce"], show_progress=False)
    assert {r.cell.reduction for r in results} == set(GCE.reductions)
    assert all(r.status == "pass" and len(r.cases) == len(GCE.cases) for r in results)
    assert "| numpy | cpu | generalized_ce |" in check.render_markdown(results, info)
    # benchmark grid
    assert any(c.loss == "generalized_ce" for c in bench.enumerate_cases(["numpy"], profile="full"))
    # a suite: a strategy using it, in a suite file of its own, run through the comparison engine
    strategy = compare.Strategy("gce", "loss", "GCE", {"loss": "generalized_ce", "class_weight": "balanced"})
    monkeypatch.setitem(compare.STRATEGIES, "gce", strategy)
    (tmp_path / "tiny.toml").write_text(
        'description = "a run-time loss"\ndatasets = ["synthetic_small"]\nstrategies = ["gce"]\n'
        'models = ["linear"]\nframeworks = ["numpy"]\n[protocol]\nfolds = 2\nrepeats = 1\nseed = 0\n'
    )
    suite = compare.load_suite(str(tmp_path / "tiny.toml"))
    cells = compare.cells(suite)
    assert cells and {c.strategy for c in cells} == {"gce"}
    row = compare.run_cell(cells[0])
    assert row["status"] == "ok" and row["strategy"] == "gce", row


def test_a_loss_registered_at_run_time_is_checked_in_the_frameworks(extra_loss, requested):
    for name in requested:
        backend = frameworks.get(name)
        if backend.reference:
            continue
        cell = agreement.Cell(name, name, "cpu", "float64", "generalized_ce", "weighted_mean")
        assert agreement.run_cell(cell).status == "pass"


def test_a_framework_that_needs_a_process_of_its_own_is_checked_in_one(monkeypatch):
    """``wce check`` runs a framework whose :meth:`isolation` asks for another environment (Keras on another
    backend) in a fresh process with it: the same cells and results as here; a process that fails is an error."""
    monkeypatch.delenv("WCE_TEST_HERE", raising=False)
    monkeypatch.setattr(frameworks, "_INSTANCES", dict(frameworks._INSTANCES))  # restored: no backend left behind
    monkeypatch.setitem(frameworks.REGISTRY, "numpy-isolated", f"{__name__}:IsolatedNumpy")
    assert frameworks.get("numpy-isolated").isolation() is not None
    kwargs = {"dtypes": ["float64"], "losses": ["sigmoid_wce"], "show_progress": False}
    results, info = check.run_matrix(["numpy", "numpy-isolated"], **kwargs)
    here = {r.cell.id: r.as_dict() for r in results if r.cell.framework == "numpy"}
    there = {r.cell.id.replace("numpy-isolated", "numpy"): r.as_dict() for r in results
             if r.cell.framework == "numpy-isolated"}
    assert here and {k: (v["status"], v["cases"]) for k, v in there.items()} == {
        k: (v["status"], v["cases"]) for k, v in here.items()}
    assert info["frameworks"]["numpy-isolated"]["version"] == np.__version__
    monkeypatch.setitem(frameworks.REGISTRY, "numpy-never", f"{__name__}:NeverRunnable")
    with pytest.raises(frameworks.FrameworkUnavailable, match="cannot run in this process either"):
        check.run_matrix(["numpy-never"], **kwargs)


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


def test_a_loss_unregistered_leaves_the_exports():
    losses.register(GCE)
    losses.unregister(GCE.name)
    assert "generalized_ce" not in losses.exports() and not losses.cases_for("generalized_ce")
    with pytest.raises(AttributeError, match="'wce_ref' has no attribute 'generalized_ce'"):
        _ = wce_ref.generalized_ce
    with pytest.raises(AttributeError, match="'wce_ref.oracle' has no attribute 'generalized_ce'"):
        _ = oracle.generalized_ce


@pytest.mark.parametrize("front", ["torch", "jax", "tensorflow", "keras"])
def test_a_loss_registered_at_run_time_is_in_every_front_end(extra_loss, requested, front):
    name = keras_framework() if front == "keras" else front  # Keras: keras-<the backend of this process>
    if name not in requested:
        pytest.skip(f"{name or 'keras-<this backend>'} not requested (WCE_FRAMEWORKS)")
    module = importlib.import_module(f"wce_ref.{front}")
    kwargs = GCE.cases[0].inputs("float64")
    expected = GCE.value(**kwargs)
    backend = frameworks.get(name)
    backend.load()  # the harness's settings (JAX's 64-bit mode) before any tensor is made
    data = backend.inputs(kwargs, GCE.float_args, "float64", "cpu")
    fn = module.generalized_ce
    assert "generalized_ce" in dir(module) and fn.__wrapped__ is GCE.value and fn.__module__ == f"wce_ref.{front}"
    assert float(np.asarray(fn(**data))) == pytest.approx(float(expected), rel=1e-12)
    assert float(np.asarray(module.loss_function("generalized_ce")(**data))) == float(np.asarray(fn(**data)))
    if hasattr(module, "loss_class"):  # the object front ends: a class named after the loss
        cls = getattr(module, GCE.front_name)
        assert cls is module.loss_class("generalized_ce") and GCE.front_name == "GeneralizedCeLoss"
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
