"""Backend details the engine relies on."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gbmtl.backends import TrainData, get_backend
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
    from_matrix = model.predict_matrix(LightGBMModel.as_matrix(X)[rows])
    np.testing.assert_array_equal(from_matrix, model.predict(X.iloc[rows]))


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
        preds.append(model.predict(X2))
        assert model.booster.pandas_categorical == [["a", "b", "c"]]
    np.testing.assert_array_equal(preds[0], preds[1])
