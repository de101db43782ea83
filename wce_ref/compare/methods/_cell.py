"""What one cell does: split the dataset, assemble the strategy's pipeline (scaling, resampling, weighting,
the model), fit it on the training part and score the test part (with the tuned threshold where asked)."""

from __future__ import annotations

import itertools
import time
from typing import Any

import numpy as np

from ... import frameworks
from ..engine._cells import Cell
from ..engine._suite import MODELS


def _model(cell: Cell, strategy, y_train: np.ndarray, n_classes: int, sampler: Any = None):
    """The cell's classifier; ``sampler`` resamples its training rows after its validation split."""
    t = cell.training
    if cell.model == "sklearn_lr":  # scikit-learn's solver at the linear model's penalty: the convergence check
        from ..methods._models import PenalisedLogisticRegression

        cw = strategy.sklearn_class_weight
        cw = None if cw == "none" else (cw(y_train) if callable(cw) else cw)
        return PenalisedLogisticRegression(l2=t.l2, class_weight=cw, random_state=cell.seed % (2**31))
    from ..methods._models import WCEClassifier

    kwargs = {"loss": "ce", **strategy.loss_kwargs(y_train)}
    if strategy.uses_costs and cell.costs is not None:
        kwargs["cost_matrix"] = [list(r) for r in cell.costs]
    if strategy.uses_priors and cell.priors is not None:
        kwargs["prior_correction"] = list(cell.priors)
    if cell.task != "binary":  # every class, also one a sampler removed from the training fold
        kwargs["classes"] = list(range(n_classes))
    return WCEClassifier(
        framework=cell.framework,
        hidden=MODELS[cell.model],
        lr=t.lr,
        max_epochs=t.max_epochs,
        patience=t.patience,
        l2=t.l2,
        validation_fraction=t.validation_fraction,
        random_state=cell.seed % (2**31),
        solver=t.solver,
        tol=t.tol,
        max_iter=t.max_iter,
        no_validation_stop=t.no_validation_stop,
        sampler=sampler,
        **kwargs,
    )


def _split(cell: Cell, d) -> tuple[np.ndarray, np.ndarray]:
    """The cell's training and test rows: the fixed test part, or the repeat's fold of repeated stratified CV."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    mask = getattr(d, "test_mask", None)
    if mask is not None:
        return np.flatnonzero(~mask), np.flatnonzero(mask)
    splitter = RepeatedStratifiedKFold(n_splits=cell.folds, n_repeats=cell.repeats, random_state=cell.split_seed)
    return next(itertools.islice(splitter.split(d.X, d.y), cell.repeat * cell.folds + cell.fold, None))


def _pipeline(cell: Cell, strategy, y_train: np.ndarray, n_classes: int, min_count: int | None = None):
    """Scaling, the strategy's sampler and the model (with a moved threshold for ``threshold``).

    A reference strategy's estimator replaces the model. ``min_count``: the
    smallest class count the sampler sees (the inner folds' when the threshold
    is tuned), which sizes SMOTE's neighbours.
    """
    from imblearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from ..methods._strategies import imbalance_ratio

    steps: list[tuple[str, Any]] = [("scale", StandardScaler())]
    if strategy.estimator is not None:
        return Pipeline([*steps, ("model", strategy.estimator(cell.seed % (2**31)))])
    sampler = None if strategy.sampler is None else strategy.sampler(y_train, cell.seed % (2**31), min_count)
    if sampler is not None and cell.model == "sklearn_lr":  # no validation split: resampling is a pipeline step
        steps.append(("sample", sampler))
        sampler = None
    model = _model(cell, strategy, y_train, n_classes, sampler)
    if strategy.threshold:
        from sklearn.model_selection import FixedThresholdClassifier

        model = FixedThresholdClassifier(
            model, threshold=1.0 / (1.0 + imbalance_ratio(y_train)), response_method="predict_proba"
        )
    steps.append(("model", model))
    return Pipeline(steps)


#: the status of a cell whose sampler could not act on its training fold (ADASYN with nothing to generate):
#: finished, not retried, and not counted as a result of the method
INAPPLICABLE = "inapplicable"

#: the metrics that move with the decision threshold: scored again at the tuned threshold as ``<metric>@tuned``
THRESHOLD_METRICS = ("precision", "recall", "f1", "balanced_accuracy", "g_mean", "mcc")
TUNED = "@tuned"


def _fit(cell: Cell, strategy, X: np.ndarray, y: np.ndarray, n_classes: int):
    """The fitted pipeline, and with ``cell.inner_folds`` the threshold tuned on (X, y) (else None).

    The tuned classifier's refit on all of (X, y) is the pipeline scored at the
    default threshold, so tuning costs the inner folds' fits only.
    """
    if not cell.inner_folds:
        return _pipeline(cell, strategy, y, n_classes).fit(X, y), None
    from ..methods._threshold import inner_cv, tune_threshold

    seed = cell.seed % (2**31)
    inner = inner_cv(y, cell.inner_folds, seed)
    pipe = _pipeline(cell, strategy, y, n_classes, min_count=max(inner.min_train_minority, 2))
    try:
        tuned = tune_threshold(pipe, X, y, cv=cell.inner_folds, seed=seed)
    except ValueError as exc:  # an inner fit failed or predicts a constant: left at 0.5, like a tiny minority
        from sklearn.model_selection import FixedThresholdClassifier

        from ..methods._threshold import DEFAULT_OBJECTIVE, TunedThreshold

        fixed = FixedThresholdClassifier(pipe, threshold=0.5, response_method="predict_proba").fit(X, y)
        note = f"not tuned: {type(exc).__name__}: {exc}"[:200]
        tuned = TunedThreshold(fixed, 0.5, DEFAULT_OBJECTIVE, False, 0, None, note)
    return tuned.classifier.estimator_, tuned


def _tuned_metrics(cell: Cell, tuned, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The threshold-dependent metrics at the tuned threshold, the threshold and whether it was tuned."""
    from ..methods._metrics import score

    names = [m for m in THRESHOLD_METRICS if m in cell.metrics]
    proba = tuned.classifier.predict_proba(X)[:, 1]
    out = {f"{k}{TUNED}": v for k, v in score(y, tuned.classifier.predict(X), proba, names).items()}
    out[f"threshold{TUNED}"] = tuned.threshold
    out[f"was{TUNED}"] = float(tuned.tuned)
    return out


