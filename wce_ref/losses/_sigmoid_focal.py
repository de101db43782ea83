"""Binary (sigmoid) focal loss (Lin et al. 2017): soft targets, optional alpha balancing, any shape."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_number
from .._validation import compute_dtype as _compute_dtype
from . import _generic as g
from ._base import Builtin, Case
from ._common import sigmoid_pair, softplus_pair
from ._sigmoid_family import SigmoidFamily

__all__ = ["LOSS", "SigmoidFocal", "sigmoid_focal", "sigmoid_focal_grad"]

VALUE_DOC = r"""Binary (sigmoid) focal loss, alpha-balanced when ``alpha`` is given.

    Lin, Goyal, Girshick, He and Dollár, "Focal Loss for Dense Object
    Detection", ICCV 2017 (arXiv:1708.02002). For a logit :math:`x`, a (possibly
    soft) target :math:`t \in [0, 1]` and :math:`\sigma` the logistic function:

    .. math::

        \mathrm{ce} &= t\, \operatorname{softplus}(-x) + (1 - t)\, \operatorname{softplus}(x)
                     = -t \log \sigma(x) - (1 - t) \log(1 - \sigma(x)) \\
        1 - p_t &= t\, \sigma(-x) + (1 - t)\, \sigma(x) \\
        \ell(x, t) &= \alpha_t\, (1 - p_t)^\gamma\, \mathrm{ce}, \qquad
        \alpha_t = \alpha t + (1 - \alpha)(1 - t)

    with :math:`\alpha_t = 1` when ``alpha`` is None. For hard targets
    :math:`p_t` is the probability given to the true label, as in the paper;
    for soft targets :math:`1 - p_t` is a sum of non-negative terms, the
    definition of ``torchvision.ops.sigmoid_focal_loss`` and
    ``optax.sigmoid_focal_loss`` (computed here without cancellation).
    ``gamma=0`` and ``alpha=None`` give :func:`~wce_ref.sigmoid_wce` exactly.

    Defaults differ between the frameworks' own versions: Keras'
    ``BinaryFocalCrossentropy`` has ``alpha=0.25`` but applies it only with
    ``apply_class_balancing=True`` (its default is ``alpha=None`` here);
    ``optax.sigmoid_focal_loss`` has ``alpha=None``; torchvision's
    ``sigmoid_focal_loss`` has ``alpha=0.25`` (``alpha=0.25`` here) and
    ``reduction="none"``.

    Parameters
    ----------
    logits : array_like of float, any shape (0-d included)
        Raw scores. Any floating dtype; the result has the same dtype.
    targets : array_like, same shape as ``logits``
        Targets in :math:`[0, 1]` (hard 0/1 labels or soft labels).
    gamma : float >= 0
        Focusing parameter; 0 turns the modulating factor off.
    alpha : float in [0, 1], optional
        Weight of the positive term (the negative term gets ``1 - alpha``);
        None (default) weights both by 1.
    sample_weight : array_like broadcastable to ``logits``, optional
        Non-negative weight of each element (or of each sample, shape (N, 1)).
    reduction : {"none", "sum", "mean"}
        ``"mean"`` divides by the number of elements (sample weights do not
        change the divisor). On an empty batch ``"sum"`` and ``"mean"`` are 0.

    float16 and bfloat16 inputs are computed in float32; float32 inputs in
    float64 when ``gamma > 0`` (the power multiplies the relative error of
    :math:`1 - p_t` by :math:`\gamma`); the result has the input's dtype.

    Returns
    -------
    loss : scalar or ndarray
        A scalar of ``logits.dtype``, or the element-wise losses for ``"none"``.

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import sigmoid_focal
    >>> x = np.array([3.0, -1.0, 0.5])
    >>> y = np.array([1.0, 0.0, 0.0])
    >>> sigmoid_focal(x, y, reduction="none").round(4).tolist()  # the easy first sample barely counts
    [0.0001, 0.0227, 0.3774]
    >>> sigmoid_focal(x, y, alpha=0.25, reduction="none").round(4).tolist()  # negatives weighted 1 - alpha
    [0.0, 0.017, 0.2831]
    >>> float(sigmoid_focal(x, y, gamma=0.0, reduction="sum"))  # gamma=0: binary cross entropy  # doctest: +ELLIPSIS
    1.3359...
    """

GRAD_DOC = r"""Gradient of :func:`sigmoid_focal` with respect to the logits.

    With :math:`q = 1 - p_t` and :math:`r = \partial \log q / \partial x`:

    .. math::

        \frac{\partial \ell}{\partial x} = \alpha_t\, q^\gamma
            \bigl[(\sigma(x) - t) + \gamma\, r\, \mathrm{ce}\bigr], \qquad
        r = \frac{(1 - 2t)\, \sigma(x)\, \sigma(-x)}{q}
          = -\pi_a\, \sigma(x) + \pi_b\, \sigma(-x)

    where :math:`\pi_a = t \sigma(-x) / q` and :math:`\pi_b = (1 - t)\sigma(x) / q`
    are the shares of the two terms of :math:`q` (so :math:`|r| \le 1`). No
    :math:`q^{\gamma - 1}` appears: the gradient stays finite for
    :math:`0 < \gamma < 1` as :math:`q \to 0`. Times the sample weight, divided
    by the number of elements for ``"mean"``; for ``"none"`` this is the
    gradient of the sum.

    Parameters
    ----------
    logits, targets, gamma, alpha, sample_weight, reduction
        As for :func:`sigmoid_focal`.

    Returns
    -------
    grad : ndarray of ``logits.dtype``, shape of ``logits``

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import sigmoid_focal_grad
    >>> sigmoid_focal_grad(np.array([0.0, 0.0]), np.array([1.0, 0.0]), gamma=1.0, reduction="sum").round(5)
    array([-0.42329,  0.42329])
    """


def _alpha_t(t: np.ndarray, alpha: float) -> np.ndarray:
    return alpha * t + (1 - alpha) * (1 - t)


class SigmoidFocal(SigmoidFamily):
    """sigmoid_focal's own part: ``gamma`` and ``alpha``, its elements, derivative, formula and exact form."""

    name = "sigmoid_focal"
    class_name = "SigmoidFocalLoss"
    params = {"gamma": 2.0, "alpha": None}
    annotations = {"gamma": "float", "alpha": "float | None"}
    value_doc, grad_doc = VALUE_DOC, GRAD_DOC

    def prepare(self, *, gamma, alpha):
        gamma = check_number(gamma, "gamma", low=0.0)
        alpha = None if alpha is None else check_number(alpha, "alpha", low=0.0, high=1.0)
        return {"gamma": gamma, "alpha": alpha}

    def compute_dtype(self, dtype, *, gamma, alpha):
        # (1 - p_t) ** gamma multiplies the relative error of 1 - p_t by gamma: float32 arithmetic ends up ~5 ULP
        # off, so float32 input is computed in float64 when gamma > 0 (gamma = 0 is sigmoid_wce's computation)
        return np.dtype(np.float64) if gamma and dtype == np.float32 else _compute_dtype(dtype)

    def per_element(self, x, t, *, gamma, alpha):
        sp_pos, sp_neg = softplus_pair(x)
        loss = t * sp_neg + (1 - t) * sp_pos  # the same expression as sigmoid_wce: gamma=0 is bit-identical
        if gamma:
            sig, sig_neg = sigmoid_pair(x)
            loss = loss * (t * sig_neg + (1 - t) * sig) ** gamma
        return loss if alpha is None else loss * _alpha_t(t, alpha)

    def element_grad(self, x, t, *, gamma, alpha):
        sig, sig_neg = sigmoid_pair(x)
        grad = (1 - t) * sig - t * sig_neg  # sigma(x) - t without cancellation for hard targets (sigmoid_wce's)
        if gamma:
            sp_pos, sp_neg = softplus_pair(x)
            ce = t * sp_neg + (1 - t) * sp_pos
            q = t * sig_neg + (1 - t) * sig
            pos = q > 0  # q underflows only where q ** gamma is 0 too: r is then irrelevant but must stay finite
            r = np.where(pos, (1 - 2 * t) * sig * sig_neg / np.where(pos, q, 1), 0)
            grad = q**gamma * (grad + gamma * r * ce)
        return grad if alpha is None else grad * _alpha_t(t, alpha)

    def ops_per_element(self, ops, x, t, *, gamma, alpha):
        """``(1 - p_t) ** gamma`` is ``exp(gamma * log(1 - p_t))`` (see :func:`log_one_minus_p_t`), whose
        autodiff is finite for every gamma > 0; ``gamma == 0`` skips the factor (exactly 1, no ``0 * inf``)."""
        sp_pos, sp_neg = g.softplus_pair(ops, x)
        loss = t * sp_neg + (1 - t) * sp_pos
        if gamma:
            loss = loss * ops.exp(gamma * log_one_minus_p_t(ops, x, t, sp_pos, sp_neg))
        return loss if alpha is None else loss * (alpha * t + (1 - alpha) * (1 - t))

    def exact_element(self, o, x, t, *, gamma, alpha):
        """The direct derivative, in mpmath."""
        s, s_neg = o.sigmoid(x), o.sigmoid(-x)
        ce = t * o.log1pexp(-x) + (1 - t) * o.log1pexp(x)
        q = t * s_neg + (1 - t) * s  # 1 - p_t
        dq = (1 - 2 * t) * s * s_neg  # d q / d x
        gm = o.MP.mpf(gamma)
        at = 1 if alpha is None else o.MP.mpf(alpha) * t + (1 - o.MP.mpf(alpha)) * (1 - t)
        qg = q**gm if gamma else o.MP.mpf(1)
        dqg = gm * q ** (gm - 1) * dq if gamma and q else o.MP.mpf(0)  # d q^gamma / d x
        return at * qg * ce, at * (dqg * ce + qg * (s - t))


