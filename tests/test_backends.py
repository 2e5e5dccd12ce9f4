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
