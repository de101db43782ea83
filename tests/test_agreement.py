"""The agreement matrix: one test per (implementation, device, dtype, loss, reduction) cell.

Frameworks come from ``WCE_FRAMEWORKS`` (see conftest). A registered framework
that was not requested is one skipped test saying so; a requested framework that
cannot be imported is one failing test, so that a run cannot pass by skipping.
"""

from __future__ import annotations

import pytest
from conftest import requested_frameworks

from wce_ref import agreement, frameworks


def _params():
    wanted = requested_frameworks()
    params = []
    for name in frameworks.names():
        if name not in wanted:
            params.append(
                pytest.param(
                    None,
                    id=f"{name}-not-requested",
                    marks=pytest.mark.skip(reason=f"{name} not requested (WCE_FRAMEWORKS)"),
                )
            )
            continue
        try:
            cells = agreement.enumerate_cells([name])
        except frameworks.FrameworkUnavailable as exc:
            params.append(pytest.param(exc, id=f"{name}-import-error"))
            continue
        params += [pytest.param(cell, id=cell.id) for cell in cells]
    return params


@pytest.mark.parametrize("cell", _params())
def test_cell_agrees_with_oracle(cell):
    if isinstance(cell, Exception):
        pytest.fail(f"requested framework failed to import: {cell}")
    result = agreement.run_cell(cell)
    assert result.cases, f"{cell.id}: no case ran"
    failures = [(c.case, c.reason) for c in result.failures()]
    assert not failures, f"{cell.id} beyond {result.tolerance:g} ULP: {failures}"


def test_known_deviations_are_exercised():
    """Every entry of the deviations file names an implementation that exists."""
    impls = {"*"}
    for name in frameworks.names():
        backend = frameworks.get(name)
        impls |= {name} | {b.name for b in backend.builtins()}
    import fnmatch

    for dev in agreement.KNOWN_DEVIATIONS:
        assert any(fnmatch.fnmatchcase(i, dev.impl) for i in impls), dev
        assert dev.reason.strip()


def test_a_wrong_implementation_fails_its_cell(monkeypatch):
    """The harness catches a deviation of one part in a million: it is not vacuous."""
    backend = frameworks.get("numpy")
    real = type(backend).loss

    def off_by_a_little(self, name, *args, **kw):
        value, grad = real(self, name, *args, **kw)
        return value * (1 + 1e-6), grad

    monkeypatch.setattr(type(backend), "loss", off_by_a_little)
    cell = agreement.Cell("numpy", "numpy", "cpu", "float64", "softmax_wce", "sum")
    assert agreement.run_cell(cell).status == "fail"
