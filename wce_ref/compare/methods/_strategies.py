"""The imbalance strategies under comparison: one registry, one line per strategy.

A strategy changes the loss (weights, cost matrix, focal), resamples the
training data with an imbalanced-learn sampler, or moves the decision
threshold. Everything is applied inside the pipeline's ``fit``, i.e. to the
training folds only; the test fold is never resampled or reweighted.

Each strategy declares the tasks it supports (:data:`TASKS`): ``binary``
(two classes, 1 = minority) and ``multiclass`` (C classes; long-tailed
datasets are multiclass). imbalanced-learn's samplers use their multiclass
sampling strategy ``'auto'``: over-samplers raise every class but the
majority to the majority's count ("not majority"), under-samplers reduce
every class but the minority to the minority's count ("not minority"),
cleaning methods (Tomek links, ENN) remove samples of every class but the
minority.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: the tasks a strategy may support; a long-tailed dataset is a ``multiclass`` task for the strategies
TASKS = ("binary", "multiclass")
FAMILIES = ("baseline", "weighting", "oversampling", "undersampling", "combination", "cost-sensitive", "loss",
            "reference")  # fmt: skip


def _k(n_minority: int, default: int = 5) -> int:
    """Neighbours for SMOTE-like samplers: at most the smallest class count in the training fold minus one."""
    return max(1, min(default, n_minority - 1))


def task_of(dataset_task: str) -> str:
    """The strategy task of a dataset task: ``binary`` stays, ``multiclass`` and ``longtail`` are multiclass."""
    return "binary" if dataset_task == "binary" else "multiclass"


#: ADASYN's errors when it has nothing to generate (its classes nearly balanced, or no minority sample with a
#: neighbour of another class): the training data is then left as it is, and the store records it
NOTHING_TO_GENERATE = ("No samples will be generated", "Not any neigbours belong to the majority class")


class RecordedSampler:
    """An imbalanced-learn sampler that records how many rows it returned (``n_out_``).

    With ``lenient``, a sampler that has nothing to generate
    (:data:`NOTHING_TO_GENERATE`) returns the training data unchanged instead
    of failing the cell; ``unchanged_`` says so.
    """

    def __init__(self, sampler: Any, lenient: bool = False) -> None:
        self.sampler, self.lenient = sampler, lenient

    def fit_resample(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.unchanged_ = False
        try:
            X, y = self.sampler.fit_resample(X, y)
        except (ValueError, RuntimeError) as exc:
            if not (self.lenient and str(exc).startswith(NOTHING_TO_GENERATE)):
                raise
            self.unchanged_ = True
        self.n_out_ = len(y)
        return X, y


def _sampler(name: str) -> Callable[..., Any]:
    def make(y: np.ndarray, seed: int, min_count: int | None = None) -> RecordedSampler:
        """``min_count``: the smallest class count the sampler will see (inner folds), default ``y``'s."""
        return RecordedSampler(_make(y, seed, min_count), lenient=name == "adasyn")

    def _make(y: np.ndarray, seed: int, min_count: int | None):
        from imblearn import combine, over_sampling, under_sampling

        k = _k(int(np.bincount(y).min()) if min_count is None else min_count)
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


