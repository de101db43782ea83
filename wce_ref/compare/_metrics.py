"""Metrics, all from scikit-learn / imbalanced-learn; the minority class is the positive class (1)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Metric = Callable[[np.ndarray, np.ndarray, np.ndarray], float]


def _metrics() -> dict[str, Metric]:
    from imblearn.metrics import geometric_mean_score
    from sklearn import metrics as m

    return {
        "precision": lambda y, yhat, p: m.precision_score(y, yhat, zero_division=0),
        "recall": lambda y, yhat, p: m.recall_score(y, yhat, zero_division=0),
        "f1": lambda y, yhat, p: m.f1_score(y, yhat, zero_division=0),
        "balanced_accuracy": lambda y, yhat, p: m.balanced_accuracy_score(y, yhat),
        "g_mean": lambda y, yhat, p: geometric_mean_score(y, yhat),
        "mcc": lambda y, yhat, p: m.matthews_corrcoef(y, yhat),
        "average_precision": lambda y, yhat, p: m.average_precision_score(y, p),
        "roc_auc": lambda y, yhat, p: m.roc_auc_score(y, p),
    }


#: metric names, in report order (all "higher is better")
METRICS = ("precision", "recall", "f1", "balanced_accuracy", "g_mean", "mcc", "average_precision", "roc_auc")


def score(y: np.ndarray, yhat: np.ndarray, proba: np.ndarray, names=METRICS) -> dict[str, float]:
    table = _metrics()
    return {n: float(table[n](y, yhat, proba)) for n in names}
