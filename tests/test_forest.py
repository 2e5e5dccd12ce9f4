"""Flat forests walk trees as LightGBM and XGBoost do, odd inputs included."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from gbmtl._forest import Forest, Unsupported, from_lightgbm, from_xgboost


def _table(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.choice([0.0, 1.0, np.nan, -2.0], n),
                      "c": pd.Categorical(rng.choice(list("xyzuvw"), n)),
                      "d": rng.normal(size=n)})
    X.loc[rng.random(n) < 0.1, "a"] = np.nan
    X.loc[rng.random(n) < 0.1, "c"] = np.nan
    z = X["a"].fillna(0) + X["c"].isin(["x", "u"]).astype(float) + 0.5 * X["b"].fillna(1)
    M = X.assign(c=X["c"].cat.codes.replace(-1, np.nan)).to_numpy(float)
    return X, M, z.to_numpy() + rng.normal(size=n)


def _odd(M):
    """Rows LightGBM treats specially: negative, fractional and unseen categories, zeros."""
    M = M.copy()
    M[:6, 2] = [-1.0, -0.5, 7.0, 50.0, 3.7, 1e12]
    M[6:9, 0] = [0.0, 1e-36, -1e-36]
    return M


@pytest.mark.parametrize("objective, extra", [
    ("binary", {}), ("multiclass", {"num_class": 3}), ("regression", {"zero_as_missing": True}),
])
def test_lightgbm_trees_walk_as_lightgbm_predicts(objective, extra):
    X, M, z = _table()
    y = {"binary": (z > 0.5).astype(float), "multiclass": pd.qcut(z, 3, labels=False),
         "regression": z}[objective]
    params = {"objective": objective, "verbosity": -1, "min_data_per_group": 5, "cat_smooth": 1,
              "max_cat_to_onehot": 2, **extra}
    booster = lgb.train(params, lgb.Dataset(X, np.asarray(y, dtype=float)), 30)
    forest = from_lightgbm(booster, 20)
    for rows in (M, _odd(M)):
        want = booster.predict(rows, raw_score=True, num_iteration=20).reshape(len(rows), -1)
        np.testing.assert_array_equal(forest.predict(rows), want)


def test_forests_side_by_side_give_each_forests_own_scores():
    X, M, z = _table()
    params = {"verbosity": -1, "bagging_fraction": 0.5, "bagging_freq": 1}
    boosters = [lgb.train({**params, "objective": "regression", "seed": s}, lgb.Dataset(X, z), 15)
                for s in range(2)]
    boosters.append(lgb.train({**params, "objective": "multiclass", "num_class": 3},
                              lgb.Dataset(X, pd.qcut(z, 3, labels=False)), 10))
    got = Forest.side_by_side([from_lightgbm(b) for b in boosters]).predict(M)
    want = np.hstack([b.predict(M, raw_score=True).reshape(len(M), -1) for b in boosters])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("strategy", ["multi_output_tree", "one_output_per_tree"])
def test_xgboost_trees_walk_as_xgboost_predicts(strategy):
    X, M, z = _table()
    Xn = np.delete(M, 2, axis=1).astype(np.float32)
    Y = np.column_stack([z, -z, z ** 2])
    booster = xgb.train({"tree_method": "hist", "multi_strategy": strategy, "max_depth": 4},
                        xgb.DMatrix(Xn, Y), 25)
    margin = np.tile([0.3, -0.2, 0.1], (len(Xn), 1))
    want = booster.inplace_predict(Xn, iteration_range=(0, 15), predict_type="margin",
                                   base_margin=margin)
    got = from_xgboost(booster, 15).predict(Xn.astype(np.float64)) + margin
    # XGBoost adds its trees in float32.
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_what_is_not_laid_out_says_so():
    X, M, z = _table()
    linear = lgb.train({"objective": "regression", "verbosity": -1, "linear_tree": True},
                       lgb.Dataset(X.drop(columns="c"), z), 3)
    with pytest.raises(Unsupported, match="linear trees"):
        from_lightgbm(linear)
    data = xgb.DMatrix(X, z, enable_categorical=True)
    categorical = xgb.train({"tree_method": "hist", "max_cat_to_onehot": 1}, data, 3)
    with pytest.raises(Unsupported, match="categorical"):
        from_xgboost(categorical)


def test_a_lightgbm_model_scores_small_batches_by_its_flat_forest_with_equal_doubles():
    import pickle

    from gbmtl.backends._lightgbm import SMALL_ROWS, WARM_CALLS, LightGBMModel

    X, M, z = _table()
    booster = lgb.train({"objective": "regression", "verbosity": -1, "max_cat_to_onehot": 2},
                        lgb.Dataset(X, z), 25)
    model = LightGBMModel(booster, 20)
    want = booster.predict(_odd(M), raw_score=True, num_iteration=20).reshape(-1, 1)
    for call in range(WARM_CALLS + 2):
        rows = slice(call, call + 1) if call % 2 else slice(0, SMALL_ROWS)
        np.testing.assert_array_equal(model.predict_raw_matrix(_odd(M)[rows]), want[rows])
    assert model._forest  # built from the WARM_CALLS-th small call on
    np.testing.assert_array_equal(model.predict_raw_matrix(_odd(M)), want)  # large: LightGBM
    copy = pickle.loads(pickle.dumps(model))  # the forest is a cache, not pickled
    assert getattr(copy, "_forest", None) is None
    np.testing.assert_array_equal(copy.predict_raw_matrix(_odd(M)[:3]), want[:3])
