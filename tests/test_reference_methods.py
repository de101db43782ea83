"""One contract over every reference method: fits imbalanced data, probabilities, seeds, better than chance."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("imblearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.metrics import balanced_accuracy_score, roc_auc_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from wce_ref._validation import WCEInputError  # noqa: E402
from wce_ref.compare.methods._reference import REFERENCE_METHODS, make_reference  # noqa: E402

NAMES = sorted(REFERENCE_METHODS)


@pytest.fixture(scope="module")
def data():
    """A separable but imbalanced problem: 5% positives, informative features, little label noise."""
    X, y = make_classification(
        600, n_features=8, n_informative=4, weights=[0.95], class_sep=1.5, flip_y=0.0, random_state=0
    )
    return train_test_split(X, y, test_size=0.4, stratify=y, random_state=0)


def test_the_table_is_the_issue_list():
    expected = {"balanced_random_forest", "easy_ensemble", "rusboost", "balanced_bagging", "hgb_balanced"}
    assert set(REFERENCE_METHODS) == expected
    for name, m in REFERENCE_METHODS.items():
        assert m.name == name and m.description and m.reference


@pytest.mark.parametrize("name", NAMES)
def test_fits_and_beats_chance_on_imbalanced_data(name, data):
    X_train, X_test, y_train, y_test = data
    assert y_train.mean() < 0.1
    clf = make_reference(name, seed=1).fit(X_train, y_train)
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(y_test), 2)
    assert np.all((proba >= 0) & (proba <= 1)) and np.allclose(proba.sum(axis=1), 1)
    assert roc_auc_score(y_test, proba[:, 1]) > 0.85
    # the balancing is built in: the minority is found at the default threshold
    assert balanced_accuracy_score(y_test, clf.predict(X_test)) > 0.7


@pytest.mark.parametrize("name", NAMES)
def test_reproducible_with_its_seed_and_clonable(name, data):
    X_train, X_test, y_train, _ = data
    a = make_reference(name, seed=3).fit(X_train, y_train).predict_proba(X_test)
    b = make_reference(name, seed=3).fit(X_train, y_train).predict_proba(X_test)
    np.testing.assert_array_equal(a, b)
    est = make_reference(name, seed=3)
    assert est.get_params()["random_state"] == 3
    np.testing.assert_array_equal(clone(est).fit(X_train, y_train).predict_proba(X_test), a)


@pytest.mark.parametrize("name", NAMES)
def test_runs_inside_the_suites_pipeline(name, data):
    from imblearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, y_train, _ = data
    pipe = Pipeline([("scale", StandardScaler()), ("model", make_reference(name, seed=0))]).fit(X_train, y_train)
    assert pipe.predict_proba(X_test).shape == (len(X_test), 2)


def test_seeds_change_the_randomised_ensembles(data):
    X_train, X_test, y_train, _ = data
    for name in ("balanced_random_forest", "easy_ensemble", "balanced_bagging"):
        a = make_reference(name, seed=0).fit(X_train, y_train).predict_proba(X_test)
        b = make_reference(name, seed=1).fit(X_train, y_train).predict_proba(X_test)
        assert not np.array_equal(a, b), name


def test_bad_name_and_seed():
    with pytest.raises(WCEInputError, match=r"name: unknown reference method 'xgboost'; known: balanced_random"):
        make_reference("xgboost")
    with pytest.raises(WCEInputError, match=r"seed: expected a whole number in \[0, 2\*\*32\) .* got -1"):
        make_reference("rusboost", seed=-1)
    with pytest.raises(WCEInputError, match=r"seed: .* got 1.5"):
        REFERENCE_METHODS["hgb_balanced"].make(1.5)
