r"""The decision threshold tuned on the training folds only (scikit-learn's ``TunedThresholdClassifierCV``).

Scoring every strategy with and without a tuned threshold separates "moves
the threshold" (a better operating point on the same scores) from "ranks
better" (a better ordering of the samples, what ROC AUC and average precision
measure). The threshold is chosen by an inner stratified cross-validation of
the training data handed to :func:`tune_threshold` (the outer training folds),
then the estimator is refitted on all of it; the outer test fold is never seen.

Objective: balanced accuracy, :math:`\tfrac12(\mathrm{TPR} + \mathrm{TNR})`,
by default. Maximising it is maximising Youden's index
:math:`J = \mathrm{TPR} + \mathrm{TNR} - 1 = 2\,\mathrm{BA} - 1`, the classic
ROC operating point (Youden, Cancer 3(1), 1950), which weighs errors on both
classes by their class's size and so does not move with the minority's share;
it is also scikit-learn's default for this tool. F1 of the minority class
(Lipton, Elkan & Naryanaswamy, ECML PKDD 2014) depends on the prevalence and
ignores true negatives; it, the G-mean and MCC are available as ``objective``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._validation import WCEInputError

#: objective name -> scikit-learn scorer (a name, or built at call time for the G-mean)
OBJECTIVES = ("balanced_accuracy", "f1", "g_mean", "mcc")
DEFAULT_OBJECTIVE = "balanced_accuracy"

#: a validation fold needs at least this many minority samples for a threshold curve to mean anything
MIN_MINORITY_PER_FOLD = 2


@dataclass(frozen=True)
class InnerCV:
    """The inner split of the training data: ``n_splits`` stratified folds, or ``None`` with ``note`` saying why.

    ``min_train_minority`` is the fewest minority samples any inner training part
    holds: samplers that need neighbours (SMOTE's ``k_neighbors``) must be sized for it.
    """

    splitter: Any
    n_splits: int
    min_train_minority: int
    note: str = ""


@dataclass(frozen=True)
class TunedThreshold:
    """A fitted classifier with its threshold chosen on training data.

    ``classifier`` predicts with ``threshold`` applied to ``predict_proba[:, 1]``
    (a fitted ``TunedThresholdClassifierCV``, or a ``FixedThresholdClassifier`` at
    0.5 when there were too few minority samples to tune; then ``tuned`` is
    False and ``note`` says why). ``inner_score`` is the objective at the
    threshold, averaged over the inner validation folds.
    """

    classifier: Any
    threshold: float
    objective: str
    tuned: bool
    n_splits: int
    inner_score: float | None
    note: str = ""


def _binary(y: Any) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise WCEInputError(f"y: expected one label per row (1-D), got shape {y.shape}")
    values = np.unique(y)
    if not (len(values) == 2 and set(values.tolist()) <= {0, 1}):
        raise WCEInputError(f"y: expected binary 0/1 labels (1 = minority), got values {values[:5].tolist()}")
    return y.astype(np.int64)


def inner_cv(y: Any, cv: int = 5, seed: int = 0) -> InnerCV:
    """Stratified ``cv``-fold split of the training labels, with fewer folds when the minority is small.

    Each validation fold keeps at least :data:`MIN_MINORITY_PER_FOLD` minority
    samples: ``n_splits = min(cv, n_minority // 2)``. Below two folds (fewer
    than 4 minority samples) there is nothing to tune on: ``splitter`` is None.
    """
    from sklearn.model_selection import StratifiedKFold

    y = _binary(y)
    if isinstance(cv, bool) or not isinstance(cv, int | np.integer) or cv < 2:
        raise WCEInputError(f"cv: expected a whole number of inner folds >= 2, got {cv!r}")
    n_min = int(min(y.sum(), len(y) - y.sum()))
    n_splits = min(int(cv), n_min // MIN_MINORITY_PER_FOLD)
    if n_splits < 2:
        note = (
            f"not tuned: {n_min} minority samples in the training data, fewer than 2 inner folds x "
            f"{MIN_MINORITY_PER_FOLD}; threshold left at 0.5"
        )
        return InnerCV(None, 0, n_min, note)
    note = "" if n_splits == cv else f"{n_splits} inner folds instead of {cv}: {n_min} minority samples"
    largest_fold = -(-n_min // n_splits)  # stratification puts at most ceil(n_min / k) in a validation fold
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=int(seed))
    return InnerCV(splitter, n_splits, n_min - largest_fold, note)


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Binary balanced accuracy, :math:`\\tfrac12(\\mathrm{TPR} + \\mathrm{TNR})`, for 0/1 labels.

    The value of :func:`sklearn.metrics.balanced_accuracy_score` when both
    classes occur in ``y_true`` (every inner validation fold of
    :func:`inner_cv`), without its input checks: the threshold search scores
    ``thresholds`` x ``n_splits`` label vectors per cell, and those checks were
    80% of a cell's time.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    pos = y_true == 1
    return 0.5 * (float(np.mean(y_pred[pos] == 1)) + float(np.mean(y_pred[~pos] != 1)))


def _scorer(objective: str) -> Any:
    if objective not in OBJECTIVES:
        raise WCEInputError(f"objective: expected one of {', '.join(OBJECTIVES)}, got {objective!r}")
    if objective == "balanced_accuracy":
        from sklearn.metrics import make_scorer

        return make_scorer(balanced_accuracy)
    if objective == "g_mean":
        from imblearn.metrics import geometric_mean_score
        from sklearn.metrics import make_scorer

        return make_scorer(geometric_mean_score)
    return {"mcc": "matthews_corrcoef"}.get(objective, objective)


def tune_threshold(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    objective: str = DEFAULT_OBJECTIVE,
    cv: int = 5,
    seed: int = 0,
    thresholds: int = 100,
) -> TunedThreshold:
    """Fit ``estimator`` on ``(X, y)`` with the decision threshold that maximises ``objective`` in inner CV.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        Any scikit-learn-compatible binary classifier or pipeline (imbalanced-learn
        pipelines with samplers included: the samplers run inside each inner
        training part only). It is cloned, never fitted in place.
    X, y : array-like
        The training data only (the outer training folds); ``y`` is 0/1 with 1 the minority.
    objective : str
        One of :data:`OBJECTIVES`; default balanced accuracy (see the module docstring).
    cv : int
        Inner stratified folds, reduced by :func:`inner_cv` for small minorities.
    seed : int
        Seed of the inner fold shuffle.
    thresholds : int
        Candidate thresholds per inner fold (scikit-learn's grid between the
        fold's smallest and largest predicted probability).

    Returns
    -------
    TunedThreshold
    """
    from sklearn.base import clone
    from sklearn.model_selection import FixedThresholdClassifier, TunedThresholdClassifierCV

    scorer = _scorer(objective)
    y = _binary(y)
    if not hasattr(estimator, "predict_proba"):
        raise WCEInputError(f"estimator: {type(estimator).__name__} has no predict_proba; the threshold is tuned on it")
    if isinstance(thresholds, bool) or not isinstance(thresholds, int | np.integer) or thresholds < 2:
        raise WCEInputError(f"thresholds: expected a whole number of candidate thresholds >= 2, got {thresholds!r}")
    inner = inner_cv(y, cv, seed)
    if inner.splitter is None:
        fixed = FixedThresholdClassifier(clone(estimator), threshold=0.5, response_method="predict_proba")
        return TunedThreshold(fixed.fit(X, y), 0.5, objective, False, 0, None, inner.note)
    tuned = TunedThresholdClassifierCV(
        clone(estimator),
        scoring=scorer,
        response_method="predict_proba",
        thresholds=int(thresholds),
        cv=inner.splitter,
        refit=True,
        random_state=int(seed),
    ).fit(X, y)
    return TunedThreshold(
        tuned, float(tuned.best_threshold_), objective, True, inner.n_splits, float(tuned.best_score_), inner.note
    )
