"""The scikit-learn wrappers on real-looking tables: missing labels, text columns, saving."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import cross_val_score

import gbmtl
from gbmtl import MultiTaskClassifier, MultiTaskRegressor
from tests._helpers import FAST, related_tasks

QUICK = dict(params=FAST, n_folds=3, random_state=0, n_jobs=1, sharing="none")


@pytest.fixture(scope="module")
def data():
    X, Y = related_tasks(300, seed=2)
    X["job"] = np.where(X["f3"] > 0, "blue-collar", "admin.")  # a text column
    return X, Y


def test_classifier_takes_numeric_labels_with_nan(data):
    X, Y = data
    c = MultiTaskClassifier(**QUICK).fit(X, Y[["a", "b"]])
    assert c.predict(X).shape == (len(X), 2)
    assert [p.shape for p in c.predict_proba(X)] == [(len(X), 2), (len(X), 2)]


def test_classifier_takes_text_labels_with_missing_values(data):
    X, Y = data
    y = np.where(Y["a"] == 1, "yes", "no").astype(object)
    y[Y["a"].isna().to_numpy()] = None
    c = MultiTaskClassifier(**QUICK).fit(X, y)
    assert list(c.classes_) == ["no", "yes"]
    assert set(c.predict(X)) <= {"no", "yes"}
    text = pd.Series(y).where(pd.Series(y).notna(), np.nan).astype("string")
    assert list(MultiTaskClassifier(**QUICK).fit(X, text).classes_) == ["no", "yes"]


def test_classifier_refuses_continuous_labels(data):
    X, Y = data
    with pytest.raises(ValueError, match="Unknown label type"):
        MultiTaskClassifier(**QUICK).fit(X, Y["r"])


def test_regressor_with_text_features_and_missing_labels(data):
    X, Y = data
    r = MultiTaskRegressor(**QUICK).fit(X, Y["r"])
    assert r.predict(X).shape == (len(X),)
    assert list(r.feature_names_in_) == list(X.columns)


def test_wrapper_in_cross_validation_on_a_text_table(data):
    X, Y = data
    y = Y["b"].astype(int)
    scores = cross_val_score(MultiTaskClassifier(**QUICK), X, y, cv=2, scoring="roc_auc")
    assert scores.min() > 0.6


def test_wrapper_saves_and_loads_with_the_column_names(data, tmp_path):
    X, Y = data
    c = MultiTaskClassifier(**QUICK).fit(X, Y[["a", "b"]])
    c.save(tmp_path / "m")
    loaded = gbmtl.load(tmp_path / "m")
    out = loaded.predict(X)
    assert list(out.columns) == ["a", "b"]
    np.testing.assert_array_equal(out.to_numpy(), c.predict(X))


def test_wrapper_reads_polars_by_name(data):
    pl = pytest.importorskip("polars")
    X, Y = data
    c = MultiTaskClassifier(**QUICK).fit(pl.from_pandas(X), pl.from_pandas(Y[["a", "b"]]))
    assert list(c.feature_names_in_) == list(X.columns)
    assert [t.name for t in c.booster_.tasks_] == ["a", "b"]
    np.testing.assert_array_equal(c.predict(pl.from_pandas(X)), c.predict(X))
