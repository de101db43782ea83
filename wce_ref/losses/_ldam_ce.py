"""LDAM: label-distribution-aware margin loss (Cao et al., NeurIPS 2019), as in the authors' published code.

The loss is :func:`~wce_ref.losses.softmax_wce` of the margined, scaled logits
``scale * (x - m_y onehot(y))``; its gradient is ``scale`` times softmax_wce's
gradient there.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _validation
from .._validation import WCEInputError, as_positive_vector, check_number
from .._weights import _check_labels
from ._base import Case
from ._common import Softmax
from ._family import REQUIRED
from ._logit_adjusted_ce import row_relative, within_range
from ._softmax_wce import SoftmaxWCE, nd_case

__all__ = ["LOSS", "ldam_ce", "ldam_ce_grad", "ldam_margins"]


def _check_counts(class_counts: Any, c: int) -> None:
    """Strictly positive counts of length ``c``; for a traced tensor (values unknown) only the shape."""
    as_positive_vector(class_counts, name="class_counts", length=c, dtype=np.dtype(np.float64))


def ldam_margins(class_counts: Any, max_margin: float = 0.5) -> np.ndarray:
    r"""The per-class LDAM margins :math:`m_j = \text{max\_margin} \cdot (\min_k n_k / n_j)^{1/4}`, float64.

    Computed as the authors' code does (``1 / sqrt(sqrt(n))``, rescaled so the
    largest margin, the rarest class's, is ``max_margin``).

    Examples
    --------
    >>> from wce_ref.losses import ldam_margins
    >>> ldam_margins([10000, 625, 16]).round(4)
    array([0.1, 0.2, 0.5])
    """
    n = as_positive_vector(class_counts, name="class_counts", length=np.size(class_counts),
                           dtype=np.dtype(np.float64))
    max_margin = check_number(max_margin, "max_margin", low=0.0)
    inv = 1.0 / np.sqrt(np.sqrt(n))
    return inv * (max_margin / inv.max())


def _scaled(inp, class_counts, max_margin, scale) -> np.ndarray:
    """``scale * (x - m_y onehot)`` less each row's largest value, (M, C) (see ``row_relative``)."""
    counts = np.ones(inp.c) if isinstance(class_counts, _validation.ShapeOnly) else class_counts
    margins = ldam_margins(counts, max_margin).astype(inp.x.dtype)
    rows = np.arange(inp.x.shape[0])
    offset = np.zeros_like(inp.x)
    offset[rows, inp.y] = -margins[inp.y]
    what = f"scale * (logits - margins) for scale={scale!r}"
    with np.errstate(over="ignore"):
        z = scale * row_relative(inp.x, offset, what)
    if not np.isfinite(z).all():
        raise WCEInputError(
            f"{what} overflows {inp.x.dtype.name} (the value or its differences within a row), the dtype this "
            f"computation runs in for these logits; use float64 logits or a smaller scale"
        )
    return z


