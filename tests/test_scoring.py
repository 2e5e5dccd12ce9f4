"""RowScorer: one row (or a few) through the whole model graph, equal to predict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gbmtl import MultiTaskBooster, RowScorer, Task
from tests._helpers import FAST, related_tasks

SHARED_FAST = {"shared_trees": {"n_estimators": 40, "learning_rate": 0.2}}


def _mixed(n=900, seed=0):
    X, Y = related_tasks(n, seed)
    rng = np.random.default_rng(seed)
    X["text"] = rng.choice(["x", "y", "z"], n).astype(object)
    X.loc[rng.random(n) < 0.05, "f3"] = np.nan
    Y["grade"] = pd.cut(X["f0"] + rng.normal(0, 0.5, n), 3, labels=["A", "B", "C"]).astype(str)
    return X, Y


@pytest.fixture(scope="module")
def data():
    return _mixed()


def _check_equal(model, X, compiled: bool = True):
    """Either path (flat forests or the libraries): equal to predict on the same row to the
    bit."""
    scorer = RowScorer(model, compiled=compiled)
    batch = model.predict_proba(X)
    values = model.predict(X)
    same, rel = np.testing.assert_array_equal, 1e-12
    for i in range(0, len(X), 37):
        row = X.iloc[i]
        # Equal to predict on the same row; to predict on the whole table up to the last bit of
        # a matrix product (BLAS sums a batch in another order).
        alone = model.predict_proba(X.iloc[[i]])
        alone_values = model.predict(X.iloc[[i]])
        for given in (row.to_dict(), X.iloc[[i]], row):
            got = scorer.predict_proba(given)
            for task, p in batch.items():
                same(got[task], alone[task], f"{task} row {i}")
                np.testing.assert_allclose(got[task], p[[i]], rtol=max(rel, 1e-12), atol=1e-9)
            pred = scorer.predict(given)
            for task in values.columns:
                if values[task].dtype.kind == "f":
                    assert pred[task][0] == pytest.approx(alone_values[task].iloc[0], rel=rel)
                    assert pred[task][0] == pytest.approx(values[task].iloc[i], rel=rel)
                else:
                    assert pred[task][0] == alone_values[task].iloc[0]
                    assert pred[task][0] == values[task].iloc[i]
    got = scorer.predict_proba(X.iloc[:25])  # a small batch
    prepared = scorer.predict_proba(scorer.prepare(X.iloc[:25]), prepared=True)
    for task, p in model.predict_proba(X.iloc[:25]).items():
        same(got[task], p)
        np.testing.assert_array_equal(prepared[task], got[task])


@pytest.mark.parametrize("sharing", ["none", "offset", "stacking", "shared_trees", "auto"])
def test_rows_score_as_predict_with_every_mechanism(data, sharing):
    X, Y = data
    model = MultiTaskBooster(params=FAST, n_folds=3, sharing=sharing, random_state=0, n_jobs=1,
                             sharing_params=SHARED_FAST).fit(X, Y)
    _check_equal(model, X.iloc[:200])
    _check_equal(model, X.iloc[:80], compiled=False)


def test_xgboost_tasks_and_calibration_score_as_predict(data):
    X, Y = data
    tasks = [Task("a", "binary", backend="xgboost"), Task("b", "binary"), Task("r", "regression"),
             Task("grade", "multiclass")]
    model = MultiTaskBooster(tasks=tasks, params={"n_estimators": 40}, n_folds=3,
                             sharing="stacking", calibration="sigmoid", random_state=0,
                             n_jobs=1).fit(X, Y)
    _check_equal(model, X.iloc[:120])


def test_unseen_and_missing_values_are_missing_as_in_predict(data):
    X, Y = data
    model = MultiTaskBooster(params=FAST, n_folds=3, sharing="none", random_state=0,
                             n_jobs=1).fit(X, Y)
    row = X.iloc[0].to_dict() | {"text": "never seen", "f1": None, "segment": np.nan}
    frame = pd.DataFrame([row]).astype({"f1": float})
    frame["segment"] = pd.Categorical(frame["segment"], categories=X["segment"].cat.categories)
    with pytest.warns(UserWarning, match="not seen at fit"):
        expected = model.predict_proba(frame)
    for compiled in (True, False):
        got = RowScorer(model, compiled=compiled).predict_proba(row)
        for task, p in expected.items():
            np.testing.assert_array_equal(got[task], p)


def test_bad_rows_are_named(data):
    X, Y = data
    model = MultiTaskBooster(params=FAST, n_folds=3, sharing="none", random_state=0,
                             n_jobs=1).fit(X, Y)
    scorer = RowScorer(model)
    row = X.iloc[0].to_dict()
    with pytest.raises(ValueError, match=r"lacks features \['f2'\]"):
        scorer.predict({k: v for k, v in row.items() if k != "f2"})
    with pytest.raises(ValueError, match="column 'f0' is numeric"):
        scorer.predict(row | {"f0": "high"})
    with pytest.raises(ValueError, match="expected rows of 8 values"):
        scorer.predict(np.zeros(3))
    with pytest.raises(ValueError, match="a prepared matrix has 8 columns"):
        scorer.predict(np.zeros((1, 3)), prepared=True)


def test_a_shared_features_model_is_refused_with_a_reason(data):
    from sklearn.preprocessing import FunctionTransformer

    X, Y = data
    model = MultiTaskBooster(params=FAST, n_folds=3, sharing="none", random_state=0, n_jobs=1,
                             shared_features=FunctionTransformer()).fit(X[["f0", "f1"]], Y)
    with pytest.raises(ValueError, match="shared_features transformer"):
        RowScorer(model)


def test_predict_on_a_few_rows_goes_through_a_row_scorer_with_the_same_doubles(data):
    import pickle

    from gbmtl.booster import ROW_SCORER_CALLS, SMALL_ROWS

    X, Y = data
    model = MultiTaskBooster(params=FAST, n_folds=3, sharing="auto", random_state=0, n_jobs=1,
                             sharing_params=SHARED_FAST, calibration="sigmoid").fit(X, Y)
    blob = pickle.dumps(model)
    for call in range(ROW_SCORER_CALLS + 3):
        rows = X.iloc[call:call + 1 + call % 3]
        got, got_values = model.predict_proba(rows), model.predict(rows)
        table = pickle.loads(blob)  # no scorer: its first calls take the table path
        want, want_values = table.predict_proba(rows), table.predict(rows)
        for task, p in want.items():
            np.testing.assert_array_equal(got[task], p, err_msg=f"{task} call {call}")
        pd.testing.assert_frame_equal(got_values, want_values)
    assert isinstance(model.__dict__["_small_calls"]["scorer"], RowScorer)
    assert table.__dict__["_small_calls"]["scorer"] is None
    assert "_small_calls" not in pickle.loads(pickle.dumps(model)).__dict__

    # More rows than SMALL_ROWS take the table path; a refit drops the old scorer.
    big = X.iloc[:SMALL_ROWS + 1]
    np.testing.assert_array_equal(model.predict_proba(big)["grade"],
                                  table.predict_proba(big)["grade"])
    Y2 = Y.assign(r=Y["r"] * 2.0)
    model.fit(X, Y2)
    for _ in range(ROW_SCORER_CALLS + 1):
        got = model.predict(X.iloc[:2])
    np.testing.assert_array_equal(got["r"], table.fit(X, Y2).predict(X.iloc[:2])["r"])