class SmoteVariant:
    """An oversampler of the ``smote-variants`` package (Kovács 2019) with imbalanced-learn's ``fit_resample``.

    ``smote-variants`` is imported when a cell runs (the ``suites`` extra installs it); its informational
    log lines are silenced.
    """

    def __init__(self, name: str, seed: int, n_neighbors: int) -> None:
        self.name, self.seed, self.n_neighbors = name, seed, n_neighbors

    def fit_resample(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import logging

        import smote_variants

        logging.getLogger("smote_variants").setLevel(logging.WARNING)  # after its import, which sets INFO

        # n_neighbors is at most the smallest class count minus one (polynom-fit-SMOTE has none and ignores it)
        sampler = getattr(smote_variants, self.name)(n_neighbors=self.n_neighbors, random_state=self.seed)
        X_out, y_out = sampler.sample(np.asarray(X), np.asarray(y))
        return np.asarray(X_out), np.asarray(y_out).astype(np.asarray(y).dtype)


def _smote_variant(name: str) -> Callable[..., Any]:
    def make(y: np.ndarray, seed: int, min_count: int | None = None) -> RecordedSampler:
        k = _k(int(np.bincount(y).min()) if min_count is None else min_count)
        return RecordedSampler(SmoteVariant(name, seed, k))

    return make


def imbalance_ratio(y: np.ndarray) -> float:
    """Binary labels: majority / minority (class 1) count."""
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
    ``estimator(seed)`` builds a reference classifier (:mod:`._reference`) that
    replaces the suite's model: it runs once per fold (model ``reference``,
    framework ``sklearn``), whatever the suite's models and frameworks.
    ``sklearn_class_weight`` is what scikit-learn's ``LogisticRegression`` gets
    (``None`` where the strategy has no scikit-learn equivalent). ``tasks``
    lists the tasks it supports; ``uses_costs`` / ``uses_priors`` say that a
    suite's ``[costs]`` matrix / ``[priors]`` target priors for the dataset
    replace the strategy's default.
    """

    name: str
    family: str
    description: str
    loss: dict[str, Any] = field(default_factory=dict)
    sampler: Callable[[np.ndarray, int], Any] | None = None
    threshold: bool = False
    sklearn_class_weight: Any = "none"  # "none" = plain; None = not expressible
    tasks: tuple[str, ...] = TASKS
    uses_costs: bool = False
    uses_priors: bool = False
    estimator: Callable[[int], Any] | None = None
    models: tuple[str, ...] | None = None  # the models it applies to (None: every model)

    def loss_kwargs(self, y: np.ndarray) -> dict[str, Any]:
        return {k: (v(y) if callable(v) else v) for k, v in self.loss.items()}

    def supports(self, model: str) -> bool:
        if self.estimator is not None:
            return model == REFERENCE_MODEL
        if self.models is not None:
            return model in self.models
        return model != "sklearn_lr" or self.sklearn_class_weight is not None

    def supports_task(self, task: str) -> bool:
        """Whether the strategy applies to a dataset of ``task`` (``binary``, ``multiclass``, ``longtail``)."""
        return task_of(task) in self.tasks


def cost_matrix_from_counts(y: np.ndarray) -> list[list[float]]:
    """The cost matrix derived from the training class counts.

    .. math::

        c_{ij} = \\max\\left(1, \\frac{n_j}{n_i}\\right)

    ``cost[true i, predicted j]``: taking a sample of a rarer class for a more
    frequent one costs their count ratio, every other decision 1 (Elkan 2001's
    cost matrix with the imbalance ratios as costs). For two classes it is
    ``[[1, 1], [IR, 1]]``. Absent classes count as 1.
    """
    n = np.maximum(np.bincount(y), 1).astype(np.float64)
    return np.maximum(1.0, n[None, :] / n[:, None]).tolist()


def _sklearn_weights(scheme: str) -> Callable[[np.ndarray], dict[int, float]]:
    def make(y: np.ndarray) -> dict[int, float]:
        from ..._weights import class_weights

        w = class_weights(y, scheme, n_classes=int(y.max()) + 1)
        return {c: float(v) for c, v in enumerate(w)}

    return make


def _loss(name: str, description: str, loss: str, **kw: Any) -> Strategy:
    """A strategy that trains with a registered loss (``kw``: WCEClassifier arguments)."""
    return Strategy(name, "loss", description, {"loss": loss, **kw}, sklearn_class_weight=None)


#: the model and framework names of a reference strategy's cells (its estimator replaces the suite's model)
REFERENCE_MODEL, REFERENCE_FRAMEWORK = "reference", "sklearn"


def _reference(name: str) -> Strategy:
    """A reference method of :data:`~._reference.REFERENCE_METHODS` as a binary strategy."""
    from ._reference import REFERENCE_METHODS

    r = REFERENCE_METHODS[name]
    return Strategy(name, "reference", f"{r.description} ({r.reference})", estimator=r.make,
                    sklearn_class_weight=None, tasks=("binary",))  # fmt: skip


#: strategies that change the training loss to one of the registry's long-tail / focusing losses
LOSS_STRATEGIES = [
    _loss("focal", "focal loss (Lin et al. 2017), gamma = 2", "softmax_focal", loss_params={"gamma": 2.0}),
    _loss(
        "focal_balanced",
        "focal loss, gamma = 2, balanced class weights",
        "softmax_focal",
        loss_params={"gamma": 2.0},
        class_weight="balanced",
    ),
    _loss(
        "logit_adjusted",
        "logit-adjusted loss (Menon et al. 2021), tau = 1 (balanced softmax)",
        "logit_adjusted_ce",
        loss_params={"tau": 1.0},
    ),
    _loss(
        "logit_adjusted_posthoc",
        "plain CE, logits adjusted by -log(prior) at prediction (Menon et al. 2021)",
        "softmax_wce",
        posthoc_tau=1.0,
    ),
    _loss(
        "ldam",
        "LDAM (Cao et al. 2019), max margin 0.5, scale 30",
        "ldam_ce",
        loss_params={"max_margin": 0.5, "scale": 30.0},
    ),
    _loss(
        "ldam_drw",
        "LDAM with deferred re-weighting: effective-number weights (beta 0.999) from 80% of the epochs on",
        "ldam_ce",
        loss_params={"max_margin": 0.5, "scale": 30.0},
        class_weight="effective_number",
        drw=0.8,
    ),
    _loss("poly1", "Poly-1 loss (Leng et al. 2022), epsilon = 1", "poly1_ce", loss_params={"epsilon": 1.0}),
    Strategy("ldam_normed", "loss", "LDAM in the paper's setting: the MLP's last layer a cosine classifier "
             "(normalised features and weights), max margin 0.5, scale 30 (Cao et al. 2019)",
             {"loss": "ldam_ce", "loss_params": {"max_margin": 0.5, "scale": 30.0}, "cosine": True},
             sklearn_class_weight=None, models=("mlp",)),
    Strategy("ldam_drw_normed", "loss", "LDAM-DRW in the paper's setting: cosine last layer, scale 30, "
             "effective-number weights (beta 0.999) from 80% of the epochs on (Cao et al. 2019)",
             {"loss": "ldam_ce", "loss_params": {"max_margin": 0.5, "scale": 30.0}, "cosine": True,
              "class_weight": "effective_number", "drw": 0.8},
             sklearn_class_weight=None, models=("mlp",)),
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
        Strategy(
            "adasyn",
            "oversampling",
            "ADASYN; where it has nothing to generate (classes nearly balanced, or no neighbour of another class) "
            "the training data stays as it is (the report counts those cells)",
            sampler=_sampler("adasyn"),
        ),
        Strategy("polynom_fit_smote", "oversampling",
                 "polynom-fit-SMOTE, star topology (Gazzah & Amara 2008; `smote-variants`' top-ranked oversampler)",
                 sampler=_smote_variant("polynom_fit_SMOTE_star"), tasks=("binary",)),
        Strategy("prowsyn", "oversampling",
                 "ProWSyn, proximity-weighted synthesis (Barua et al. 2013; `smote-variants`)",
                 sampler=_smote_variant("ProWSyn"), tasks=("binary",)),
        Strategy("smote_ipf", "oversampling", "SMOTE-IPF, SMOTE with an iterative-partitioning noise filter (Sáez "
                 "et al. 2015; `smote-variants`)", sampler=_smote_variant("SMOTE_IPF"), tasks=("binary",)),
        Strategy("rus", "undersampling", "random undersampling", sampler=_sampler("rus")),
        Strategy("nearmiss", "undersampling", "NearMiss-1", sampler=_sampler("nearmiss")),
        Strategy("tomek", "undersampling", "Tomek links removal", sampler=_sampler("tomek")),
        Strategy("enn", "undersampling", "Edited Nearest Neighbours", sampler=_sampler("enn")),
        Strategy("smote_enn", "combination", "SMOTE + ENN", sampler=_sampler("smote_enn")),
        Strategy("smote_tomek", "combination", "SMOTE + Tomek links", sampler=_sampler("smote_tomek")),
        Strategy(
            "cost_matrix",
            "cost-sensitive",
            "cost-sensitive CE; cost[true i, pred j] = max(1, n_j / n_i) ([[1, 1], [IR, 1]] for two classes), "
            "or the suite's `[costs]` matrix for the dataset",
            {"loss": "cost", "cost_matrix": cost_matrix_from_counts},
            sklearn_class_weight=None,
            uses_costs=True,
        ),
        Strategy(
            "threshold",
            "cost-sensitive",
            "plain CE, Bayes minimum-risk threshold 1 / (1 + IR)",
            {"loss": "ce"},
            threshold=True,
            tasks=("binary",),
        ),
        Strategy(
            "prior_correction",
            "cost-sensitive",
            "plain CE, predicted probabilities corrected from the training priors to target priors (Saerens et al. "
            "2002): uniform, or the suite's `[priors]` for the dataset; the multiclass counterpart of `threshold`",
            {"loss": "ce", "prior_correction": "uniform"},
            sklearn_class_weight=None,
            tasks=("multiclass",),
            uses_priors=True,
        ),
        *LOSS_STRATEGIES,
        _reference("balanced_random_forest"),
        _reference("easy_ensemble"),
        _reference("rusboost"),
        _reference("balanced_bagging"),
        _reference("hgb_balanced"),
    ]
}


def get(name: str) -> Strategy:
    if name not in STRATEGIES:
        raise ValueError(f"strategy: unknown {name!r}; known: {', '.join(STRATEGIES)}")
    return STRATEGIES[name]
