"""A loss the library does not have, written through the softmax-family template, for the run-time registration tests.

``tests/test_registries.py`` (every consumer picks it up) and ``tests/test_keras_frontend.py`` (a front-end class
for it) register :data:`GCE` at run time and unregister it after.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from wce_ref import losses
from wce_ref._validation import check_number
from wce_ref.losses._family import SoftmaxFamily

__all__ = ["GCE", "GeneralizedCE"]

# ---- a new softmax-family loss, defined at run time through the template: generalized cross entropy ----
# (Zhang and Sabuncu, NeurIPS 2018), a loss the library does not have: its own rows, gradient, framework formula
# and exact form; the family's check, layout, ignore_index, weights and reductions come from SoftmaxFamily.
SW = losses.get("softmax_wce")


class GeneralizedCE(SoftmaxFamily):
    name, params = "generalized_ce", {"q": 0.7}
    value_doc = r"""Generalized cross entropy (Zhang and Sabuncu, NeurIPS 2018), between CE (q -> 0) and MAE (q = 1).

    .. math::

        \ell_i = \frac{1 - p_{i y_i}^q}{q}

    >>> from wce_ref import losses
    >>> float(losses.get("generalized_ce").value(np.zeros((1, 2)), np.array([0]), q=1.0))
    0.5
    """
    grad_doc = r"""Gradient of the generalized cross entropy: :math:`p_y^q (p - e_y)`."""

    def prepare(self, inp, *, q):  # its own parameter, checked and named as the family's are
        return inp, {"q": check_number(q, "q", low=0.0, low_open=True)}

    def per_row(self, sm, y, *, q):
        return -np.expm1(-q * sm.nll(y)) / q  # 1 - p_y^q without cancellation

    def row_grad(self, sm, y, *, q):
        return sm.probs_minus_onehot(y), np.exp(-q * sm.nll(y))  # the gradient rows and their factor p_y^q

    def ops_per_row(self, r, *, q):
        return (1 - r.ops.exp(-q * r.nll_of())) / q

    def exact_row(self, o, nll, p, y, *, q):
        return (1 - p[y] ** q) / q, [p[y] ** q * (p[j] - (j == y)) for j in range(len(p))]


CASES = ("random_scale_3", "sample_weight", "nd_4d_channels_last")  # weights, an N-d channels-last batch
GCE = GeneralizedCE().loss(cases=tuple(dataclasses.replace(c, loss="generalized_ce") for c in SW.cases
                                       if c.name in CASES), bench=SW.bench, train=SW.train)