VALUE_DOC = r"""LDAM loss: weighted cross entropy of scaled logits with a per-class margin on the target.

    Cao et al., "Learning Imbalanced Datasets with Label-Distribution-Aware
    Margin Loss", NeurIPS 2019. With class counts :math:`n_j`, the margin of
    class :math:`j` is proportional to :math:`n_j^{-1/4}`, scaled so that the
    largest (the rarest class's) is ``max_margin``:

    .. math::

        m_j = \text{max\_margin} \cdot \Bigl(\frac{\min_k n_k}{n_j}\Bigr)^{1/4},
        \qquad
        z_{ic} = s\,\bigl(x_{ic} - m_{y_i} [c = y_i]\bigr),
        \qquad
        \ell_i = -w_{y_i} \log \frac{e^{z_{i y_i}}}{\sum_c e^{z_{ic}}}

    with :math:`s` = ``scale``, then reduced as :func:`~wce_ref.softmax_wce`
    reduces (``weighted_mean`` divides by :math:`\sum_i s_i w_{y_i}`, as
    ``F.cross_entropy(weight=)`` does).

    **Convention.** This follows the authors' published code (``LDAMLoss`` in
    github.com/kaidic/LDAM-DRW, ``losses.py``): ``x_m = x - batch_m``, the
    target logit replaced by ``x_m``, then ``F.cross_entropy(s * output,
    target, weight=w)``. The margin is subtracted *before* scaling, so the
    target logit loses :math:`s\,m_y` (up to 15 with the defaults), and the scale
    multiplies every logit. The paper states the loss without a scale (that is
    ``scale=1`` here); the code that produced its results uses ``s=30`` on
    normalised (cosine) logits (its ``NormedLinear`` output layer, chosen
    whenever the loss is LDAM). We follow the code because it is what LDAM
    results, and every re-implementation we checked, mean by "LDAM"; with raw
    (unnormalised) logits, consider ``scale=1``. The margins are computed as
    the code does (``1 / sqrt(sqrt(n))`` rescaled to ``max_margin``).
    Deferred re-weighting (LDAM-DRW) is a training schedule over this loss:
    ``class_weights`` uniform first, class-balanced later (the authors switch
    at epoch 160 of 200 to effective-number weights with beta 0.9999).

    Parameters
    ----------
    logits : array_like of float, shape (N, C), (N, C, d1, ..., dk) or (C,)
        (C,) is one unbatched sample with a 0-d label, as ``torch.nn.functional.cross_entropy`` takes it.
    labels : array_like of int, shape (N,), (N, d1, ..., dk) or () with (C,) logits
        Class indices in ``[0, C)`` (or ``ignore_index``); probability labels are not supported (the margin
        needs one target class).
    class_counts : array_like, shape (C,)
        Strictly positive number of training samples per class (floats accepted). In training
        (``LOSS.train``) they are the training label counts, an absent class counting as 1.
    max_margin : float, >= 0
        The largest margin (the rarest class's); 0 gives plain scaled cross entropy.
    scale : float, > 0
        The factor :math:`s` applied to the margined logits.
    class_weights, sample_weight, reduction, ignore_index, class_axis
        As for :func:`~wce_ref.softmax_wce`.
        An empty batch (N = 0) gives 0 for every reduction but ``none`` (PyTorch returns NaN for the means).

    Returns
    -------
    loss : scalar or ndarray of the labels' shape, in ``logits.dtype``

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import ldam_ce
    >>> x = np.array([[0.3, 0.1, -0.2], [0.0, 0.2, 0.4]])
    >>> y = np.array([0, 2])
    >>> float(ldam_ce(x, y, class_counts=[10000, 625, 16]))  # margins 0.1, 0.2, 0.5  # doctest: +ELLIPSIS
    4.5255...
    >>> float(ldam_ce(x, y, class_counts=[10000, 625, 16], max_margin=0.0))  # no margin  # doctest: +ELLIPSIS
    0.002478902211301...
    """

GRAD_DOC = r"""Gradient of :func:`ldam_ce` with respect to the logits.

    :math:`\partial z / \partial x = s I` (the margins are constants), so the
    gradient is ``scale`` times :func:`~wce_ref.softmax_wce_grad` at the
    margined, scaled logits :math:`z`:

    .. math::

        \frac{\partial \ell_i}{\partial x_{ij}} = s\, w_{y_i}\,\bigl(\operatorname{softmax}(z_i)_j - [j = y_i]\bigr)

    divided by the reduction's normaliser.

    Parameters
    ----------
    logits, labels, class_counts, max_margin, scale, class_weights, sample_weight, reduction, ignore_index, \
class_axis
        As for :func:`ldam_ce`.

    Returns
    -------
    grad : ndarray of ``logits.dtype``, the logits' shape

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import ldam_ce_grad
    >>> g = ldam_ce_grad(np.zeros((1, 2)), np.array([1]), class_counts=[1, 1], max_margin=0.0, scale=2.0,
    ...                  reduction="sum")
    >>> g
    array([[ 1., -1.]])
    """


class LDAM(SoftmaxWCE):
    """Weighted cross entropy of ``scale * (x - m_y onehot(y))``: the margins and the scale are its own."""

    name = "ldam_ce"
    class_name = "LDAMLoss"
    params = {"class_counts": REQUIRED, "max_margin": 0.5, "scale": 30.0}
    arrays = ("class_counts",)
    soft = False  # the margin needs one target class
    memo_check = False  # the check tests each row for overflow of scale * (logits - margins)
    value_doc, grad_doc = VALUE_DOC, GRAD_DOC

    def prepare(self, inp, *, class_counts, max_margin, scale):
        max_margin = check_number(max_margin, "max_margin", low=0.0)
        scale = check_number(scale, "scale", low=0.0, low_open=True)
        _check_counts(class_counts, inp.c)
        return inp, {"class_counts": class_counts, "max_margin": max_margin, "scale": scale}

    def check_more(self, inp, **own):
        if not within_range(inp.x, own["max_margin"], max(own["scale"], 1.0)):
            _scaled(inp, **own)  # the exact test, only where the cheap one cannot tell

    def softmax(self, inp, **own):
        return Softmax(_scaled(inp, **own))

    def grad_rows(self, inp, sm, *, scale, **own):
        grad = super().grad_rows(inp, sm)
        grad *= scale  # d z / d x = scale I
        return grad

    def ops_logits(self, r, *, class_counts, max_margin, scale):
        ops = r.ops
        # m_j = max_margin * (n_min / n_j) ** (1/4), from the logs (the table has no min)
        log_n = ops.log(ops.cast(class_counts, r.x))[None, :]
        log_min = ops.take(log_n, ops.argmax(-log_n, 1))
        margins = (float(max_margin) * ops.exp(-0.25 * (log_n - log_min[:, None])))[0]
        target = 1 - ops.zero_at(r.x * 0 + 1, r.y)  # one-hot of the labels, (M, C)
        return float(scale) * (r.x - ops.gather(margins, r.y)[:, None] * target)

    def exact_own(self, o, *, class_counts, max_margin, scale):
        inv = [1 / o.MP.root(n, 4) for n in o.mp_array(class_counts)]
        return {"margins": [o.MP.mpf(max_margin) * v / max(inv) for v in inv], "s": o.MP.mpf(scale)}

    def exact_logits(self, o, x, y, *, margins, s):
        return np.array([s * (x[j] - (margins[y] if j == y else 0)) for j in range(len(x))], dtype=object)

    def exact_weighted_row(self, o, x, target, w, eps, **own):
        value, grad = super().exact_weighted_row(o, x, target, w, eps, **own)
        return value, grad * own["s"]


