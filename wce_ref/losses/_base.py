"""What a loss is: one :class:`Loss` record per module, and the registry every consumer iterates.

A loss module defines its NumPy value and gradient, the argument check they
share with every framework version, its exact (mpmath) form for the oracle,
its framework-generic formula over :class:`~wce_ref.losses._generic.Ops`, its
agreement cases and, optionally, the frameworks' own built-ins for it. The
agreement matrix, ``wce check``, the benchmark grid, the training engines and
the strategies read :data:`LOSSES`; none of them names a loss.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._exact_forms import EXACT

__all__ = [
    "LOSSES",
    "Builtin",
    "Case",
    "Loss",
    "cases_for",
    "exports",
    "get",
    "names",
    "register",
    "round_to",
    "unregister",
]


def round_to(a: Any, dtype: str) -> np.ndarray:
    """Round ``a`` to ``dtype`` and return the exact result as float64."""
    arr = np.asarray(a, dtype=np.float64)
    if dtype == "bfloat16":
        import ml_dtypes

        return arr.astype(ml_dtypes.bfloat16).astype(np.float64)
    return arr.astype(dtype).astype(np.float64)


@dataclass(frozen=True)
class Case:
    """One named input of one loss.

    ``build(rng)`` returns the loss's keyword arguments in float64; the float
    ones named in ``float_args`` are rounded to the cell's dtype by
    :meth:`inputs`, so that the oracle sees the exact values the implementation
    receives. Inputs are seeded by the case's id: a case is the same everywhere.
    """

    name: str
    loss: str
    build: Callable[[np.random.Generator], dict[str, Any]]
    float_args: tuple[str, ...] = ("logits",)
    reductions: tuple[str, ...] | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    def inputs(self, dtype: str) -> dict[str, Any]:
        """Keyword arguments (without ``reduction``) for ``dtype``."""
        seed = sum(map(ord, f"{self.loss}/{self.name}"))
        kwargs = self.build(np.random.default_rng(seed))
        for key in self.float_args:
            value = kwargs.get(key)
            if isinstance(value, np.ndarray | np.generic | list):
                kwargs[key] = round_to(value, dtype)  # an array, 0-d included
            elif isinstance(value, float):
                kwargs[key] = float(round_to(value, dtype))  # a Python number stays one
        return kwargs

    @property
    def id(self) -> str:
        return f"{self.loss}/{self.name}"


@dataclass(frozen=True)
class Builtin:
    """A framework's own loss, called the way its documentation says, mapped to a reference loss.

    ``call(backend, reduction=..., **tensors)`` returns the framework's result;
    ``supports(kwargs, reduction)`` says whether the built-in can express a case
    (given the NumPy keyword arguments) at all; ``grad`` is False for
    value-only built-ins (scikit-learn's ``log_loss``). ``framework`` names the
    framework it belongs to when a loss module declares it; ``defaults`` is the
    reference call that reproduces the built-in called with its own defaults.
    """

    name: str
    loss: str
    call: Callable[..., Any]
    supports: Callable[[dict[str, Any], str], bool]
    grad: bool = True
    note: str = ""
    framework: str = ""
    defaults: str = ""  # the reference call that reproduces the built-in called with its own defaults
    #: whether it runs on a device of its framework ("cpu", "cuda"); None: on every one
    runs_on: Callable[[str], bool] | None = None


@dataclass(frozen=True)
class Loss:
    """Everything that defines one loss.

    Parameters
    ----------
    name : the public function name (``softmax_wce``); its gradient is ``name + "_grad"``.
    family : ``"sigmoid"`` (element-wise, any shape) or ``"softmax"`` (a class axis).
    value, grad : the NumPy reference and its analytic gradient with respect to the logits.
    check : ``check(**kwargs) -> dict`` validates NumPy arguments exactly as ``value`` does and returns the
        normalised non-array arguments (``reduction``, ``gamma`` ...). Framework versions run it on host
        views of their tensors before any framework operation, so messages are the reference's.
    formula : ``formula(ops, **arrays, **static)``, the framework version over the operations table.
    exact : ``exact(**kwargs, reduction=...) -> (value, grad)`` in mpmath, for the oracle.
    arrays : names of the array arguments (tensors in a framework); the positional ones come first.
    positional : how many of ``arrays`` are positional (``logits, labels`` = 2).
    float_args : array arguments that hold floats (cast to the cell's dtype in the agreement matrix).
    reductions : reductions the loss supports; ``cases``: its agreement cases; ``builtins``: frameworks' own.
    bench : ``bench(n, c, rng) -> kwargs`` inputs of the benchmark grid (None: not benchmarked).
    train : ``train(y, **params) -> kwargs`` the loss's arguments for training labels ``y`` (class
        weights, priors, counts ...), used by the training engines and strategies.
    class_name : the loss's class name in the framework front ends (default: CamelCase of ``name`` + Loss).
    helpers : further public NumPy functions of the loss module (``logit_adjust``, ``ldam_margins``), exported
        beside the loss by ``wce_ref`` and ``wce_ref.losses`` under their ``__name__``.
    memo_check : whether ``check`` reads the batch's values only through per-element intervals (finite logits,
        labels in range, weights non-negative, probabilities in [0, 1]) and the reductions' normalisers, so
        that the framework versions may skip it for values inside those of calls that passed
        (:mod:`wce_ref.frameworks._check_memo`); False where it also tests rows (overflow of shifted logits).
    """

    name: str
    family: str
    value: Callable[..., Any]
    grad: Callable[..., Any]
    check: Callable[..., dict[str, Any]]
    formula: Callable[..., Any]
    exact: Callable[..., tuple[Any, Any]]
    arrays: tuple[str, ...]
    positional: int
    float_args: tuple[str, ...]
    reductions: tuple[str, ...]
    cases: tuple[Case, ...] = ()
    builtins: tuple[Builtin, ...] = ()
    bench: Callable[[int, int, np.random.Generator], dict[str, Any]] | None = None
    bench_reduction: str = "mean"
    train: Callable[..., dict[str, Any]] | None = None
    class_name: str = ""
    helpers: tuple[Callable[..., Any], ...] = ()
    memo_check: bool = True

    @property
    def exports(self) -> dict[str, Callable[..., Any]]:
        """The public NumPy functions of this loss by name: the value, ``name + "_grad"`` and the helpers."""
        return {self.name: self.value, self.name + "_grad": self.grad, **{h.__name__: h for h in self.helpers}}

    @property
    def front_name(self) -> str:
        """The class name of this loss in the framework front ends (``WeightedCrossEntropyLoss``)."""
        return self.class_name or "".join(p.capitalize() for p in self.name.split("_")) + "Loss"

    @property
    def inputs(self) -> tuple[str, ...]:
        """The per-batch arguments of a loss object's call: the data (logits, labels) and ``sample_weight``."""
        data = self.arrays[: min(self.positional, 2)]
        return data + (("sample_weight",) if "sample_weight" in self.arrays else ())

    @property
    def config(self) -> tuple[str, ...]:
        """The arguments a loss object is configured with (everything but :attr:`inputs`)."""
        return tuple(p for p in inspect.signature(self.value).parameters if p not in self.inputs)

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The reference signature's arguments by name (defaults filled in), or a TypeError naming the problem.

        A plain call (positional arguments for positional parameters, known keywords, every required argument
        given) is bound from the signature's table (:func:`_parameters`, computed once per function); anything
        else goes through :meth:`inspect.Signature.bind`, whose message the TypeError carries.
        """
        names, positional, defaults = _parameters(self.value)
        if len(args) <= len(positional):
            bound = dict(defaults)
            bound.update(zip(positional[: len(args)], args, strict=True))
            if (bound.keys() | kwargs.keys()) == names.keys() and not kwargs.keys() & set(positional[: len(args)]):
                bound.update(kwargs)
                return {k: bound[k] for k in names}
        sig = inspect.signature(self.value)
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.name}(): {exc}") from None
        bound.apply_defaults()
        return dict(bound.arguments)

    def split(self, bound: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Split bound arguments into (arrays, others)."""
        arrays = {k: v for k, v in bound.items() if k in self.arrays}
        return arrays, {k: v for k, v in bound.items() if k not in self.arrays}

    @property
    def default_reduction(self) -> str:
        return inspect.signature(self.value).parameters["reduction"].default


