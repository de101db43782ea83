"""The contract suite: every check of :mod:`wce_ref.contract` on every registered loss and framework.

Registering a loss or a framework adds its rows here, with no test of its own
(imbalanced-learn's ``parametrize_with_checks``). Frameworks come from
``WCE_FRAMEWORKS``: one not requested is skipped with that reason, one requested
that does not import fails.
"""

from __future__ import annotations

import pytest
from conftest import requested_frameworks

from wce_ref import contract, frameworks, losses


def _loss_params():
    return [pytest.param(check, id=f"{name}-{check_name}")
            for name in losses.LOSSES for check_name, check in contract.loss_checks(name)]


def _framework_params():
    wanted = requested_frameworks()
    return [pytest.param(check, id=f"{name}-{check_name}",
                         marks=() if name in wanted else pytest.mark.skip(reason=f"{name} not requested"))
            for name in frameworks.names() for check_name, check in contract.framework_checks(name)]


@pytest.mark.parametrize("check", _loss_params())
def test_loss_contract(check):
    check()


@pytest.mark.parametrize("check", _framework_params())
def test_framework_contract(check):
    check()


def test_the_checks_catch_a_wrong_gradient_and_a_wrong_reduction():
    """Not vacuous: a gradient 1e-4 off, and a 'sum' that is not the sum of 'none', each fail their check."""
    import dataclasses

    spec = losses.get("poly1_ce")
    off = dataclasses.replace(spec, grad=lambda *a, **k: spec.grad(*a, **k) * (1 + 1e-4))
    with pytest.raises(AssertionError, match="poly1_ce"):
        contract.check_gradient_matches_finite_differences(off)
    half = dataclasses.replace(spec, value=lambda *a, reduction="weighted_mean", **k: spec.value(
        *a, reduction=reduction, **k) * (0.5 if reduction == "sum" else 1.0))
    with pytest.raises(AssertionError, match="poly1_ce"):
        contract.check_reductions(half)
