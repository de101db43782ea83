"""scikit-learn-compatible classifiers trained with the loss under comparison, in any framework.

They drop into an imbalanced-learn ``Pipeline`` (which resamples only during
``fit``) and into scikit-learn's threshold and model-selection tools.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted, validate_data

from ... import frameworks, losses
from ..._weights import class_weights as _class_weights
from ._trainers import HyperParams, LossSpec, lbfgs, train
from ._trainers import logits as _logits

#: short names kept from the first suites: name -> (registered loss, class weights used, per-batch weights)
ALIASES: dict[str, tuple[str, bool, bool]] = {
    "ce": ("softmax_wce", False, False),
    "wce": ("softmax_wce", True, False),
    "batch": ("softmax_wce", False, True),
    "cost": ("cost_sensitive_ce", False, False),
    "focal": ("softmax_focal", True, False),
}


class WCEClassifier(ClassifierMixin, BaseEstimator):
    """Softmax regression (``hidden=()``) or an MLP trained with any registered loss, in any framework.

    The network outputs one logit per class (two for binary data, C for C
    classes); the loss is any loss of
    :data:`wce_ref.losses.LOSSES` of the softmax family (``loss="softmax_wce"``,
    ``"softmax_focal"``, ``"logit_adjusted_ce"``, ``"ldam_ce"``, ``"poly1_ce"``,
    ``"cost_sensitive_ce"`` ...), or one of the short names ``'ce'`` (unweighted
    cross entropy), ``'wce'`` (with ``class_weight``), ``'batch'`` (balanced
    weights recomputed on every mini-batch), ``'cost'`` (with ``cost_matrix``),
    ``'focal'``. The loss's own arguments come from ``loss_params`` and from the
    training labels (the loss module's ``train`` hook: priors, class counts).
    ``drw`` defers ``class_weight`` to the last part of training (deferred
    re-weighting, Cao et al. 2019): plain weights until epoch
    ``drw * max_epochs``, then the class weights. ``posthoc_tau`` adjusts the
    logits at prediction time by ``-tau * log(prior)`` (Menon et al. 2021).
    Training (``solver``): a linear model (``hidden=()``) is trained to its
    optimum by L-BFGS on the reference's exact loss and gradient (``tol``,
    ``max_iter``; :func:`~._trainers.lbfgs`), on all of its training rows; an
    MLP, or per-mini-batch weights, by Adam (full batch unless ``batch_size``
    is set) with early stopping on the plain cross entropy of a stratified
    ``validation_fraction`` of the training rows
    (:func:`~._trainers.validation_ce`), best parameters restored. A
    ``sampler`` (an imbalanced-learn sampler) resamples the training rows
    after the validation rows are held out, so validation rows are never
    copies or interpolations of training rows, and every strategy stops on the
    same criterion. ``converged_`` and ``n_epochs_`` record how training ended.

    Parameters
    ----------
    framework : a registered framework with a training engine ('numpy', 'torch', 'jax', 'tensorflow')
    hidden : tuple of int
        Hidden layer widths; ``()`` is logistic regression.
    loss : str
        A registered softmax-family loss or a short name (see above).
    class_weight : None, a scheme of :func:`wce_ref.class_weights`, or dict {class index: weight}
        Classes missing from a dict get weight 1.
    cost_matrix : array (C, C), optional
        ``cost[true, predicted]`` for ``loss='cost'`` / ``'cost_sensitive_ce'``.
    focal_gamma : float
        ``gamma`` of the focal loss (when ``loss_params`` does not set it).
    loss_params : dict, optional
        Further keyword arguments of the loss (``tau``, ``max_margin``, ``epsilon`` ...).
    prior_correction : None, "uniform" or a sequence of C positive numbers
        Target priors for the prior correction of the predicted probabilities.
    classes : sequence, optional
        Every class the model outputs, also those absent from the training labels (a sampler such as ENN
        may remove a whole class of a training fold); default: the classes of ``y``.
    solver : {"auto", "lbfgs", "adam"}
        ``"auto"``: L-BFGS for a linear model without per-batch weights, Adam otherwise (also when L-BFGS's
        line search fails: a loss whose value is not smooth in the logits). A linear model trains for at most
        ``max_iter`` iterations or epochs, whatever its solver; an MLP for at most ``max_epochs`` epochs.
    no_validation_stop : {"training_loss", "cap"}
        Adam's stopping rule when a class is too small to hold validation rows out: ``"training_loss"``
        stops when the training objective no longer improves (as early stopping does on the validation
        loss); ``"cap"`` runs to the cap (recorded as not converged).
    sampler : object with ``fit_resample(X, y)``, optional
        Resamples the training rows (after the validation split, before training).
    cosine : bool
        The MLP's last layer is a cosine classifier (normalised features and weights, Cao et al. 2019's
        setting for LDAM): the loss sees the cosines and applies its own ``scale``; predictions use
        ``scale`` (from ``loss_params``, default 1) times the cosines. NumPy only.

    References
    ----------
    Saerens, Latinne & Decaestecker, "Adjusting the outputs of a classifier to new a priori
    probabilities", Neural Computation 14(1), 2002.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(400, weights=[0.9], random_state=0)
    >>> clf = WCEClassifier(loss="wce", class_weight="balanced", random_state=0).fit(X, y)
    >>> clf.predict_proba(X).shape, sorted(set(clf.predict(X).tolist()))
    ((400, 2), [0, 1])
    """

    ALIASES = ALIASES

    def __init__(
        self,
        framework: str = "numpy",
        hidden: tuple[int, ...] = (),
        loss: str = "ce",
        class_weight=None,
        cost_matrix=None,
        focal_gamma: float = 2.0,
        loss_params: dict | None = None,
        drw: float | None = None,
        posthoc_tau: float | None = None,
        prior_correction: str | list[float] | None = None,
        classes: list | None = None,
        lr: float = 0.05,
        max_epochs: int = 300,
        batch_size: int | None = None,
        patience: int = 8,
        l2: float = 1e-4,
        validation_fraction: float = 0.1,
        random_state: int = 0,
        solver: str = "auto",
        tol: float = 1e-6,
        max_iter: int = 10000,
        no_validation_stop: str = "training_loss",
        sampler=None,
        cosine: bool = False,
    ):
        self.framework = framework
        self.hidden = hidden
        self.loss = loss
        self.class_weight = class_weight
        self.cost_matrix = cost_matrix
        self.focal_gamma = focal_gamma
        self.loss_params = loss_params
        self.drw = drw
        self.posthoc_tau = posthoc_tau
        self.prior_correction = prior_correction
        self.classes = classes
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.patience = patience
        self.l2 = l2
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.no_validation_stop = no_validation_stop
        self.sampler = sampler
        self.cosine = cosine

    def _weights(self, y: np.ndarray) -> np.ndarray | None:
        cw, k = self.class_weight, self.n_classes_
        if cw is None:
            return None
        if isinstance(cw, dict):
            return np.array([float(cw.get(c, 1.0)) for c in range(k)])
        if isinstance(cw, str):
            return _class_weights(y, cw, n_classes=k)
        raise ValueError(f"class_weight: expected None, a scheme name or a dict, got {cw!r}")

    def _loss_name(self) -> tuple[str, bool, bool]:
        if self.loss in ALIASES:
            return ALIASES[self.loss]
        spec = losses.LOSSES.get(self.loss) if isinstance(self.loss, str) else None
        if spec is None or spec.family != "softmax" or spec.train is None:
            known = [*ALIASES, *(n for n, s in losses.LOSSES.items() if s.family == "softmax" and s.train)]
            raise ValueError(f"loss: expected one of {known}, got {self.loss!r}")
        return self.loss, True, False

    def _loss_params(self, name: str, weighted: bool, y: np.ndarray) -> dict:
        import inspect

        params = dict(self.loss_params or {})
        takes = inspect.signature(losses.get(name).train).parameters  # the loss's training hook's arguments
        if "gamma" in takes:  # a focal loss: the classifier's focal_gamma unless loss_params sets gamma
            params.setdefault("gamma", self.focal_gamma)
        if "cost_matrix" in takes:
            k = self.n_classes_
            c = np.asarray(self.cost_matrix, dtype=float)
            if c.shape != (k, k):
                raise ValueError(
                    f"cost_matrix: expected a ({k}, {k}) array for loss={self.loss!r} on {k} classes, "
                    f"got {self.cost_matrix!r}"
                )
            params["cost_matrix"] = c
        w = self._weights(y) if weighted else None
        if w is not None and self.drw is None:
            params["class_weights"] = w
        return params

    def _spec(self, y: np.ndarray) -> LossSpec:
        name, weighted, per_batch = self._loss_name()
        if frameworks.resolve(self.framework) not in frameworks.names():
            raise ValueError(f"framework: expected one of {frameworks.names()}, got {self.framework!r}")
        spec = losses.get(name)
        k = self.n_classes_
        kwargs = spec.train(y, n_classes=k, **self._loss_params(name, weighted, y))
        arrays = {k: np.asarray(v, dtype=np.float32) for k, v in kwargs.items() if k in spec.arrays and v is not None}
        static = {k: v for k, v in kwargs.items() if k not in spec.arrays}
        spec.check(np.zeros((1, k), np.float32), np.zeros(1, np.int64), **arrays, **static)  # bad values fail now
        drw_w = self._weights(y) if self.drw is not None else None
        return LossSpec(
            name,
            tuple(sorted(static.items())),
            tuple(
                (k, tuple(v.reshape(-1).tolist()) if v.ndim == 1 else tuple(map(tuple, v.tolist())))
                for k, v in sorted(arrays.items())
            ),
            batch_weights=per_batch,
            drw_start=None if self.drw is None else max(1, int(self.drw * self.max_epochs)),
            drw_weights=None if drw_w is None else tuple(float(v) for v in drw_w),
        )

    def _target_priors(self) -> np.ndarray | None:
        """The prior correction's target priors (normalised), or None; a wrong length is an error."""
        pc, k = self.prior_correction, self.n_classes_
        if pc is None:
            return None
        if isinstance(pc, str):
            if pc != "uniform":
                raise ValueError(f"prior_correction: expected None, 'uniform' or {k} priors, got {pc!r}")
            return np.full(k, 1.0 / k)
        t = np.asarray(pc, dtype=float)
        if t.shape != (k,) or not np.all(np.isfinite(t)) or np.any(t <= 0):
            raise ValueError(f"prior_correction: expected {k} positive priors (one per class), got {pc!r}")
        return t / t.sum()

    def _split(self, X: np.ndarray, y: np.ndarray):
        """A stratified validation split for early stopping, or none when a class is too small to hold out."""
        n_val = int(round(self.validation_fraction * len(y)))
        counts = np.bincount(y)
        if n_val >= 2 * self.n_classes_ and counts[counts > 0].min() >= 10:
            return train_test_split(X, y, test_size=n_val, stratify=y, random_state=self.random_state)
        return X, X[:0], y, y[:0]  # too few samples of some class to hold any out: fixed number of epochs

    def _solver(self) -> str:
        if self.cosine and (not self.hidden or self.framework != "numpy"):
            raise ValueError(f"cosine: the cosine classifier is an MLP's last layer in NumPy; got hidden="
                             f"{self.hidden!r}, framework={self.framework!r}")  # fmt: skip
        if self.solver not in ("auto", "lbfgs", "adam"):
            raise ValueError(f"solver: expected 'auto', 'lbfgs' or 'adam', got {self.solver!r}")
        if self.solver != "auto":
            if self.solver == "lbfgs" and (self.hidden or self.batch_size is not None):
                raise ValueError(f"solver: 'lbfgs' trains a full-batch linear model; got hidden={self.hidden!r}, "
                                 f"batch_size={self.batch_size!r}")  # fmt: skip
            return self.solver
        per_batch = self.loss in ALIASES and ALIASES[self.loss][2]
        return "lbfgs" if not self.hidden and self.batch_size is None and not per_batch else "adam"

    def _init(self, n_features: int) -> list[np.ndarray]:
        """Glorot-uniform weights, zero biases (seeded by ``random_state``)."""
        rng = np.random.default_rng(self.random_state)
        sizes = [n_features, *self.hidden, self.n_classes_]
        params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            params += [rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32), np.zeros(fan_out, np.float32)]
        return params

    def _resample(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The training rows after the sampler (none: unchanged); records how many it returned."""
        self.n_train_resampled_, self.sampler_unchanged_ = len(y), False
        if self.sampler is None:
            return X, y
        X, y = self.sampler.fit_resample(X, y)
        self.n_train_resampled_ = len(y)
        self.sampler_unchanged_ = bool(getattr(self.sampler, "unchanged_", False))
        return np.asarray(X, dtype=np.float32), np.asarray(y, dtype=np.int64)

    def _fit_lbfgs(self, X: np.ndarray, y: np.ndarray):
        """The linear model's optimum on all training rows (resampled); returns the result and its labels."""
        X, y = self._resample(X, y)
        init = [np.zeros((X.shape[1], self.n_classes_)), np.zeros(self.n_classes_)]
        return lbfgs(X, y, self._spec(y), self.l2, tol=self.tol, max_iter=self.max_iter, init=init), y

    def _fit_adam(self, X: np.ndarray, y: np.ndarray):
        """Adam with early stopping on validation rows held out before resampling; the result and its labels."""
        X, Xv, y, yv = self._split(X, y)
        X, y = self._resample(X, y)
        cap = self.max_epochs if self.hidden else self.max_iter  # a linear model's budget is max_iter, any solver
        if self.no_validation_stop not in ("training_loss", "cap"):
            raise ValueError(f"no_validation_stop: expected 'training_loss' or 'cap', got {self.no_validation_stop!r}")
        hp = HyperParams(self.lr, cap, self.batch_size, patience=self.patience, l2=self.l2,
                         cosine=1.0 if self.cosine else None, no_validation_stop=self.no_validation_stop)  # fmt: skip
        return train(self.framework, X, y, Xv, yv, self._spec(y), self._init(X.shape[1]), hp, self.random_state), y

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float32)
        if self.classes is None:
            self.classes_, y = np.unique(y, return_inverse=True)
        else:
            self.classes_ = np.unique(np.asarray(self.classes))
            unknown = np.setdiff1d(y, self.classes_)
            if unknown.size:
                raise ValueError(f"y: labels {unknown[:5].tolist()} are not in classes={self.classes_[:10].tolist()}")
            y = np.searchsorted(self.classes_, y)
        self.n_classes_ = len(self.classes_)
        if self.n_classes_ < 2:
            raise ValueError(f"y: WCEClassifier needs at least 2 classes, got {self.classes_.tolist()}")
        y = y.astype(np.int64)
        target = self._target_priors()
        if self._solver() == "lbfgs":
            result, y_fit = self._fit_lbfgs(X, y)
            if result.stop.startswith("failed"):  # the line search found no decrease: a loss that is not smooth
                lbfgs_stop = result.stop
                result, y_fit = self._fit_adam(X, y)
                result.stop = f"adam ({result.stop}) after L-BFGS {lbfgs_stop}"
        else:
            result, y_fit = self._fit_adam(X, y)
        y = y_fit
        self.params_, self.n_epochs_, self.best_val_loss_ = result.params, result.epochs, result.best_val
        self.converged_, self.stop_ = result.converged, result.stop
        counts = np.bincount(y, minlength=self.n_classes_).astype(np.float64)
        self.class_priors_ = np.maximum(counts, 1.0) / max(counts.sum(), 1.0)
        self.target_priors_ = target
        return self

    def _logits(self, X) -> np.ndarray:
        """The model's logits (float64), post-hoc adjusted / prior-corrected where asked."""
        check_is_fitted(self, "params_")
        h = validate_data(self, X, dtype=np.float32, reset=False)
        scale = float((self.loss_params or {}).get("scale", 1.0)) if self.cosine else None
        logits = _logits(self.params_, h, scale)
        if self.posthoc_tau is not None:
            from ... import logit_adjust

            logits = logit_adjust(logits, self.class_priors_, tau=self.posthoc_tau)
        if self.target_priors_ is not None:  # softmax(z - log pi + log pi') = p pi' / pi, renormalised
            logits = logits - np.log(self.class_priors_) + np.log(self.target_priors_)
        return logits

    def decision_function(self, X) -> np.ndarray:
        """Binary: the logit difference (n,), positive for class 1; multiclass: the logits (n, C)."""
        logits = self._logits(X)
        return logits[:, 1] - logits[:, 0] if self.n_classes_ == 2 else logits

    def predict_proba(self, X) -> np.ndarray:
        if self.n_classes_ != 2:
            from scipy.special import softmax

            return softmax(self._logits(X), axis=1)
        z = self.decision_function(X)
        p1 = np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))
        return np.column_stack([1 - p1, p1])

    def predict(self, X) -> np.ndarray:
        if self.n_classes_ != 2:
            return self.classes_[np.argmax(self._logits(X), axis=1)]
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


