"""The agreement matrix: every implementation checked against the high-precision oracle.

A *cell* is one (implementation, device, dtype, loss, reduction). An
implementation is either a framework's version of our losses (named after the
framework: ``torch``) or one of its built-ins (``torch.cross_entropy``). A cell
runs every agreement case of its loss (:func:`wce_ref.losses.cases_for`) that the implementation can express,
compares the value and the autodiff gradient with :mod:`wce_ref.oracle`, and
passes when the worst norm-wise ULP error is within the dtype's tolerance
(:data:`TOLERANCE_ULP`). Failures that match an entry of
``known_deviations.toml`` are reported as *known deviations*, with their size,
instead of failing the cell.
"""

from __future__ import annotations

import fnmatch
import functools
import inspect
import math
import tomllib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import frameworks
from . import losses as _losses
from .frameworks import Backend, Builtin, NotSupported

__all__ = ["TOLERANCE_ULP", "Cell", "CellResult", "KNOWN_DEVIATIONS", "enumerate_cells", "format_ulp", "run_cell"]

#: Tolerance on the norm-wise ULP error of values and gradients, per dtype.
#: float64 and float32 allow for the conditioning of log-sum-exp (an error of
#: about |x| ULPs from rounding ``x - max(x)``, see ``wce_ref.losses._common``) on the
#: cases with logits up to |x| = 30. Half precisions: an implementation that
#: computes in float32 and rounds once is within 1 ULP; 4 admits one computing
#: natively in the half type with a few intermediate roundings.
TOLERANCE_ULP: dict[str, float] = {"float64": 64.0, "float32": 64.0, "float16": 4.0, "bfloat16": 4.0}

_DEVIATIONS_FILE = Path(__file__).with_name("known_deviations.toml")


@dataclass(frozen=True)
class KnownDeviation:
    impl: str
    reason: str
    device: str = "*"
    dtype: str = "*"
    loss: str = "*"
    reduction: str = "*"
    case: str = "*"
    what: str = "*"  # value, grad or *

    def matches(self, cell: Cell, case: str, what: str) -> bool:
        pairs = [
            (cell.impl, self.impl),
            (cell.device, self.device),
            (cell.dtype, self.dtype),
            (cell.loss, self.loss),
            (cell.reduction, self.reduction),
            (case, self.case),
            (what, self.what),
        ]
        return all(fnmatch.fnmatchcase(v, pattern) for v, pattern in pairs)


def load_known_deviations(path: Path = _DEVIATIONS_FILE) -> list[KnownDeviation]:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return [KnownDeviation(**entry) for entry in data.get("deviation", [])]


KNOWN_DEVIATIONS = load_known_deviations()


@dataclass(frozen=True)
class Cell:
    impl: str
    framework: str
    device: str
    dtype: str
    loss: str
    reduction: str

    @property
    def id(self) -> str:
        return f"{self.impl}-{self.device}-{self.dtype}-{self.loss}-{self.reduction}"

    @property
    def builtin(self) -> Builtin | None:
        for b in frameworks.get(self.framework).builtins():
            if b.name == self.impl and b.loss == self.loss:  # one implementation may cover several losses
                return b
        return None


@dataclass
class CaseResult:
    case: str
    value: dict[str, float]
    grad: dict[str, float] | None
    status: str  # pass, fail, known
    reason: str = ""


@dataclass
class CellResult:
    cell: Cell
    tolerance: float
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def status(self) -> str:
        statuses = {c.status for c in self.cases}
        if not self.cases:
            return "n/a"
        if "fail" in statuses:
            return "fail"
        return "known" if "known" in statuses else "pass"

    @property
    def passed(self) -> bool:
        return self.status in ("pass", "known")

    def worst(self, what: str = "any") -> tuple[float, str]:
        best = (0.0, "")
        for c in self.cases:
            for key, stats in (("value", c.value), ("grad", c.grad)):
                if stats is not None and what in ("any", key) and not stats["max_ulp"] <= best[0]:
                    best = (stats["max_ulp"], f"{c.case}:{key}")
        return best

    def failures(self) -> list[CaseResult]:
        return [c for c in self.cases if c.status == "fail"]

    def as_dict(self) -> dict[str, Any]:
        d = {"id": self.cell.id, **asdict(self.cell), "tolerance_ulp": self.tolerance, "status": self.status}
        d["worst_ulp"], d["worst_at"] = self.worst()
        d["cases"] = [asdict(c) for c in self.cases]
        return d


def _implementations(backend: Backend) -> list[tuple[str, Builtin | None]]:
    return [(backend.name, None)] + [(b.name, b) for b in backend.builtins()]


def applicable(builtin: Builtin | None, kwargs: dict[str, Any], reduction: str) -> bool:
    """Whether a built-in can express a case: it names every argument the case sets, and its own test agrees."""
    if builtin is None:
        return True
    params = inspect.signature(builtin.call).parameters
    named = {k for k, p in params.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}
    if any(v is not None and k not in named for k, v in kwargs.items()):
        return False
    return builtin.supports(kwargs, reduction)


