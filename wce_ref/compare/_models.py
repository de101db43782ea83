"""scikit-learn-compatible classifiers trained with the loss under comparison, in any framework.

They drop into an imbalanced-learn ``Pipeline`` (which resamples only during
``fit``) and into scikit-learn's threshold and model-selection tools.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted, validate_data

from .._weights import class_weights as _class_weights
from ._trainers import ENGINES, HyperParams, LossSpec, train

LOSSES = ("ce", "wce", "batch", "cost", "focal")


class WCEClassifier(ClassifierMixin, BaseEstimator):
    """Logistic regression (``hidden=()``) or an MLP trained with a weighted cross-entropy variant.

    The network outputs two logits; the loss is :func:`wce_ref.softmax_wce`
    (``loss='ce'`` unweighted, ``'wce'`` with ``class_weight``, ``'batch'`` with
    balanced weights recomputed on every mini-batch), :func:`wce_ref.cost_sensitive_ce`
    (``'cost'``, with ``cost_matrix``) or the focal loss
    :math:`-(1 - p_y)^\\gamma \\log p_y` (``'focal'``, optionally alpha-weighted by
    ``class_weight``). Training: Adam, full batch unless ``batch_size`` is set,
    early stopping on a stratified ``validation_fraction`` of the training data,
    best parameters restored.

    Parameters
    ----------
    framework : {'numpy', 'torch', 'jax', 'tensorflow'}
    hidden : tuple of int
        Hidden layer widths; ``()`` is logistic regression.
    loss : {'ce', 'wce', 'batch', 'cost', 'focal'}
    class_weight : None, 'balanced', a scheme of :func:`wce_ref.class_weights`, or dict {0: w0, 1: w1}
    cost_matrix : array (2, 2), optional
        ``cost[true, predicted]`` for ``loss='cost'``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(400, weights=[0.9], random_state=0)
    >>> clf = WCEClassifier(loss="wce", class_weight="balanced", random_state=0).fit(X, y)
    >>> clf.predict_proba(X).shape, sorted(set(clf.predict(X).tolist()))
    ((400, 2), [0, 1])
    """

    def __init__(
        self,
        framework: str = "numpy",
        hidden: tuple[int, ...] = (),
        loss: str = "ce",
        class_weight=None,
        cost_matrix=None,
        focal_gamma: float = 2.0,
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
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.patience = patience
        self.l2 = l2
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def _weights(self, y: np.ndarray) -> tuple[float, float] | None:
        cw = self.class_weight
        if cw is None:
            return None
        if isinstance(cw, dict):
            return float(cw.get(0, 1.0)), float(cw.get(1, 1.0))
        if isinstance(cw, str):
            w = _class_weights(y, cw, n_classes=2)
            return float(w[0]), float(w[1])
        raise ValueError(f"class_weight: expected None, a scheme name or a dict, got {cw!r}")

    def _spec(self, y: np.ndarray) -> LossSpec:
        if self.loss not in LOSSES:
            raise ValueError(f"loss: expected one of {LOSSES}, got {self.loss!r}")
        if self.framework not in ENGINES:
            raise ValueError(f"framework: expected one of {sorted(ENGINES)}, got {self.framework!r}")
        cost = None
        if self.loss == "cost":
            c = np.asarray(self.cost_matrix, dtype=float)
            if c.shape != (2, 2):
                raise ValueError(f"cost_matrix: expected a (2, 2) array for loss='cost', got {self.cost_matrix!r}")
            cost = tuple(map(tuple, c.tolist()))
        return LossSpec(self.loss, self._weights(y) if self.loss in ("wce", "focal") else None, cost, self.focal_gamma)

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
        return self

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self, "params_")
        h = validate_data(self, X, dtype=np.float32, reset=False)
        p = self.params_
        for i in range(0, len(p) - 2, 2):
            h = np.maximum(h @ p[i] + p[i + 1], 0)
        logits = h @ p[-2] + p[-1]
        return (logits[:, 1] - logits[:, 0]).astype(np.float64)

    def predict_proba(self, X) -> np.ndarray:
        z = self.decision_function(X)
        p1 = np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))
        return np.column_stack([1 - p1, p1])

    def predict(self, X) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]
