"""Metrics, from scikit-learn / imbalanced-learn where they exist, for binary and multiclass tasks.

Binary tasks: the minority class is the positive class (1). Multiclass tasks:
macro averages and one-vs-rest scores over the C classes, the worst class's
recall and the long-tail split of recall into many / medium / few-shot classes
by *training* count (:data:`SHOT_THRESHOLDS`). Calibration (Brier score,
expected calibration error, log loss) for every task: weighting and resampling
change calibration. Calibration metrics are "lower is better", every other
metric "higher is better" (:attr:`Metric.higher_is_better`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: many-shot classes have more than ``many`` training samples, few-shot classes fewer than ``few``, medium-shot
#: classes the rest (Liu et al., "Large-scale long-tailed recognition in an open world", CVPR 2019)
SHOT_THRESHOLDS = {"many": 100, "few": 20}
#: equal-width confidence bins of the expected calibration error (Guo et al. 2017 use 15)
ECE_BINS = 15


@dataclass(frozen=True)
class Metric:
    """One metric: ``fn(y, yhat, proba, train_counts)`` with ``proba`` of shape (n, C)."""

    name: str
    fn: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None], float]
    tasks: tuple[str, ...]
    higher_is_better: bool = True


def expected_calibration_error(y: np.ndarray, proba: np.ndarray, n_bins: int = ECE_BINS) -> float:
    r"""Top-label expected calibration error over ``n_bins`` equal-width confidence bins.

    .. math::

        \mathrm{ECE} = \sum_{b=1}^{B} \frac{|S_b|}{n} \left| \mathrm{acc}(S_b) - \mathrm{conf}(S_b) \right|

    where :math:`S_b` holds the samples whose top probability :math:`\max_k p_k`
    falls in :math:`((b-1)/B, b/B]`, :math:`\mathrm{acc}` is the fraction of
    them whose top class is the true class and :math:`\mathrm{conf}` their mean
    top probability.

    Parameters
    ----------
    y : array (n,) of class indices
    proba : array (n, C) of predicted probabilities
    n_bins : int
        Number of equal-width bins on [0, 1] (15, as Guo et al.).

    Returns
    -------
    float in [0, 1]

    References
    ----------
    Guo, Pleiss, Sun & Weinberger, "On calibration of modern neural networks", ICML 2017.

    Examples
    --------
    >>> round(expected_calibration_error(np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]])), 3)
    0.15
    """
    conf = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y).astype(np.float64)
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    total = np.bincount(bins, minlength=n_bins)
    gap = np.abs(np.bincount(bins, correct, n_bins) - np.bincount(bins, conf, n_bins))
    return float(gap.sum() / max(total.sum(), 1))


def _labels(proba: np.ndarray) -> np.ndarray:
    return np.arange(proba.shape[1])


def _shot_recall(which: str) -> Callable:
    """Mean recall over the many / medium / few-shot classes (NaN when the dataset has none)."""

    def fn(y, yhat, proba, counts) -> float:
        from sklearn.metrics import recall_score

        if counts is None:
            return float("nan")
        many, few = counts > SHOT_THRESHOLDS["many"], counts < SHOT_THRESHOLDS["few"]
        mask = {"many": many, "few": few, "medium": ~many & ~few}[which]
        if not mask.any():
            return float("nan")
        r = recall_score(y, yhat, labels=_labels(proba), average=None, zero_division=0)
        return float(r[mask].mean())

    return fn


def _table() -> list[Metric]:
    from imblearn.metrics import geometric_mean_score
    from sklearn import metrics as m
    from sklearn.preprocessing import label_binarize

    b, mc, both = ("binary",), ("multiclass",), ("binary", "multiclass")
    return [
        Metric("precision", lambda y, yh, p, c: m.precision_score(y, yh, zero_division=0), b),
        Metric("recall", lambda y, yh, p, c: m.recall_score(y, yh, zero_division=0), b),
        Metric("f1", lambda y, yh, p, c: m.f1_score(y, yh, zero_division=0), b),
        Metric("macro_f1", lambda y, yh, p, c: m.f1_score(y, yh, labels=_labels(p), average="macro",
                                                            zero_division=0), mc),  # fmt: skip
        Metric("balanced_accuracy", lambda y, yh, p, c: m.balanced_accuracy_score(y, yh), both),
        Metric("g_mean", lambda y, yh, p, c: geometric_mean_score(y, yh, labels=_labels(p) if p.shape[1] > 2
                                                                  else None), both),
        Metric("mcc", lambda y, yh, p, c: m.matthews_corrcoef(y, yh), both),
        Metric("accuracy", lambda y, yh, p, c: m.accuracy_score(y, yh), mc),
        Metric("worst_recall", lambda y, yh, p, c: float(m.recall_score(y, yh, labels=_labels(p), average=None,
                                                                        zero_division=0).min()), mc),  # fmt: skip
        Metric("many_recall", _shot_recall("many"), mc),
        Metric("medium_recall", _shot_recall("medium"), mc),
        Metric("few_recall", _shot_recall("few"), mc),
        Metric("average_precision", lambda y, yh, p, c: m.average_precision_score(y, p[:, 1]) if p.shape[1] == 2
               else m.average_precision_score(label_binarize(y, classes=_labels(p)), p, average="macro"), both),
        Metric("roc_auc", lambda y, yh, p, c: m.roc_auc_score(y, p[:, 1]) if p.shape[1] == 2
               else m.roc_auc_score(y, p, multi_class="ovr", average="macro", labels=_labels(p)), both),
        Metric("brier", lambda y, yh, p, c: m.brier_score_loss(y, p[:, 1]) if p.shape[1] == 2
               else m.brier_score_loss(y, p, labels=_labels(p)), both, higher_is_better=False),
        Metric("ece", lambda y, yh, p, c: expected_calibration_error(y, p), both, higher_is_better=False),
        Metric("log_loss", lambda y, yh, p, c: m.log_loss(y, p, labels=_labels(p)), both, higher_is_better=False),
    ]  # fmt: skip


#: every metric, in report order
METRIC_TABLE: dict[str, Metric] = {x.name: x for x in _table()}
#: metric names, in report order
METRICS = tuple(METRIC_TABLE)
#: the metrics where lower is better (calibration)
LOWER_IS_BETTER = frozenset(n for n, x in METRIC_TABLE.items() if not x.higher_is_better)


def metric_names(task: str) -> tuple[str, ...]:
    """The metrics that apply to ``task`` (``binary``, ``multiclass``; ``longtail`` is multiclass)."""
    task = "binary" if task == "binary" else "multiclass"
    return tuple(n for n, x in METRIC_TABLE.items() if task in x.tasks)


def score(
    y: np.ndarray,
    yhat: np.ndarray,
    proba: np.ndarray,
    names=None,
    *,
    train_counts: np.ndarray | None = None,
) -> dict[str, float]:
    """The metrics ``names`` of one test part.

    Parameters
    ----------
    y, yhat : arrays (n,) of class indices (binary: 1 = minority)
    proba : array (n,) of the positive class's probability (binary) or (n, C)
    names : metric names; default: every metric of the task (two columns: binary)
    train_counts : array (C,), optional
        Training rows per class, for the many / medium / few-shot split.

    Returns
    -------
    dict name -> float (NaN where a long-tail group is empty)
    """
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim == 1:
        proba = np.column_stack([1.0 - proba, proba])
    task = "binary" if proba.shape[1] == 2 else "multiclass"
    names = metric_names(task) if names is None else names
    counts = None if train_counts is None else np.asarray(train_counts)
    return {n: float(METRIC_TABLE[n].fn(y, yhat, proba, counts)) for n in names}