def _supports(builtin: Builtin | None, loss: str, reduction: str) -> bool:
    if builtin is None:
        return True
    if builtin.loss != loss:
        return False
    return any(applicable(builtin, c.inputs("float64"), reduction) for c in _losses.cases_for(loss))


def enumerate_cells(
    names: Iterable[str],
    *,
    dtypes: Iterable[str] | None = None,
    devices: Iterable[str] | None = None,
    builtins: bool = True,
    losses: Iterable[str] | None = None,
) -> list[Cell]:
    """All cells of the given frameworks (each is imported; a broken one raises FrameworkUnavailable)."""
    want_dtypes = None if dtypes is None else set(dtypes)
    want_devices = None if devices is None else set(devices)
    want_losses = tuple(_losses.LOSSES) if losses is None else tuple(losses)
    cells = []
    for name in names:
        backend = frameworks.get(name)
        backend.load()
        for device in backend.devices():
            if want_devices is not None and device not in want_devices:
                continue
            for dtype in backend.dtypes(device):
                if want_dtypes is not None and dtype not in want_dtypes:
                    continue
                for impl, builtin in _implementations(backend) if builtins else [(backend.name, None)]:
                    for loss in want_losses:
                        for reduction in _losses.get(loss).reductions:
                            if _supports(builtin, loss, reduction) and (builtin is None or builtin.runs_on is None
                                                                        or builtin.runs_on(device)):
                                cells.append(Cell(impl, backend.name, device, dtype, loss, reduction))
    return cells


@functools.cache
def _exact(case_id: str, dtype: str, reduction: str) -> tuple[Any, Any]:
    case = next(c for c in _losses.cases_for() if c.id == case_id)
    return _losses.get(case.loss).exact(**case.inputs(dtype), reduction=reduction)


def _evaluate(backend: Backend, cell: Cell, builtin: Builtin | None, kwargs: dict[str, Any], case: _losses.Case):
    tensors = backend.inputs(kwargs, case.float_args, cell.dtype, cell.device)
    logits = tensors.pop("logits")
    if builtin is None:
        def fn(x):
            return backend.loss(cell.loss, x, **tensors, reduction=cell.reduction)
    else:

        def fn(x):
            return builtin.call(backend, logits=x, **tensors, reduction=cell.reduction)

    if builtin is not None and not builtin.grad:
        return backend.to_numpy(fn(logits)), None
    return backend.value_and_grad(fn, logits)


def run_cell(cell: Cell, *, deviations: list[KnownDeviation] | None = None) -> CellResult:
    """Run every applicable case of a cell against the oracle."""
    from . import oracle

    deviations = KNOWN_DEVIATIONS if deviations is None else deviations
    backend = frameworks.get(cell.framework)
    backend.load()  # the harness's settings (JAX's float64) before any tensor is made
    builtin = cell.builtin
    tol = TOLERANCE_ULP[cell.dtype]
    result = CellResult(cell, tol)
    for case in _losses.cases_for(cell.loss):
        kwargs = case.inputs(cell.dtype)
        if not applicable(builtin, kwargs, cell.reduction):
            continue
        try:
            value, grad = _evaluate(backend, cell, builtin, kwargs, case)
        except NotSupported:
            continue
        exact_value, exact_grad = _exact(case.id, cell.dtype, cell.reduction)
        v = oracle.error_stats(value, exact_value, cell.dtype).as_dict()
        g = None if grad is None else oracle.error_stats(grad, exact_grad, cell.dtype).as_dict()
        status, reason = "pass", ""
        for what, stats in (("value", v), ("grad", g)):
            if stats is None or stats["max_ulp"] <= tol:
                continue
            known = next((d for d in deviations if d.matches(cell, case.name, what)), None)
            if known is None:
                status, reason = "fail", f"{what} error {format_ulp(stats['max_ulp'])} ULP > {tol:g}"
                break
            status, reason = "known", known.reason
        result.cases.append(CaseResult(case.name, v, g, status, reason))
    return result


def format_ulp(x: float) -> str:
    """An error in ULPs as the reports write it: three significant digits, ``1.0e+07`` from 10,000 up, ``inf``.

    >>> format_ulp(0.4994), format_ulp(12345.0), format_ulp(float("inf"))
    ('0.499', '1.2e+04', 'inf')
    """
    if math.isinf(x):
        return "inf"
    return f"{x:.3g}" if x < 1e4 else f"{x:.1e}"


def runtime_info(names: Iterable[str]) -> dict[str, Any]:
    """Versions and device names of the frameworks, for the report."""
    import datetime
    import platform

    info: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "numpy": np.__version__,
        "frameworks": {},
    }
    for name in names:
        b = frameworks.get(name)
        info["frameworks"][name] = {
            "version": b.version(),
            "devices": {d: b.device_name(d) for d in b.devices()},
        }
    return info