@functools.cache
def _parameters(fn: Callable[..., Any]) -> tuple[dict[str, None], tuple[str, ...], dict[str, Any]]:
    """``fn``'s parameter names (in order), its positional-or-keyword ones and the defaults, computed once."""
    params = inspect.signature(fn).parameters
    positional = tuple(k for k, p in params.items() if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD)
    defaults = {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY) for p in params.values()):
        positional = ()  # only the general binder understands these
        defaults = {}
    return dict.fromkeys(params), positional, defaults


#: name -> Loss, in registration order. One line per loss in ``wce_ref/losses/__init__.py``.
LOSSES: dict[str, Loss] = {}


def register(loss: Loss) -> Loss:
    """Add a loss to the registry (every consumer picks it up); returns it."""
    if loss.family not in ("sigmoid", "softmax"):
        raise ValueError(f"family must be 'sigmoid' or 'softmax'; received {loss.family!r}")
    LOSSES[loss.name] = loss
    EXACT[loss.name] = loss.exact  # what the oracle serves as oracle.<name>, without importing the losses
    return loss


def unregister(name: str) -> None:
    """Remove a loss from the registry (a no-op for an unknown name)."""
    LOSSES.pop(name, None)
    EXACT.pop(name, None)


def names() -> list[str]:
    """The registered losses' names, in registration order."""
    return list(LOSSES)


def exports() -> dict[str, Callable[..., Any]]:
    """Every registered loss's public NumPy functions by name (what ``wce_ref`` and ``wce_ref.losses`` export).

    Examples
    --------
    >>> from wce_ref import losses
    >>> losses.exports()["softmax_wce_grad"] is losses.get("softmax_wce").grad
    True
    """
    return {k: f for spec in LOSSES.values() for k, f in spec.exports.items()}


def cases_for(loss: str | None = None) -> list[Case]:
    """The agreement cases of the registered loss ``loss`` (of every registered loss when None)."""
    return [c for spec in LOSSES.values() if loss in (None, spec.name) for c in spec.cases]


def get(name: str) -> Loss:
    """The registered loss ``name``, or a ValueError listing the known ones."""
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"loss must be one of {names()}; received {name!r}") from None
