"""scikit-learn-compatible classifiers trained with the loss under comparison, in any framework.

They drop into an imbalanced-learn ``Pipeline`` (which resamples only during
``fit``) and into scikit-learn's threshold and model-selection tools.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import frameworks, losses
from .._weights import class_weights as _class_weights
from ._trainers import HyperParams, LossSpec, train

#: short names kept from the first suites: name -> (registered loss, class weights used, per-batch weights)
ALIASES: dict[str, tuple[str, bool, bool]] = {
    "ce": ("softmax_wce", False, False),
    "wce": ("softmax_wce", True, False),
    "batch": ("softmax_wce", False, True),
    "cost": ("cost_sensitive_ce", False, False),
    "focal": ("softmax_focal", True, False),
}


class WCEClassifier(ClassifierMixin, BaseEstimator):
    """Logistic regression (``hidden=()``) or an MLP trained with any registered loss, in any framework.

    The network outputs two logits; the loss is any loss of
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
    Training: Adam, full batch unless ``batch_size`` is set, early stopping on a
    stratified ``validation_fraction`` of the training data, best parameters
    restored.

    Parameters
    ----------
    framework : a registered framework with a training engine ('numpy', 'torch', 'jax', 'tensorflow')
    hidden : tuple of int
        Hidden layer widths; ``()`` is logistic regression.
    loss : str
        A registered softmax-family loss or a short name (see above).
    class_weight : None, a scheme of :func:`wce_ref.class_weights`, or dict {0: w0, 1: w1}
    cost_matrix : array (2, 2), optional
        ``cost[true, predicted]`` for ``loss='cost'`` / ``'cost_sensitive_ce'``.
    focal_gamma : float
        ``gamma`` of the focal loss (when ``loss_params`` does not set it).
    loss_params : dict, optional
        Further keyword arguments of the loss (``tau``, ``max_margin``, ``epsilon`` ...).

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
        lr: float = 0.05,
        max_epochs: int = 300,
        batch_size: int | None = None,
        patience: int = 8,
        l2: float = 1e-4,
        validation_fraction: float = 0.1,
        random_state: int = 0,
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
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.patience = patience
        self.l2 = l2
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def _weights(self, y: np.ndarray) -> np.ndarray | None:
        cw = self.class_weight
        if cw is None:
            return None
        if isinstance(cw, dict):
            return np.array([float(cw.get(0, 1.0)), float(cw.get(1, 1.0))])
        if isinstance(cw, str):
            return _class_weights(y, cw, n_classes=2)
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
        params = dict(self.loss_params or {})
        if name == "softmax_focal":
            params.setdefault("gamma", self.focal_gamma)
        if name == "cost_sensitive_ce":
            c = np.asarray(self.cost_matrix, dtype=float)
            if c.shape != (2, 2):
                raise ValueError(
                    f"cost_matrix: expected a (2, 2) array for loss={self.loss!r}, got {self.cost_matrix!r}"
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
        kwargs = spec.train(y, n_classes=2, **self._loss_params(name, weighted, y))
        arrays = {k: np.asarray(v, dtype=np.float32) for k, v in kwargs.items() if k in spec.arrays and v is not None}
        static = {k: v for k, v in kwargs.items() if k not in spec.arrays}
        spec.check(np.zeros((1, 2), np.float32), np.zeros(1, np.int64), **arrays, **static)  # bad values fail now
        drw_w = self._weights(y) if self.drw is not None else None
        return LossSpec(
            name,
            tuple(sorted(static.items())),
            tuple((k, tuple(v.reshape(-1).tolist()) if v.ndim == 1 else tuple(map(tuple, v.tolist())))
                  for k, v in sorted(arrays.items())),
            batch_weights=per_batch,
            drw_start=None if self.drw is None else max(1, int(self.drw * self.max_epochs)),
            drw_weights=None if drw_w is None else tuple(float(v) for v in drw_w),
        )

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float32)
        self.classes_, y = np.unique(y, return_inverse=True)
        if len(self.classes_) != 2:
            raise ValueError(f"y: WCEClassifier is binary, got {len(self.classes_)} classes {self.classes_[:5]}")
        y = y.astype(np.int64)
        spec = self._spec(y)
        rng = np.random.default_rng(self.random_state)
        n_val = int(round(self.validation_fraction * len(y)))
        if n_val >= 4 and np.bincount(y).min() >= 10:
            X, Xv, y, yv = train_test_split(X, y, test_size=n_val, stratify=y, random_state=self.random_state)
        else:  # too few minority samples to hold any out: fixed number of epochs
            Xv, yv = X[:0], y[:0]
        sizes = [X.shape[1], *self.hidden, 2]
        params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            params += [rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32), np.zeros(fan_out, np.float32)]
        hp = HyperParams(self.lr, self.max_epochs, self.batch_size, patience=self.patience, l2=self.l2)
        result = train(self.framework, X, y, Xv, yv, spec, params, hp, self.random_state)
        self.params_, self.n_epochs_, self.best_val_loss_ = result.params, result.epochs, result.best_val
        if self.posthoc_tau is not None:
            counts = np.bincount(y, minlength=2).astype(np.float64)
            self.class_priors_ = np.maximum(counts, 1.0) / max(counts.sum(), 1.0)
        return self

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self, "params_")
        h = validate_data(self, X, dtype=np.float32, reset=False)
        p = self.params_
        for i in range(0, len(p) - 2, 2):
            h = np.maximum(h @ p[i] + p[i + 1], 0)
        logits = (h @ p[-2] + p[-1]).astype(np.float64)
        if self.posthoc_tau is not None:
            from .. import logit_adjust

            logits = logit_adjust(logits, self.class_priors_, tau=self.posthoc_tau)
        return logits[:, 1] - logits[:, 0]

    def predict_proba(self, X) -> np.ndarray:
        z = self.decision_function(X)
        p1 = np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))
        return np.column_stack([1 - p1, p1])

    def predict(self, X) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]
