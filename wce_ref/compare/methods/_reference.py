"""The strongest reference methods: imbalanced-learn's ensembles and class-weighted gradient boosting.

Each entry is one line: a name, what it is, its paper and a factory
``seed -> estimator``. Every estimator is a scikit-learn classifier with
``predict_proba`` that takes the training folds as they are (the balancing is
inside: undersampling per tree / per boosting round, or class weights), so it
runs in the suites' protocol in place of the pipeline's model, with the same
splits and seeds as every strategy.

The settings are the libraries' defaults, written out so that a library
upgrade cannot change them silently, with ``n_jobs=1``: the suites get their
parallelism from cells side by side, one core each (the runner also limits
OpenMP / BLAS threads, which bounds :class:`HistGradientBoostingClassifier`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._validation import WCEInputError


def _seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**32:
        raise WCEInputError(f"seed: expected a whole number in [0, 2**32) for random_state, got {seed!r}")
    return int(seed)


def _balanced_random_forest(seed: int) -> Any:
    from imblearn.ensemble import BalancedRandomForestClassifier

    # imbalanced-learn >= 0.13 defaults, as in Chen et al.: every tree on a bootstrap of the minority
    # and an equal-sized sample of the majority, drawn with replacement
    return BalancedRandomForestClassifier(
        n_estimators=100, sampling_strategy="all", replacement=True, bootstrap=False, n_jobs=1, random_state=seed
    )


def _easy_ensemble(seed: int) -> Any:
    from imblearn.ensemble import EasyEnsembleClassifier
    from sklearn.ensemble import AdaBoostClassifier

    return EasyEnsembleClassifier(n_estimators=10, estimator=AdaBoostClassifier(n_estimators=50), n_jobs=1,
                                  random_state=seed)  # fmt: skip


def _rusboost(seed: int) -> Any:
    from imblearn.ensemble import RUSBoostClassifier
    from sklearn.tree import DecisionTreeClassifier

    # trees, not imbalanced-learn's default stumps: the paper boosts C4.5 trees, and a stump fit on a balanced
    # undersample can misclassify more than half of a highly imbalanced training set, which stops AdaBoost
    # before its first round ("worse than random"; seen at 5% positives)
    return RUSBoostClassifier(estimator=DecisionTreeClassifier(max_depth=None), n_estimators=50, random_state=seed)


def _balanced_bagging(seed: int) -> Any:
    from imblearn.ensemble import BalancedBaggingClassifier
    from sklearn.tree import DecisionTreeClassifier

    # bootstrap=False: every tree's random balanced undersample is drawn from the whole training data; a bootstrap
    # of it first (the library's default) can hold no minority row when there are a handful (zoo_3, 4 of 81), and
    # the undersampler then fails with a single class
    return BalancedBaggingClassifier(estimator=DecisionTreeClassifier(), n_estimators=10, bootstrap=False, n_jobs=1,
                                     random_state=seed)  # fmt: skip


def _hgb_balanced(seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    # early stopping on a 10% validation split from 10,000 training rows on ("auto"), as in scikit-learn
    return HistGradientBoostingClassifier(
        class_weight="balanced", max_iter=100, learning_rate=0.1, early_stopping="auto", random_state=seed
    )


@dataclass(frozen=True)
class ReferenceMethod:
    """A reference estimator: ``make(seed)`` builds a fresh, unfitted classifier with ``predict_proba``."""

    name: str
    family: str
    description: str
    reference: str
    factory: Callable[[int], Any]

    def make(self, seed: int = 0) -> Any:
        """A new unfitted estimator seeded with ``seed`` (``random_state``)."""
        return self.factory(_seed(seed))


_R = ReferenceMethod

#: name -> reference method, one line each
REFERENCE_METHODS: dict[str, ReferenceMethod] = {
    r.name: r
    for r in [
        _R("balanced_random_forest", "ensemble", "balanced random forest: 100 trees, each on a balanced bootstrap",
           "Chen, Liaw & Breiman, Using random forest to learn imbalanced data, UC Berkeley TR 666, 2004",
           _balanced_random_forest),
        _R("easy_ensemble", "ensemble", "EasyEnsemble: 10 AdaBoost ensembles (50 stumps), each on a random "
           "balanced undersample", "Liu, Wu & Zhou, Exploratory undersampling for class-imbalance learning, "
           "IEEE TSMC-B 39(2), 2009", _easy_ensemble),
        _R("rusboost", "ensemble", "RUSBoost: AdaBoost of 50 decision trees, random undersampling before every round",
           "Seiffert et al., RUSBoost: a hybrid approach to alleviating class imbalance, IEEE TSMC-A 40(1), 2010",
           _rusboost),
        _R("balanced_bagging", "ensemble", "balanced bagging: 10 decision trees, each on a random balanced "
           "undersample", "Maclin & Opitz, An empirical evaluation of bagging and boosting, AAAI 1997; "
           "Hido, Kashima & Takahashi, Roughly balanced bagging, Stat. Anal. Data Min. 2(5-6), 2009",
           _balanced_bagging),
        _R("hgb_balanced", "boosting", "histogram gradient boosting, 100 rounds, class_weight='balanced'",
           "Ke et al., LightGBM, NeurIPS 2017 (scikit-learn's HistGradientBoostingClassifier)", _hgb_balanced),
    ]
}  # fmt: skip


def make_reference(name: str, seed: int = 0) -> Any:
    """A fresh reference estimator by name (see :data:`REFERENCE_METHODS`)."""
    if name not in REFERENCE_METHODS:
        raise WCEInputError(f"name: unknown reference method {name!r}; known: {', '.join(REFERENCE_METHODS)}")
    return REFERENCE_METHODS[name].make(seed)
