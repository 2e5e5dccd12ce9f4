"""Backend details the engine relies on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gbmtl.backends import BACKENDS, TrainData, get_backend
from gbmtl.backends._lightgbm import LightGBMModel


def test_lightgbm_matrix_prediction_equals_dataframe_prediction():
    """The engine predicts row subsets from one float conversion of its table; that must give
    LightGBM's own predictions from the DataFrame, categories and missing values included."""
    rng = np.random.default_rng(0)
    n = 600
    X = pd.DataFrame({
        "num": rng.normal(size=n),
        "small": rng.normal(size=n).astype(np.float32),
        "count": rng.integers(0, 9, n),
        "cat": pd.Categorical(rng.choice(["a", "b", "c", None], n)),
        "grade": pd.Categorical(rng.choice(["x", "y"], n), categories=["y", "x", "z"]),
    })
    y = ((X["num"] + (X["cat"] == "b") + (X["grade"] == "x")) > 0.8).to_numpy(float)
    model = get_backend("lightgbm").train(
        TrainData(X=X, y=y, rows=np.arange(n)), kind="binary", n_classes=2,
        params={"num_leaves": 7, "min_data_in_leaf": 5}, num_boost_round=20,
        early_stopping_rounds=None, seed=0, n_threads=1,
    )
    rows = rng.permutation(n)[:200]
    from_matrix = model.predict_raw_matrix(LightGBMModel.as_matrix(X)[rows])
    np.testing.assert_array_equal(from_matrix, model.predict_raw(X.iloc[rows]))


def test_lightgbm_extended_table_trains_the_model_a_whole_binning_trains():
    """Stage-2 tables are binned by appending the sibling columns to the feature table's bins;
    the model must equal the one trained on the whole table binned at once."""
    rng = np.random.default_rng(1)
    n = 800
    X = pd.DataFrame({
        "num": rng.normal(size=n),
        "cat": pd.Categorical(rng.choice(["a", "b", "c", None], n)),
        "count": rng.integers(0, 5, n),
    })
    X2 = pd.concat([X, pd.DataFrame({"sib__t": rng.random(n)})], axis=1)
    y = ((X["num"] + X2["sib__t"] + (X["cat"] == "b")) > 1.0).to_numpy(float)
    rows = np.sort(rng.permutation(n)[:600])
    val = np.setdiff1d(np.arange(n), rows)
    params = {"num_leaves": 7, "min_data_in_leaf": 5}
    preds = []
    for base in (None, X):
        cache: dict = {}
        if base is not None:  # the feature table's bins exist before stage 2, as in a fit
            get_backend("lightgbm").train(
                TrainData(X=X, y=y, rows=rows, cache=cache), kind="binary", n_classes=2,
                params=params, num_boost_round=5, early_stopping_rounds=None, seed=0,
                n_threads=1)
        model = get_backend("lightgbm").train(
            TrainData(X=X2, y=y, rows=rows, val_rows=val, cache=cache, base=base),
            kind="binary", n_classes=2, params=params, num_boost_round=200, early_stopping_rounds=10, seed=0, n_threads=1)
        assert len(cache) == (2 if base is not None else 1)
        preds.append(model.predict_raw(X2))
        assert model.booster.pandas_categorical == [["a", "b", "c"]]
    np.testing.assert_array_equal(preds[0], preds[1])


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_backend_conformance(backend, kind):
    """What every backend must do: raw scores (n, outputs) that exclude the init score a model
    boosted from, contributions that add up to them, and a byte round trip."""
    rng = np.random.default_rng(0)
    n = 500
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                      "c": pd.Categorical(rng.choice(["x", "y", "z"], n))})
    signal = X["a"] + (X["c"] == "y")
    y = {"binary": (signal > 0.5).to_numpy(float),
         "multiclass": np.digitize(signal, [0.0, 1.0]).astype(float),
         "regression": signal.to_numpy() * 3 + 10}[kind]
    width = 3 if kind == "multiclass" else 1
    init = np.full((n, width), 2.0)
    rows, val = np.arange(400), np.arange(400, n)
    b = get_backend(backend)
    model = b.train(TrainData(X=X, y=y, rows=rows, val_rows=val, init_score=init), kind=kind,
                    n_classes=3, params={}, num_boost_round=40, early_stopping_rounds=5, seed=0,
                    n_threads=1)
    raw = model.predict_raw(X)
    assert raw.shape == (n, width)
    # Trained from an offset of 2.0, the trees' own scores pull back toward the labels.
    if kind == "regression":
        assert abs((raw + init)[:, 0].mean() - y.mean()) < 1.0
    elif kind == "binary":
        assert abs(_expit(raw + init)[:, 0].mean() - y.mean()) < 0.1
    contrib = model.contributions(X)
    assert contrib.shape == (n, width, X.shape[1] + 1)
    np.testing.assert_allclose(contrib.sum(axis=2), raw, rtol=1e-4, atol=1e-4)
    loaded = b.load(model.to_bytes(), n_outputs=width, offset=True)
    np.testing.assert_array_equal(loaded.predict_raw(X), raw)
    assert model.feature_importance().shape == (X.shape[1],)


def _expit(z):
    return 1.0 / (1.0 + np.exp(-z))
