"""Bad input gets a clear error naming the column, task or parameter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gbmtl import MultiTaskBooster, Task
from tests._helpers import FAST, related_tasks


@pytest.fixture(scope="module")
def data():
    return related_tasks(600, seed=1)


@pytest.fixture(scope="module")
def fitted(data):
    X, Y = data
    return MultiTaskBooster(params=FAST, sharing="none", random_state=0).fit(X, Y)


def _fit(X, Y, **kw):
    params = {"params": FAST, "sharing": "none", "random_state": 0, **kw}
    return MultiTaskBooster(**params).fit(X, Y)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"backend": "catboost"}, "backend"),
        ({"sharing": "mix"}, "sharing"),
        ({"stacking": "blend"}, "stacking"),
        ({"bagging": "sometimes"}, "bagging"),
        ({"sharing_params": {"boosting": {}}}, "sharing_params"),
        ({"sharing": "offset", "early_stopping_rounds": None}, "needs a validation part"),
        ({"tasks": [Task("a", sharing="mix"), Task("b")]}, "Task 'a': sharing"),
        ({"stacking": "oof", "sharing": "offset"}, "cannot be combined with sharing"),
        ({"n_folds": 1}, "n_folds"),
        ({"cv": "five"}, "cv"),
        ({"early_stopping_rounds": 0}, "early_stopping_rounds"),
        ({"params": [1, 2]}, "params"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"siblings": {"zzz": ["a"]}}, "unknown task 'zzz'"),
        ({"siblings": {"a": ["zzz"]}}, "unknown sibling"),
        ({"tasks": [Task("a", kind="ordinal")]}, "unknown kind 'ordinal'"),
        ({"tasks": [Task("missing")]}, "have no column in Y"),
        ({"tasks": [Task("a"), Task("a")]}, "duplicate task names"),
        ({"tasks": [Task("a", metric="rmse")]}, "does not apply to binary"),
        ({"tasks": [Task("a", metric="nope")]}, "Unknown metric 'nope'"),
        ({"tasks": [Task("a", backend="catboost")]}, "Task 'a': unknown backend"),
        ({"tasks": [Task("a", weight=-1)]}, "Task 'a': weight"),
        ({"tasks": [Task("r", kind="binary")]}, "Task 'r': declared binary"),
        ({"tasks": 5}, "tasks"),
        ({"params": {"n_estimators": 0}}, "boosting rounds"),
    ],
)
def test_bad_parameters(data, kwargs, match):
    X, Y = data
    with pytest.raises((ValueError, TypeError), match=match):
        _fit(X, Y, **kwargs)


def test_all_nan_task(data):
    X, Y = data
    Y = Y.assign(a=np.nan)
    with pytest.raises(ValueError, match="Task 'a': every label is missing"):
        _fit(X, Y)


def test_binary_task_with_one_class(data):
    X, Y = data
    with pytest.raises(ValueError, match="Task 'a'.*at least two classes"):
        _fit(X, Y.assign(a=Y["a"].where(Y["a"].isna(), 1.0)), tasks=[Task("a", kind="binary")])


def test_class_with_a_single_row(data):
    X, Y = data
    c = pd.array(np.where(np.arange(len(Y)) % 2, "x", "y"), dtype="string")
    c[0] = "z"
    with pytest.raises(ValueError, match=r"Task 'c': classes \['z'\] have fewer than 2"):
        _fit(X, pd.DataFrame({"c": c}))


def test_rows_mismatch(data):
    X, Y = data
    with pytest.raises(ValueError, match="X has 600 rows but Y has 599"):
        _fit(X, Y.iloc[:-1])


def test_index_mismatch(data):
    X, Y = data
    with pytest.raises(ValueError, match="different row indexes"):
        _fit(X, Y.set_axis(Y.index + 1000))


def test_text_regression_target(data):
    X, Y = data
    Yt = pd.DataFrame({"r": pd.array(["1.5", "2"] * 300, dtype="string")})
    with pytest.raises(ValueError, match="Task 'r': regression targets must be numeric"):
        _fit(X, Yt, tasks=[Task("r", kind="regression")])


def test_inf_in_targets(data):
    X, Y = data
    Y = Y.copy()
    Y.loc[3, "r"] = np.inf
    with pytest.raises(ValueError, match="Task 'r': targets contain inf"):
        _fit(X, Y)


def test_duplicate_column_names(data):
    X, Y = data
    Xd = pd.concat([X, X[["f0"]]], axis=1)
    with pytest.raises(ValueError, match=r"X has duplicate column names \['f0'\]"):
        _fit(Xd, Y)
    Yd = pd.concat([Y, Y[["a"]]], axis=1)
    with pytest.raises(ValueError, match=r"Y has duplicate column names \['a'\]"):
        _fit(X, Yd)


def test_feature_names_like_sibling_columns_are_fine(data):
    # Backends see internal names, so a user's "s0" or "sib__f0" cannot clash with a sibling.
    X, Y = data
    Xr = X.rename(columns={"f0": "sib__f0", "f1": "s0"})
    m = _fit(Xr, Y, sharing="stacking")
    assert {"sib__f0", "s0"} <= set(m.feature_importances_.index)


@pytest.mark.parametrize(
    "weight, match",
    [
        (np.ones(5), r"expected shape \(600,\) or \(600, 3\)"),
        (np.ones((600, 2)), r"expected \(600,\) or \(600, 3\)"),
        (-np.ones(600), "finite and >= 0"),
        (np.full(600, np.nan), "finite and >= 0"),
        (np.column_stack([np.ones(600), np.zeros(600), np.ones(600)]), r"tasks \['b'\]"),
    ],
)
def test_bad_sample_weight(data, weight, match):
    X, Y = data
    with pytest.raises(ValueError, match=match):
        MultiTaskBooster(params=FAST, sharing="none").fit(X, Y, sample_weight=weight)


def test_bad_groups(data):
    X, Y = data
    with pytest.raises(ValueError, match="groups must have shape"):
        MultiTaskBooster(params=FAST).fit(X, Y, groups=np.arange(3))


def test_too_few_groups_for_the_folds_names_the_task(data):
    X, Y = data
    Y = Y.copy()
    Y.loc[Y.index[12:], "b"] = np.nan  # task b: 12 labelled rows in 4 groups
    groups = np.arange(len(X)) // 3
    with pytest.raises(ValueError, match=r"Task 'b': cannot split its 12 labelled rows.*n_folds"):
        MultiTaskBooster(params=FAST).fit(X, Y, groups=groups)


def test_empty_inputs():
    with pytest.raises(ValueError, match="X has no rows"):
        _fit(pd.DataFrame({"x": []}), pd.DataFrame({"y": []}))
    with pytest.raises(ValueError, match="Y has no columns"):
        _fit(pd.DataFrame({"x": [1.0, 2.0]}), pd.DataFrame(index=range(2)))
    with pytest.raises(TypeError, match="X must be"):
        _fit("not a table", pd.DataFrame({"y": [1, 0]}))


def test_predict_with_missing_or_reordered_columns(fitted, data):
    X, _ = data
    with pytest.raises(ValueError, match=r"X is missing columns seen at fit: \['f3'\]"):
        fitted.predict(X.drop(columns="f3"))
    with pytest.raises(ValueError, match=r"X has columns not seen at fit: \['extra'\]"):
        fitted.predict(X.assign(extra=1.0))
    with pytest.raises(ValueError, match="different order"):
        fitted.predict(X[list(X.columns[::-1])])
    with pytest.raises(ValueError, match="X has 2 features, but the model was fitted with 7"):
        fitted.predict(np.zeros((3, 2)))


def test_evaluate_errors(fitted, data):
    X, Y = data
    with pytest.raises(ValueError, match=r"Y lacks columns for tasks \['r'\]"):
        fitted.evaluate(X, Y.drop(columns="r"))
    bad = Y.copy()
    bad.loc[0, "a"] = 7.0
    with pytest.raises(ValueError, match=r"Task 'a': labels \[7.0\] were not seen at fit"):
        fitted.evaluate(X, bad)


def test_unseen_category_at_predict_is_missing_not_an_error(fitted, data):
    X, _ = data
    Xn = X.copy()
    Xn["segment"] = pd.Categorical(["zzz"] * len(X))
    assert fitted.predict(Xn).notna().all().all()


def test_stacking_parameter_is_deprecated_with_what_to_write(data):
    X, Y = data
    with pytest.warns(DeprecationWarning, match=r"sharing=\['stacking'\]"):
        m = MultiTaskBooster(params=FAST, stacking="oof", sharing="auto", random_state=0,
                             n_folds=3).fit(X, Y)
    assert set(m.sharing_report_["mechanism"]) <= {"independent", "stacking"}
    with pytest.warns(DeprecationWarning, match="sharing='none'"):
        m = MultiTaskBooster(params=FAST, stacking="none", random_state=0).fit(X, Y)
    assert (m.sharing_report_["mechanism"] == "independent").all()
    with pytest.warns(DeprecationWarning, match="sharing_report_"):
        assert m.stacking_report_ is not None
