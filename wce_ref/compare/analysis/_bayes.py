"""A second statistical opinion: the Bayesian signed-rank test over datasets (Benavoli et al., JMLR 2017).

Friedman / Nemenyi and Wilcoxon-Holm answer "can we reject that the two are
equal?"; the Bayesian signed-rank test answers "how probable is it that one is
practically better, that they are practically equivalent, or that the other is
better?", with "practically" fixed by a region of practical equivalence (ROPE)
stated next to the result. The sampling is ``baycomp``'s (the package of the
paper's authors, ``baycomp.SignedRankTest``), which works unchanged with NumPy 2
and SciPy 1.17.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._validation import WCEInputError

#: the default region of practical equivalence: 0.01 on metrics in [0, 1] (one point of
#: balanced accuracy, F1, AUC ...), the value Benavoli et al. (2017, section 5) use for accuracy
DEFAULT_ROPE = 0.01

#: posterior probability above which a verdict is stated (Benavoli et al. 2017 decide at 0.95)
DECISION_PROBABILITY = 0.95

#: the pairs the report compares: balanced WCE against plain CE, SMOTE, random undersampling and
#: plain CE with its threshold tuned on the training folds (``baseline@tuned``: the ``@tuned`` scores of
#: ``baseline``); pairs whose methods are not in the table are skipped
KEY_PAIRS: tuple[tuple[str, str], ...] = (
    ("wce_balanced", "baseline"),
    ("wce_balanced", "smote"),
    ("wce_balanced", "rus"),
    ("wce_balanced", "baseline@tuned"),
)


@dataclass(frozen=True)
class BayesComparison:
    """Posterior probabilities of the three regions for ``left`` against ``right``.

    ``p_left``: P(left is better by more than ``rope``); ``p_rope``: P(the
    difference is within the ROPE); ``p_right``: P(right is better by more than
    ``rope``). They sum to 1. ``mean_diff`` is the mean of ``left - right``
    over the ``n_datasets`` datasets.
    """

    left: str
    right: str
    p_left: float
    p_rope: float
    p_right: float
    rope: float
    n_datasets: int
    mean_diff: float
    verdict: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _scores(values: Any, name: str) -> np.ndarray:
    try:
        a = np.asarray(getattr(values, "to_numpy", lambda: values)(), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise WCEInputError(
            f"{name}: expected per-dataset scores (numbers), got {type(values).__name__} ({exc})"
        ) from None
    if a.ndim != 1:
        raise WCEInputError(f"{name}: expected one score per dataset (1-D), got shape {a.shape}")
    bad = ~np.isfinite(a)
    if bad.any():
        raise WCEInputError(
            f"{name}: {int(bad.sum())} of {a.size} per-dataset scores are NaN or infinite (first at position "
            f"{int(np.flatnonzero(bad)[0])}); drop the datasets with a failed cell from both sides first"
        )
    return a


def _pair(left: Any, right: Any) -> tuple[np.ndarray, np.ndarray]:
    """Both sides as aligned arrays; two pandas Series must have the same datasets (index)."""
    if hasattr(left, "reindex") and hasattr(right, "reindex"):
        if set(left.index) != set(right.index):
            diff = sorted(map(str, set(left.index) ^ set(right.index)))
            raise WCEInputError(f"left, right: the scores are for different datasets; only on one side: {diff[:10]}")
        right = right.reindex(left.index)
    a, b = _scores(left, "left"), _scores(right, "right")
    if a.size != b.size:
        raise WCEInputError(f"left, right: one score per dataset on each side; got {a.size} and {b.size}")
    if a.size < 2:
        raise WCEInputError(f"left, right: the test needs scores on at least 2 datasets, got {a.size}")
    return a, b


def verdict(p_left: float, p_rope: float, p_right: float, names: Sequence[str], *, decide: float) -> str:
    """A sentence: the region whose probability reaches ``decide``, else the most probable one, marked undecided."""
    left, right = names
    texts = (f"{left} better", "practically equivalent", f"{right} better")
    probs = (p_left, p_rope, p_right)
    best = int(np.argmax(probs))
    if probs[best] >= decide:
        return texts[best]
    return f"undecided (most probable: {texts[best]}, {probs[best]:.2f})"


def bayes_signed_rank(
    left: Any,
    right: Any,
    *,
    rope: float = DEFAULT_ROPE,
    names: Sequence[str] = ("left", "right"),
    prior: float = 0.5,
    nsamples: int = 50_000,
    seed: int = 0,
    decide: float = DECISION_PROBABILITY,
) -> BayesComparison:
    r"""Bayesian signed-rank test of two methods' per-dataset scores (Benavoli et al. 2017).

    The differences :math:`z_i = l_i - r_i` over the :math:`n` datasets get a
    Dirichlet-process posterior with a pseudo-observation at 0 of strength
    ``prior``; each posterior draw :math:`w \sim \mathrm{Dir}(s, 1, \dots, 1)`
    over :math:`(z_0 = 0, z_1, \dots, z_n)` gives, from the Walsh averages,

    .. math::

        \theta_{left} = \sum_{i,j} w_i w_j \, I(z_i + z_j > 2r), \quad
        \theta_{right} = \sum_{i,j} w_i w_j \, I(z_i + z_j < -2r), \quad
        \theta_{rope} = 1 - \theta_{left} - \theta_{right},

    with :math:`r` the ROPE. ``p_left`` is the fraction of draws in which
    :math:`\theta_{left}` is the largest of the three, and likewise for the
    others. Sampling: ``baycomp.SignedRankTest`` (``random_state=seed``).

    A. Benavoli, G. Corani, J. Demšar, M. Zaffalon, "Time for a change: a
    tutorial for comparing multiple classifiers through Bayesian analysis",
    JMLR 18(77), 2017, section 5.2.

    Parameters
    ----------
    left, right : sequence of float or pandas Series
        One score per dataset (e.g. the mean over folds), higher is better;
        two Series are aligned on their index (the datasets).
    rope : float
        Half-width of the region of practical equivalence, in the metric's
        units; default :data:`DEFAULT_ROPE` (0.01 on [0, 1] metrics).
    names : (str, str)
        The two methods' names, used in the verdict.
    prior : float
        Strength of the Dirichlet-process pseudo-observation at 0 (baycomp's default 0.5).
    nsamples : int
        Posterior draws.
    seed : int
        Seed of the draws: the same inputs and seed give the same probabilities.
    decide : float
        Probability a region needs for a verdict other than "undecided".

    Returns
    -------
    BayesComparison
    """
    a, b = _pair(left, right)
    _check_options(rope, prior, nsamples, seed, decide, names)
    posterior = _baycomp().SignedRankTest(a, b, rope, prior=prior, nsamples=int(nsamples), random_state=int(seed))
    p_left, p_rope, p_right = (float(p) for p in posterior.probs())  # baycomp: (x better, rope, y better)
    return BayesComparison(
        left=str(names[0]),
        right=str(names[1]),
        p_left=p_left,
        p_rope=p_rope,
        p_right=p_right,
        rope=float(rope),
        n_datasets=int(a.size),
        mean_diff=float(np.mean(a - b)),
        verdict=verdict(p_left, p_rope, p_right, names, decide=decide),
    )


def _check_options(rope: Any, prior: Any, nsamples: Any, seed: Any, decide: Any, names: Sequence[str]) -> None:
    if not isinstance(rope, int | float | np.number) or not np.isfinite(rope) or rope < 0:
        raise WCEInputError(f"rope: expected a finite half-width >= 0 in the metric's units, got {rope!r}")
    if not isinstance(prior, int | float | np.number) or not np.isfinite(prior) or prior <= 0:
        raise WCEInputError(f"prior: expected a pseudo-observation strength > 0, got {prior!r}")
    if isinstance(nsamples, bool) or not isinstance(nsamples, int | np.integer) or nsamples < 100:
        raise WCEInputError(f"nsamples: expected a whole number of posterior draws >= 100, got {nsamples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**32:
        raise WCEInputError(f"seed: expected a whole number in [0, 2**32), got {seed!r}")
    if not isinstance(decide, int | float) or not 0.5 < decide <= 1:
        raise WCEInputError(f"decide: expected a probability in (0.5, 1], got {decide!r}")
    if isinstance(names, str) or len(names) != 2:
        raise WCEInputError(f"names: expected the two methods' names, got {names!r}")


def _baycomp():
    try:
        import baycomp
    except ImportError as exc:
        raise ImportError(
            "the Bayesian comparison needs baycomp (pip install 'baycomp>=1.0.3', part of wce-ref[suites])"
        ) from exc
    return baycomp


def compare_pairs(
    wide: Any,
    pairs: Iterable[tuple[str, str]] = KEY_PAIRS,
    *,
    rope: float = DEFAULT_ROPE,
    seed: int = 0,
    nsamples: int = 50_000,
) -> Any:
    """:func:`bayes_signed_rank` for each pair of columns of a datasets x methods table.

    ``wide`` is what :func:`wce_ref.compare.analysis._stats.fold_means` returns (one row
    per dataset, one column per method, the metric averaged over folds);
    datasets where either method has no score are left out of that pair.
    Pairs naming a method not in ``wide`` are skipped. Returns a DataFrame, one
    row per pair (the fields of :class:`BayesComparison`).
    """
    import pandas as pd

    rows = []
    for left, right in pairs:
        if left not in wide.columns or right not in wide.columns:
            continue
        both = wide[[left, right]].dropna()
        if len(both) < 2:
            continue
        res = bayes_signed_rank(both[left], both[right], rope=rope, names=(left, right), seed=seed, nsamples=nsamples)
        rows.append(res.as_dict())
    return pd.DataFrame(rows, columns=list(BayesComparison.__dataclass_fields__))