class PenalisedLogisticRegression(ClassifierMixin, BaseEstimator):
    """scikit-learn's ``LogisticRegression`` at the penalty of :class:`WCEClassifier`'s linear model.

    :class:`WCEClassifier` minimises the weighted mean loss plus :math:`\\lambda \\lVert W \\rVert_F^2`
    over one weight column per class; ``LogisticRegression`` minimises
    :math:`C \\sum_i w_i \\ell_i + \\frac{1}{2} \\lVert w \\rVert^2`. The two have the same optimum when

    .. math::

        C = \\frac{1}{\\lambda S} \\text{ (two classes)}, \\qquad C = \\frac{1}{2 \\lambda S} \\text{ (more)}

    with :math:`S = \\sum_i w_i` the sum of the sample weights of the rows it is fitted on (for two classes
    the softmax model's columns are :math:`\\pm w / 2`, so its penalty is :math:`\\lambda \\lVert w
    \\rVert^2 / 2`). ``C`` is set at fit time, after any resampling. ``tol`` and ``max_iter`` are lbfgs's.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(300, weights=[0.9], random_state=0)
    >>> a = PenalisedLogisticRegression(l2=1e-3).fit(X, y)
    >>> b = WCEClassifier(l2=1e-3).fit(X, y)
    >>> bool(np.abs(a.decision_function(X) - b.decision_function(X)).max() < 1e-3)
    True
    """

    def __init__(self, l2: float = 1e-4, class_weight=None, tol: float = 1e-8, max_iter: int = 10000,
                 random_state: int = 0):  # fmt: skip
        self.l2 = l2
        self.class_weight = class_weight
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X, y):
        from sklearn.linear_model import LogisticRegression
        from sklearn.utils.class_weight import compute_sample_weight

        X, y = validate_data(self, X, y)
        s = float(compute_sample_weight(self.class_weight, y).sum())
        c = 1.0 / (self.l2 * s * (1 if len(np.unique(y)) == 2 else 2)) if self.l2 > 0 else np.inf
        self.model_ = LogisticRegression(
            C=c, class_weight=self.class_weight, tol=self.tol, max_iter=self.max_iter, random_state=self.random_state
        ).fit(X, y)
        self.classes_, self.C_, self.n_iter_ = self.model_.classes_, c, self.model_.n_iter_
        return self

    def decision_function(self, X):
        return self.model_.decision_function(validate_data(self, X, reset=False))

    def predict_proba(self, X):
        return self.model_.predict_proba(validate_data(self, X, reset=False))

    def predict(self, X):
        return self.model_.predict(validate_data(self, X, reset=False))