def log_one_minus_p_t(ops, x, t, sp_pos, sp_neg):
    """``log(1 - p_t) = logaddexp(log t - softplus(x), log(1 - t) - softplus(-x))`` over the operations table.

    Every ``where`` has two finite branches (t = 0 and t = 1 drop a term
    instead of taking ``log 0``), and the ``log1p(exp(lo - hi))`` term only sees
    ``lo <= hi``, so autodiff never meets ``0 * inf``: the derivative is
    ``-pi_a sigmoid(x) + pi_b sigmoid(-x)``, bounded by 1, for every logit.
    """
    zero = x * 0
    one = zero + 1
    has_a = t > 0  # the t * sigmoid(-x) term
    has_b = t < 1  # the (1 - t) * sigmoid(x) term
    a = ops.where(has_a, ops.log(ops.where(has_a, t, one)), zero) - sp_pos
    # log(1 - t): log1p(-t) for small t only; for t >= 1/4, 1 - t rounds by at most eps/2 and log is as accurate.
    # (XLA's float64 log1p on CPU is up to 129 ULP off for arguments in (-0.53, -0.28): jax-ml/jax#39707)
    tb = ops.where(has_b, t, zero)
    log_1mt = ops.where(tb < 0.25, ops.log1p(-tb), ops.log(1 - tb))
    b = ops.where(has_b, log_1mt, zero) - sp_neg
    use_a = (t >= 1) | (has_a & (a >= b))
    both = has_a & has_b
    hi = ops.where(use_a, a, b)
    lo = ops.where(both, ops.where(use_a, b, a), hi)
    return hi + ops.where(both, ops.log1p(ops.exp(lo - hi)), zero)


