"""The decision threshold tuned on training data only, for any classifier or pipeline (WCEClassifier included)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, f1_score
from sklearn.model_selection import train_test_split

from wce_ref._validation import WCEInputError
from wce_ref.compare import WCEClassifier
from wce_ref.compare.methods._threshold import DEFAULT_OBJECTIVE, OBJECTIVES, inner_cv, tune_threshold

#: every (action, row ids) the recording classifier saw, across clones (clone copies instance attributes)
SEEN: list[tuple[str, frozenset[int]]] = []


class Recording(ClassifierMixin, BaseEstimator):
    """Logistic regression on all columns but the last, which holds each row's id; records what it sees."""

    def fit(self, X, y):
        SEEN.append(("fit", frozenset(X[:, -1].astype(int).tolist())))
        self.model_ = LogisticRegression().fit(X[:, :-1], y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        SEEN.append(("predict", frozenset(X[:, -1].astype(int).tolist())))
        return self.model_.predict_proba(X[:, :-1])


@pytest.fixture(scope="module")
def split():
    X, y = make_classification(900, n_features=6, weights=[0.93], class_sep=0.8, random_state=0)
    return train_test_split(X, y, test_size=0.4, stratify=y, random_state=0)


def test_threshold_is_chosen_on_the_training_data_only(split):
    X_train, X_test, y_train, _ = split
    ids_train = np.arange(len(X_train))
    SEEN.clear()
    result = tune_threshold(Recording(), np.column_stack([X_train, ids_train]), y_train, cv=4)
    assert result.tuned and result.n_splits == 4
    train_ids = set(ids_train.tolist())
    assert all(ids <= train_ids for _, ids in SEEN)  # only training rows were ever seen
    inner = [(a, ids) for a, ids in SEEN if len(ids) < len(train_ids)]
    fits = [ids for a, ids in inner if a == "fit"]
    predicts = [ids for a, ids in inner if a == "predict"]
    assert len(fits) == len(predicts) == 4
    for fit_ids, predict_ids in zip(fits, predicts, strict=True):  # each inner fold is scored on rows held out
        assert not fit_ids & predict_ids and fit_ids | predict_ids == train_ids
    assert ("fit", frozenset(train_ids)) in SEEN  # then refitted on all the training rows
    # scoring the test rows afterwards is the first time they are seen
    SEEN.clear()
    result.classifier.predict(np.column_stack([X_test, np.arange(len(X_test)) + len(X_train)]))
    assert [a for a, ids in SEEN] == ["predict"] and not SEEN[0][1] & train_ids


def test_improves_the_objective_over_one_half_on_held_out_data(split):
    X_train, X_test, y_train, y_test = split
    plain = LogisticRegression().fit(X_train, y_train)
    result = tune_threshold(LogisticRegression(), X_train, y_train, seed=0)
    assert result.objective == DEFAULT_OBJECTIVE == "balanced_accuracy"
    assert result.threshold < 0.5  # the minority needs a lower cut than 0.5
    default = balanced_accuracy_score(y_test, plain.predict(X_test))
    tuned = balanced_accuracy_score(y_test, result.classifier.predict(X_test))
    assert tuned > default + 0.05
    by_hand = (plain.predict_proba(X_test)[:, 1] >= result.threshold).astype(int)
    np.testing.assert_array_equal(result.classifier.predict(X_test), by_hand)  # refitted on all training rows


def test_f1_objective(split):
    X_train, X_test, y_train, y_test = split
    plain = LogisticRegression().fit(X_train, y_train)
    result = tune_threshold(LogisticRegression(), X_train, y_train, objective="f1")
    assert f1_score(y_test, result.classifier.predict(X_test)) > f1_score(y_test, plain.predict(X_test))


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_reproducible_for_every_objective(split, objective):
    X_train, _, y_train, _ = split
    a = tune_threshold(LogisticRegression(), X_train, y_train, objective=objective, seed=5)
    b = tune_threshold(LogisticRegression(), X_train, y_train, objective=objective, seed=5)
    assert (a.threshold, a.inner_score) == (b.threshold, b.inner_score)
    assert 0.0 < a.threshold < 1.0 and a.inner_score is not None


def test_inner_folds_are_sized_for_small_minorities():
    y = np.array([1] * 7 + [0] * 93)
    inner = inner_cv(y, cv=5)
    assert inner.n_splits == 3 and "3 inner folds instead of 5: 7 minority" in inner.note
    for _, val in inner.splitter.split(np.zeros((100, 1)), y):
        assert y[val].sum() >= 2
    assert inner.min_train_minority == 7 - 3  # a validation fold holds at most ceil(7 / 3) = 3
    full = inner_cv(np.array([1] * 40 + [0] * 60), cv=5)
    assert (full.n_splits, full.note) == (5, "")


def test_too_few_minority_samples_fall_back_to_one_half_and_say_so():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.array([1, 1, 1] + [0] * 57)
    result = tune_threshold(LogisticRegression(), X, y)
    assert not result.tuned and result.threshold == 0.5 and result.n_splits == 0
    assert "not tuned: 3 minority samples" in result.note
    np.testing.assert_array_equal(result.classifier.predict(X), (result.classifier.predict_proba(X)[:, 1] >= 0.5))


def test_wce_classifier_works_inside(split):
    X_train, X_test, y_train, y_test = split
    est = WCEClassifier(framework="numpy", max_epochs=40, random_state=0)
    assert clone(est).get_params() == est.get_params()
    result = tune_threshold(est, X_train, y_train, cv=3)
    assert result.tuned and 0.0 < result.threshold < 0.5
    assert balanced_accuracy_score(y_test, result.classifier.predict(X_test)) > balanced_accuracy_score(
        y_test, clone(est).fit(X_train, y_train).predict(X_test)
    )
    assert not hasattr(est, "params_")  # the caller's estimator is not fitted in place


def test_imbalanced_learn_pipeline_with_a_sampler(split):
    pytest.importorskip("imblearn")
    from imblearn.over_sampling import SMOTE
    from imblearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X_train, _, y_train, _ = split
    inner = inner_cv(y_train, cv=3)
    k = min(5, inner.min_train_minority - 1)
    pipe = Pipeline(
        [("scale", StandardScaler()), ("sample", SMOTE(k_neighbors=k, random_state=0)), ("model", LogisticRegression())]
    )
    result = tune_threshold(pipe, X_train, y_train, cv=3)
    # SMOTE balances the training parts, so the tuned cut is near the middle, not near the prior
    assert result.tuned and 0.2 < result.threshold < 0.8


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"objective": "accuracy"}, r"objective: expected one of balanced_accuracy, f1, g_mean, mcc, got 'accuracy'"),
        ({"cv": 1}, r"cv: expected a whole number of inner folds >= 2, got 1"),
        ({"thresholds": 1}, r"thresholds: expected a whole number of candidate thresholds >= 2, got 1"),
    ],
)
def test_bad_options_are_named(split, kwargs, message):
    X_train, _, y_train, _ = split
    with pytest.raises(WCEInputError, match=message):
        tune_threshold(LogisticRegression(), X_train, y_train, **kwargs)


def test_bad_estimator_and_labels_are_named(split):
    from sklearn.svm import LinearSVC

    X_train, _, y_train, _ = split
    with pytest.raises(WCEInputError, match=r"estimator: LinearSVC has no predict_proba"):
        tune_threshold(LinearSVC(), X_train, y_train)
    with pytest.raises(WCEInputError, match=r"y: expected binary 0/1 labels .* got values \[0, 1, 2\]"):
        tune_threshold(LogisticRegression(), X_train, np.where(np.arange(len(y_train)) < 5, 2, y_train))
