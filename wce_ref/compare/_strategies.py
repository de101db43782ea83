"""The imbalance strategies under comparison: one registry, one line per strategy.

A strategy changes the loss (weights, cost matrix, focal), resamples the
training data with an imbalanced-learn sampler, or moves the decision
threshold. Everything is applied inside the pipeline's ``fit``, i.e. to the
training folds only; the test fold is never resampled or reweighted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FAMILIES = ("baseline", "weighting", "oversampling", "undersampling", "combination", "cost-sensitive", "loss")


def _k(n_minority: int, default: int = 5) -> int:
    """Neighbours for SMOTE-like samplers: at most the minority count in the training fold minus one."""
    return max(1, min(default, n_minority - 1))


def _sampler(name: str) -> Callable[[np.ndarray, int], Any]:
    def make(y: np.ndarray, seed: int):
        from imblearn import combine, over_sampling, under_sampling

        k = _k(int(np.sum(y == 1)))
        if name == "ros":
            return over_sampling.RandomOverSampler(random_state=seed)
        if name == "smote":
            return over_sampling.SMOTE(k_neighbors=k, random_state=seed)
        if name == "borderline_smote":
            return over_sampling.BorderlineSMOTE(k_neighbors=k, random_state=seed)
        if name == "adasyn":
            return over_sampling.ADASYN(n_neighbors=k, random_state=seed)
        if name == "rus":
            return under_sampling.RandomUnderSampler(random_state=seed)
        if name == "nearmiss":
            return under_sampling.NearMiss(version=1, n_neighbors=min(3, k))
        if name == "tomek":
            return under_sampling.TomekLinks()
        if name == "enn":
            return under_sampling.EditedNearestNeighbours()
        if name == "smote_enn":
            return combine.SMOTEENN(smote=over_sampling.SMOTE(k_neighbors=k, random_state=seed), random_state=seed)
        if name == "smote_tomek":
            return combine.SMOTETomek(smote=over_sampling.SMOTE(k_neighbors=k, random_state=seed), random_state=seed)
        raise KeyError(name)

    return make


def imbalance_ratio(y: np.ndarray) -> float:
    n1 = int(np.sum(y == 1))
    return (len(y) - n1) / max(n1, 1)


@dataclass(frozen=True)
class Strategy:
    """One way of fighting imbalance.

    ``loss`` holds keyword arguments for :class:`~wce_ref.compare.WCEClassifier`
    (callables of the training labels are evaluated at fit time, e.g. the cost
    matrix from the fold's imbalance ratio); ``sampler(y, seed)`` builds an
    imbalanced-learn sampler; ``threshold`` moves the decision threshold to the
    Bayes minimum-risk value :math:`c_{FP} / (c_{FP} + c_{FN}) = 1 / (1 + IR)`.
    ``sklearn_class_weight`` is what scikit-learn's ``LogisticRegression`` gets
    (``None`` where the strategy has no scikit-learn equivalent).
    """

    name: str
    family: str
    description: str
    loss: dict[str, Any] = field(default_factory=dict)
    sampler: Callable[[np.ndarray, int], Any] | None = None
    threshold: bool = False
    sklearn_class_weight: Any = "none"  # "none" = plain; None = not expressible

    def loss_kwargs(self, y: np.ndarray) -> dict[str, Any]:
        return {k: (v(y) if callable(v) else v) for k, v in self.loss.items()}

    def supports(self, model: str) -> bool:
        return model != "sklearn_lr" or self.sklearn_class_weight is not None


def _cost_matrix(y: np.ndarray) -> list[list[float]]:
    """cost[true, predicted]: a missed minority sample costs IR, everything else 1."""
    return [[1.0, 1.0], [imbalance_ratio(y), 1.0]]


def _sklearn_weights(scheme: str) -> Callable[[np.ndarray], dict[int, float]]:
    def make(y: np.ndarray) -> dict[int, float]:
        from .._weights import class_weights

        w = class_weights(y, scheme, n_classes=2)
        return {0: float(w[0]), 1: float(w[1])}

    return make


def _loss(name: str, description: str, loss: str, **kw: Any) -> Strategy:
    """A strategy that trains with a registered loss (``kw``: WCEClassifier arguments)."""
    return Strategy(name, "loss", description, {"loss": loss, **kw}, sklearn_class_weight=None)


#: strategies that change the training loss to one of the registry's long-tail / focusing losses
LOSS_STRATEGIES = [
    _loss("focal", "focal loss (Lin et al. 2017), gamma = 2", "softmax_focal", loss_params={"gamma": 2.0}),
    _loss("focal_balanced", "focal loss, gamma = 2, balanced class weights", "softmax_focal",
          loss_params={"gamma": 2.0}, class_weight="balanced"),
    _loss("logit_adjusted", "logit-adjusted loss (Menon et al. 2021), tau = 1 (balanced softmax)",
          "logit_adjusted_ce", loss_params={"tau": 1.0}),
    _loss("logit_adjusted_posthoc", "plain CE, logits adjusted by -log(prior) at prediction (Menon et al. 2021)",
          "softmax_wce", posthoc_tau=1.0),
    _loss("ldam", "LDAM (Cao et al. 2019), max margin 0.5, scale 30", "ldam_ce",
          loss_params={"max_margin": 0.5, "scale": 30.0}),
    _loss("ldam_drw", "LDAM with deferred re-weighting: effective-number weights (beta 0.999) from 80% of the "
          "epochs on", "ldam_ce", loss_params={"max_margin": 0.5, "scale": 30.0},
          class_weight="effective_number", drw=0.8),
    _loss("poly1", "Poly-1 loss (Leng et al. 2022), epsilon = 1", "poly1_ce", loss_params={"epsilon": 1.0}),
]

STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in [
        Strategy("baseline", "baseline", "plain cross entropy", {"loss": "ce"}),
        *[
            Strategy(
                f"wce_{scheme}",
                "weighting",
                f"weighted cross entropy, `class_weights(scheme='{scheme}')`",
                {"loss": "wce", "class_weight": scheme},
                sklearn_class_weight="balanced" if scheme == "balanced" else _sklearn_weights(scheme),
            )
            for scheme in ("balanced", "inverse", "inverse_sqrt", "effective_number", "enet")
        ],
        Strategy(
            "wce_batch",
            "weighting",
            "weighted cross entropy, balanced weights recomputed per mini-batch of 256",
            {"loss": "batch", "batch_size": 256},
            sklearn_class_weight=None,
        ),
        Strategy("ros", "oversampling", "random oversampling", sampler=_sampler("ros")),
        Strategy("smote", "oversampling", "SMOTE", sampler=_sampler("smote")),
        Strategy("borderline_smote", "oversampling", "Borderline-SMOTE", sampler=_sampler("borderline_smote")),
        Strategy("adasyn", "oversampling", "ADASYN", sampler=_sampler("adasyn")),
        Strategy("rus", "undersampling", "random undersampling", sampler=_sampler("rus")),
        Strategy("nearmiss", "undersampling", "NearMiss-1", sampler=_sampler("nearmiss")),
        Strategy("tomek", "undersampling", "Tomek links removal", sampler=_sampler("tomek")),
        Strategy("enn", "undersampling", "Edited Nearest Neighbours", sampler=_sampler("enn")),
        Strategy("smote_enn", "combination", "SMOTE + ENN", sampler=_sampler("smote_enn")),
        Strategy("smote_tomek", "combination", "SMOTE + Tomek links", sampler=_sampler("smote_tomek")),
        Strategy(
            "cost_matrix",
            "cost-sensitive",
            "cost-sensitive CE, cost[true, pred] = [[1, 1], [IR, 1]]",
            {"loss": "cost", "cost_matrix": _cost_matrix},
            sklearn_class_weight=None,
        ),
        Strategy(
            "threshold",
            "cost-sensitive",
            "plain CE, Bayes minimum-risk threshold 1 / (1 + IR)",
            {"loss": "ce"},
            threshold=True,
        ),
        *LOSS_STRATEGIES,
    ]
}


def get(name: str) -> Strategy:
    if name not in STRATEGIES:
        raise ValueError(f"strategy: unknown {name!r}; known: {', '.join(STRATEGIES)}")
    return STRATEGIES[name]