# --------------------------------------------------------------------------- agreement cases

_FLOATS = ("logits", "targets", "sample_weight")


def _case(
    name, shape=(64,), scale=3.0, *, gamma=2.0, alpha=0.25, soft=False, sample=False, zero=False, confident=False
):
    def build(rng):
        x = rng.normal(size=shape) * scale
        if zero:
            x = np.where(rng.uniform(size=shape) < 0.5, 0.0, x)  # exactly-zero logits: autodiff's weak spot
        t = rng.uniform(size=shape) if soft else (rng.uniform(size=shape) < 0.3).astype(np.float64)
        if confident:  # every prediction confidently right: p_t -> 1, where gamma < 1 used to give NaN gradients
            x = np.round(rng.uniform(4.0, 30.0, size=shape) * 8) / 8 * np.where(t > 0.5, 1.0, -1.0)
        kw = {"logits": x, "targets": t, "gamma": gamma, "alpha": alpha}
        if sample:
            kw["sample_weight"] = rng.uniform(0.0, 2.0, size=shape)
        return kw

    return Case(name, "sigmoid_focal", build, float_args=_FLOATS)


def _large(rng):
    x = rng.choice([-1e4, 1e4], size=16) * rng.uniform(0.5, 1.0, size=16)
    t = (rng.uniform(size=16) < 0.5).astype(np.float64)
    t[:2] = (x[:2] < 0).astype(np.float64)  # at least two confidently wrong samples: losses ~1e4
    return {"logits": x, "targets": t, "gamma": 2.0, "alpha": 0.25}