# --------------------------------------------------------------------------- agreement cases

NAME = "ldam_ce"


def _counts(rng, c, low=10.0, high=5000.0):
    return np.maximum(np.round(np.geomspace(high, low, c) * rng.uniform(0.8, 1.2, size=c)), 1).astype(np.int64)


def _case(name, n=32, c=5, spread=3.0, *, weights=True, large=False, counts=_counts, **extra):
    def build(rng):
        if large:
            x = rng.choice([-1e4, 1e4], size=(n, c)) * rng.uniform(0.5, 1.0, size=(n, c))
        else:
            x = rng.normal(size=(n, c)) * spread
        kw = {"logits": x, "labels": rng.integers(0, c, size=n), "class_counts": counts(rng, c)}
        kw["class_weights"] = rng.uniform(0.5, 3.0, size=c) if weights else None
        kw.update({k: (v(rng, n, c) if callable(v) else v) for k, v in extra.items()})
        if kw.get("ignore_index") is not None:
            kw["labels"] = np.where(np.arange(n) % 4 == 1, kw["ignore_index"], kw["labels"])
        return kw

    return Case(name, NAME, build, float_args=("logits", "class_weights", "sample_weight"),
                tags=("large",) if large else ())


CASES = (
    _case("random_scale_0.1", spread=0.1),
    _case("random_scale_3", spread=3.0),
    _case("random_scale_30", spread=30.0),
    _case("logits_1e4", n=6, c=4, large=True),
    _case("n_1", n=1),
    _case("c_2", c=2),
    _case("no_weights", weights=False),
    _case("ignore_index", ignore_index=-100),
    _case("sample_weight", sample_weight=lambda rng, n, c: rng.uniform(0.0, 2.0, size=n)),
    _case("scale_1", scale=1.0),
    _case("max_margin_0", max_margin=0.0),
    _case("max_margin_1", max_margin=1.0, scale=0.5),
    _case("equal_counts", counts=lambda rng, c: np.full(c, 100)),
    _case("counts_1_to_1e6", counts=lambda rng, c: np.geomspace(1e6, 1, c).round().astype(np.int64)),
    nd_case(NAME, {"class_counts": lambda rng, c: _counts(rng, c)}),
    nd_case(NAME, {"class_counts": lambda rng, c: _counts(rng, c), "scale": 10.0}, channels_last=True),
)


def _bench(n: int, c: int, rng: np.random.Generator) -> dict[str, Any]:
    return {
        "logits": rng.normal(scale=0.3, size=(n, c)),
        "labels": rng.integers(0, c, n),
        "class_counts": _counts(rng, c),
    }


def _train(y: np.ndarray, *, n_classes: int, class_weights: Any = None, max_margin: float = 0.5,
           scale: float = 30.0) -> dict[str, Any]:
    """The loss's arguments for training labels ``y``: the class counts are the label counts.

    A class absent from ``y`` counts as 1 (the count must be positive), which gives it the largest margin.
    """
    y, k = _check_labels(y, n_classes)
    counts = np.maximum(np.bincount(y, minlength=k), 1).astype(np.float64)
    return {"class_counts": counts, "max_margin": check_number(max_margin, "max_margin", low=0.0),
            "scale": check_number(scale, "scale", low=0.0, low_open=True), "class_weights": class_weights}


LOSS = LDAM().loss(cases=CASES, bench=_bench, train=_train, helpers=(ldam_margins,))
ldam_ce, ldam_ce_grad = LOSS.value, LOSS.grad