def _evaluate(cell: Cell, pipe, X: np.ndarray, y: np.ndarray, train_counts: np.ndarray) -> dict[str, Any]:
    """The cell's metrics; multiclass cells add the per-class recall, the confusion matrix and training counts."""
    from sklearn.metrics import confusion_matrix, recall_score

    from ..methods._metrics import score

    proba = pipe.predict_proba(X)
    yhat = pipe.predict(X)
    out: dict[str, Any] = score(y, yhat, proba[:, 1] if cell.task == "binary" else proba, cell.metrics,
                                train_counts=train_counts)  # fmt: skip
    if cell.task != "binary":
        labels = np.arange(len(train_counts))
        out["class_recall"] = recall_score(y, yhat, labels=labels, average=None, zero_division=0).tolist()
        out["confusion"] = confusion_matrix(y, yhat, labels=labels).tolist()
        out["train_counts"] = train_counts.tolist()
    return out


def _training(model: Any) -> dict[str, Any]:
    """How the fitted model's training ended: epochs or iterations, whether it converged, how it stopped.

    Ensembles of the reference methods have no iterations (``epochs`` 0, ``converged`` empty); scikit-learn's
    ``LogisticRegression`` converged when it stopped before ``max_iter``.
    """
    model = getattr(model, "estimator_", model)
    if hasattr(model, "converged_"):
        return {"epochs": int(model.n_epochs_), "converged": int(model.converged_), "stop": model.stop_}
    n = getattr(model, "n_iter_", None)
    if n is None or not np.size(n):
        return {"epochs": 0, "converged": None, "stop": None}
    done = int(np.max(n)) < getattr(model, "max_iter", np.inf)
    return {"epochs": int(np.max(n)), "converged": int(done), "stop": "converged" if done else "max_iter"}


def _resampling(pipe) -> dict[str, Any]:
    """How many training rows the strategy's sampler returned, and the status of a sampler that did nothing."""
    model = getattr(pipe.named_steps["model"], "estimator_", pipe.named_steps["model"])
    sampler = pipe.named_steps.get("sample")
    if sampler is not None:
        return {"n_train_resampled": int(sampler.n_out_), "inapplicable": bool(getattr(sampler, "unchanged_", 0))}
    if getattr(model, "sampler", None) is not None:
        return {"n_train_resampled": int(model.n_train_resampled_), "inapplicable": bool(model.sampler_unchanged_)}
    return {}


def run_cell(cell: Cell) -> dict[str, Any]:
    """Fit on the training part (scaling, resampling and weighting inside the pipeline), score the test part."""
    from sklearn import config_context
    from threadpoolctl import threadpool_limits

    from ... import datasets
    from ..methods._strategies import STRATEGIES

    row: dict[str, Any] = {
        **{
            k: getattr(cell, k)
            for k in ("config_hash", "suite", "dataset", "strategy", "model", "framework", "repeat", "fold", "seed")
        }
    }
    start = time.perf_counter()
    try:
        if cell.framework in frameworks.REGISTRY:  # one thread per cell: parallelism comes from side-by-side cells
            frameworks.get(cell.framework).set_threads(1)
        # scikit-learn's parameter validation checks our own, fixed calls: skipped (1.8x faster on small data,
        # identical metrics); its checks of the data's values stay
        with threadpool_limits(1), config_context(skip_parameter_validation=True):
            if cell.file is not None:
                from ..engine._files import ensure_registered

                ensure_registered(cell.file)
            d = datasets.load(cell.dataset, download=False)
            train, test = _split(cell, d)
            strategy = STRATEGIES[cell.strategy]
            y_train = d.y[train]
            n_classes = int(d.y.max()) + 1
            pipe, tuned = _fit(cell, strategy, d.X[train], y_train, n_classes)
            counts = np.bincount(y_train, minlength=n_classes)
            row["metrics"] = _evaluate(cell, pipe, d.X[test], d.y[test], counts)
            if tuned is not None:
                row["metrics"].update(_tuned_metrics(cell, tuned, d.X[test], d.y[test]))
            row["status"] = "ok"
            row.update(_training(pipe.named_steps["model"]))
            row["n_train"] = len(train)
            resampled = _resampling(pipe)
            if resampled.pop("inapplicable", False):  # recorded with its metrics; never ranked as the method
                row["status"] = INAPPLICABLE
                row["error"] = "the sampler had nothing to generate on this training fold: it left the data as it was"
            row.update(resampled)
    except Exception as exc:  # recorded, reported, not fatal: one failing sampler must not lose the run
        row["status"] = "error"
        row["error"] = f"{type(exc).__name__}: {exc}"[:500]
    row["seconds"] = time.perf_counter() - start
    return row


#: how long ``--scheduler`` waits for the Dask scheduler before saying it is unreachable