CASES = (
    _case("random_scale_0.1", scale=0.1),
    _case("random_scale_3", scale=3.0),
    _case("random_scale_30", scale=30.0),
    Case("logits_1e4", "sigmoid_focal", _large, float_args=_FLOATS, tags=("large",)),
    _case("soft_targets", soft=True, alpha=None),
    _case("soft_targets_alpha", soft=True, gamma=1.5, alpha=0.75),
    _case("gamma_0.5_confident", gamma=0.5, alpha=None, confident=True),
    _case("gamma_0.5_confident_soft", shape=(32,), gamma=0.5, alpha=0.25, confident=True, soft=True),
    _case("gamma_0", gamma=0.0),
    _case("no_alpha", alpha=None),
    _case("gamma_3_alpha_1", gamma=3.0, alpha=1.0),
    _case("n_1", shape=(1,)),
    _case("scalar_0d", shape=()),
    _case("multilabel_2d", shape=(16, 6)),
    _case("nd_3d", shape=(4, 3, 5), alpha=None),
    _case("zero_logits", shape=(32,), zero=True),
    _case("sample_weight", shape=(16, 3), sample=True),
)


# --------------------------------------------------------------------------- the frameworks' own


def _keras_binary_focal(backend, *, logits, targets, gamma=2.0, alpha=None, sample_weight=None, reduction):
    import keras

    tf = backend.load()
    loss = keras.losses.BinaryFocalCrossentropy(
        apply_class_balancing=alpha is not None,
        alpha=0.25 if alpha is None else alpha,
        gamma=gamma,
        from_logits=True,
        reduction={"none": None, "sum": "sum"}.get(reduction, "sum_over_batch_size"),
    )
    shape = tuple(logits.shape)
    # Keras averages over the last axis; a trailing axis of length 1 keeps one loss per element
    sw = None if sample_weight is None else tf.broadcast_to(sample_weight, shape)
    res = loss(targets[..., None], logits[..., None], sample_weight=sw)
    return tf.reshape(res, shape) if reduction == "none" else res


def _optax_sigmoid_focal(backend, *, logits, targets, gamma=2.0, alpha=None, reduction):
    import optax

    jnp = backend.load().numpy
    per = optax.sigmoid_focal_loss(logits, targets, alpha=alpha, gamma=gamma)
    if reduction == "none":
        return per
    total = jnp.sum(per)
    return total if reduction == "sum" or per.size == 0 else total / per.size


def _any(kw: dict[str, Any], reduction: str) -> bool:
    return True


BUILTINS = (
    Builtin(
        "keras.BinaryFocalCrossentropy",
        "sigmoid_focal",
        _keras_binary_focal,
        _any,
        note="keras.losses.BinaryFocalCrossentropy(from_logits=True, gamma=, apply_class_balancing=alpha is not "
        "None, alpha=) on a trailing axis of 1 (Keras averages over the last axis)",
        defaults="sigmoid_focal(x, t, gamma=2.0): its alpha=0.25 acts only with apply_class_balancing=True "
        "(then alpha=0.25); Keras averages over the last axis and the batch",
        framework="tensorflow",
    ),
    Builtin(
        "optax.sigmoid_focal_loss",
        "sigmoid_focal",
        _optax_sigmoid_focal,
        _any,
        note="optax.sigmoid_focal_loss(x, t, alpha=, gamma=), reduced by hand",
        defaults="sigmoid_focal(x, t, gamma=2.0, alpha=None, reduction='none')",
        framework="jax",
    ),
)


def _bench(n: int, c: int, rng: np.random.Generator) -> dict[str, Any]:
    return {
        "logits": rng.normal(scale=3.0, size=(n, c)),
        "targets": (rng.random((n, c)) < 0.1).astype(np.float64),
    }


LOSS = SigmoidFocal().loss(cases=CASES, builtins=BUILTINS, bench=_bench)
sigmoid_focal, sigmoid_focal_grad = LOSS.value, LOSS.grad
