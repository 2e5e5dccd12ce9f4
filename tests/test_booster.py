"""MultiTaskBooster: fit, predict, evaluate, determinism, folds and backends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import TimeSeriesSplit

from gbmtl import MultiTaskBooster, Task
from tests._helpers import FAST, related_tasks


@pytest.fixture(scope="module")
def data():
    X, Y = related_tasks(2000, seed=0)
    return X.iloc[:1500], Y.iloc[:1500], X.iloc[1500:], Y.iloc[1500:]


@pytest.fixture(scope="module")
def fitted(data):
    X, Y, _, _ = data
    return MultiTaskBooster(params=FAST, random_state=0, n_folds=3).fit(X, Y)


def test_predict_shapes_and_values(fitted, data):
    _, _, Xt, Yt = data
    pred = fitted.predict(Xt)
    assert list(pred.columns) == ["a", "b", "r"]
    assert pred.index.equals(Xt.index)
    assert set(np.unique(pred["a"])) <= {0.0, 1.0}
    proba = fitted.predict_proba(Xt)
    assert set(proba) == {"a", "b"}
    assert proba["a"].shape == (len(Xt), 2)
    np.testing.assert_allclose(proba["a"].sum(axis=1), 1.0)


def test_fitted_attributes(fitted, data):
    X, Y, _, _ = data
    assert [t.kind for t in fitted.tasks_] == ["binary", "binary", "regression"]
    assert fitted.n_features_in_ == X.shape[1]
    assert list(fitted.feature_names_in_) == list(X.columns)
    assert fitted.oof_predictions_.shape == (len(X), 3)
    assert fitted.oof_predictions_.index.equals(X.index)
    assert not fitted.oof_predictions_.isna().any().any()
    aff = fitted.task_affinity_
    assert list(aff.index) == ["a", "b", "r"] and list(aff.columns) == ["a", "b", "r"]
    assert np.isnan(np.diag(aff.to_numpy())).all()
    assert set(X.columns) <= set(fitted.feature_importances_.index)
    assert list(fitted.feature_importances_.columns) == ["a", "b", "r"]
    report = fitted.sharing_report_
    assert {"mechanism", "decision", "basis", "gain", "gain_se", "gain_offset", "se_offset",
            "gain_stacking", "gain_shared_trees", "siblings_used", "bagged", "n_labelled",
            "rounds"} <= set(report.columns)
    assert set(report["mechanism"]) <= {"independent", "offset", "stacking", "shared_trees",
                                        "blend"}
    assert report["bagged"].all()  # every task has at most 20,000 labelled rows


def test_evaluate_skips_unlabelled_rows(fitted, data):
    _, _, Xt, Yt = data
    ev = fitted.evaluate(Xt, Yt)
    assert list(ev.index) == ["a", "b", "r"]
    assert ev.loc["a", "n_labelled"] == Yt["a"].notna().sum()
    assert ev.loc["a", "metric"] == "auc" and ev.loc["r", "metric"] == "rmse"
    assert ev.loc["a", "value"] > 0.8
    score = fitted.score(Xt, Yt)
    assert score == pytest.approx(ev["score"].mean())


def test_score_uses_task_weights(data):
    X, Y, Xt, Yt = data
    tasks = [Task("a", weight=3.0), Task("b", weight=1.0), Task("r", weight=0.0)]
    m = MultiTaskBooster(tasks=tasks, params=FAST, sharing="none", random_state=0).fit(X, Y)
    s = m.task_scores(Xt, Yt)
    assert m.score(Xt, Yt) == pytest.approx((3 * s["a"] + s["b"]) / 4)


def test_same_random_state_same_predictions_and_n_jobs_independent(data):
    X, Y, Xt, _ = data
    p1 = MultiTaskBooster(params=FAST, random_state=7, n_folds=3, n_jobs=1).fit(X, Y).predict(Xt)
    p2 = MultiTaskBooster(params=FAST, random_state=7, n_folds=3, n_jobs=2).fit(X, Y).predict(Xt)
    pd.testing.assert_frame_equal(p1, p2)


def test_multiclass_string_labels_and_missing():
    rng = np.random.default_rng(1)
    n = 900
    X = pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n)})
    grade = np.where(X["x"] > 0.5, "high", np.where(X["x"] < -0.5, "low", "mid")).astype(object)
    grade[rng.random(n) < 0.3] = None
    Y = pd.DataFrame({"grade": pd.array(grade, dtype="string"), "v": X["y"] * 2})
    m = MultiTaskBooster(params=FAST, random_state=0, n_folds=3).fit(X, Y)
    assert m.tasks_[0].kind == "multiclass"
    assert list(m.classes_["grade"]) == ["high", "low", "mid"]
    pred = m.predict(X)
    assert set(pred["grade"]) <= {"high", "low", "mid"}
    assert m.predict_proba(X)["grade"].shape == (n, 3)
    assert (pred["grade"][Y["grade"].notna()] == Y["grade"].dropna()).mean() > 0.85
    assert {"grade_high", "grade_low", "grade_mid"} <= set(m.oof_predictions_.columns)


def test_tasks_as_dict_and_siblings_restriction(data):
    X, Y, _, _ = data
    m = MultiTaskBooster(tasks={"a": "binary", "r": "regression"}, siblings={"a": ["r"]},
                         params=FAST, random_state=0, n_folds=3).fit(X, Y)
    assert [t.name for t in m.tasks_] == ["a", "r"]
    assert np.isnan(m.task_affinity_.loc["a", "a"])
    assert "b" not in m.task_affinity_.columns


@pytest.mark.parametrize("backend", ["xgboost"])
def test_xgboost_and_mixed_backends(data, backend):
    X, Y, Xt, Yt = data
    tasks = [Task("a", backend="xgboost", params={"max_depth": 3, "eta": 0.2}),
             Task("b"), Task("r", backend="xgboost")]
    m = MultiTaskBooster(tasks=tasks, params={"n_estimators": 60}, random_state=0,
                         n_folds=3).fit(X, Y)
    assert [t.backend for t in m.tasks_] == ["xgboost", "lightgbm", "xgboost"]
    assert m.evaluate(Xt, Yt).loc["a", "value"] > 0.8
    m2 = MultiTaskBooster(backend=backend, params={"n_estimators": 40}, random_state=0,
                          n_folds=3).fit(X, Y)
    assert m2.score(Xt, Yt) > 0.6


def test_time_ordered_cv_leaves_rows_without_oof(data):
    X, Y, Xt, _ = data
    m = MultiTaskBooster(params=FAST, cv=TimeSeriesSplit(3), random_state=0).fit(X, Y)
    oof = m.oof_predictions_
    first_labelled = np.flatnonzero(Y["b"].notna().to_numpy())[:50]
    assert oof["b"].iloc[first_labelled].isna().all()
    assert m.predict(Xt).notna().all().all()


def test_groups_and_per_task_sample_weight(data):
    X, Y, Xt, _ = data
    groups = np.arange(len(X)) // 5
    w = np.ones((len(X), 3))
    w[:, 2] = 2.0
    m = MultiTaskBooster(params=FAST, random_state=0, n_folds=3).fit(X, Y, sample_weight=w,
                                                                     groups=groups)
    assert m.predict(Xt).shape == (len(Xt), 3)


def test_sharing_helps_a_label_scarce_task():
    """A task labelled on few rows gains from a fully labelled sibling with the same signal."""
    rng = np.random.default_rng(3)
    n = 6000
    X = pd.DataFrame(rng.normal(size=(n, 8)), columns=[f"f{i}" for i in range(8)])
    z = np.sin(2 * X["f0"]) + X["f1"] * X["f2"] + 0.7 * X["f3"] ** 2
    main = (z + rng.normal(0, 0.5, n) > 0.7).astype(float)
    aux = (z + rng.normal(0, 0.5, n) > 0.7).astype(float)
    Y = pd.DataFrame({"main": main, "aux": aux})
    train, test = slice(0, 4000), slice(4000, None)
    Ytr = Y.iloc[train].copy()
    Ytr.loc[rng.random(4000) < 0.9, "main"] = np.nan
    scores = {}
    for sharing in ("none", ["offset", "stacking"]):
        m = MultiTaskBooster(params={"learning_rate": 0.1, "num_leaves": 15},
                             sharing=sharing, random_state=0).fit(X.iloc[train], Ytr)
        scores[str(sharing)] = m.evaluate(X.iloc[test], Y.iloc[test]).loc["main", "value"]
    report = m.sharing_report_.loc["main"]
    assert report["mechanism"] in ("offset", "stacking") and report["siblings_used"] == "aux"
    assert report["basis"] == "out-of-fold"
    assert scores["['offset', 'stacking']"] > scores["none"] + 0.02


def test_shuffled_labels_score_at_chance():
    """No leakage: with labels shuffled, nothing (OOF or test) scores above chance."""
    X, Y = related_tasks(3000, seed=5)
    rng = np.random.default_rng(0)
    Ys = Y.apply(lambda c: pd.Series(rng.permutation(c.to_numpy()), index=c.index))
    Ys["a_copy"] = Ys["a"]  # a sibling with the very same labels: the worst case for leakage
    Xtr, Xte, Ytr, Yte = X.iloc[:2000], X.iloc[2000:], Ys.iloc[:2000], Ys.iloc[2000:]
    m = MultiTaskBooster(params=FAST, random_state=0, n_folds=5).fit(Xtr, Ytr)
    ev = m.evaluate(Xte, Yte)
    for task in ("a", "b", "a_copy"):
        assert abs(ev.loc[task, "value"] - 0.5) < 0.07, ev
    labelled = Ytr["a"].notna().to_numpy()
    oof_auc = roc_auc_score(Ytr["a"][labelled], m.oof_predictions_["a_copy"][labelled])
    assert abs(oof_auc - 0.5) < 0.07
    # Sibling selection may pick a sibling set by chance (a test at two standard errors);
    # what must hold is that a stacked model still scores at chance on unseen rows.


@pytest.mark.parametrize("use_groups", [False, True])
def test_default_folds_reuse_the_plain_model_without_leaking(data, use_groups):
    """The validation part is the first fold and the model on the fitting rows its fold model:
    every fold model's training rows exclude the rows it predicts, and the folds partition the
    labels."""
    from gbmtl._executor import SequentialExecutor
    from gbmtl._labels import encode_labels
    from gbmtl._planning import plan_fit
    from gbmtl.sharing import MECHANISMS
    from gbmtl.tasks import resolve_tasks

    X, Y, _, _ = data
    groups = np.arange(len(X)) // 5 if use_groups else None
    tasks = resolve_tasks(None, Y.reset_index(drop=True), "lightgbm")
    encoded = {t.name: encode_labels(Y[t.name].reset_index(drop=True), t.kind) for t in tasks}
    F = X.reset_index(drop=True)
    ctx = plan_fit(F, tasks, encoded, None, groups, params=FAST, sharing="auto", siblings=None,
                   bagging="auto", n_folds=4, cv=None, early_stopping_rounds=50, seed=0,
                   executor=SequentialExecutor(1), sharing_params=None)
    fits = MECHANISMS["independent"]().fit(ctx, ctx.plans)
    for p in ctx.plans:
        assert len(p.folds) == 4
        (first_train, first_test), *rest = p.folds
        np.testing.assert_array_equal(np.sort(first_train), np.sort(p.fit_rows))
        np.testing.assert_array_equal(np.sort(first_test), np.sort(p.val_rows))
        tests = np.concatenate([te for _, te in p.folds])
        np.testing.assert_array_equal(np.sort(tests), np.sort(p.enc.labelled))
        for tr, te in p.folds:
            assert not np.intersect1d(tr, te).size
            assert len(tr) + len(te) == len(p.enc.labelled)
            if use_groups:
                assert not np.intersect1d(groups[tr], groups[te]).size
        fit = fits[p.name]
        np.testing.assert_allclose(fit.oof[p.val_rows], fit.val)
        assert np.isfinite(fit.oof[p.enc.labelled]).all()


def test_no_early_stopping_trains_all_rows(data):
    X, Y, Xt, _ = data
    m = MultiTaskBooster(params={"n_estimators": 25}, early_stopping_rounds=None,
                         random_state=0).fit(X, Y)
    assert (m.sharing_report_["rounds"] == 25).all()
    assert (m.sharing_report_["mechanism"] == "independent").all()
    assert m.predict(Xt).shape == (len(Xt), 3)


def test_sklearn_conventions(data, fitted):
    X, Y, Xt, _ = data
    est = MultiTaskBooster(params=FAST, random_state=0)
    assert clone(est).get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        est.predict(Xt)
    assert fitted.fit(X, Y) is fitted


def test_numpy_inputs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    Y = np.column_stack([(X[:, 0] > 0).astype(float), X[:, 1] * 2])
    m = MultiTaskBooster(params=FAST, random_state=0, n_folds=3).fit(X, Y)
    assert list(m.predict(X).columns) == ["task0", "task1"]
    assert list(m.feature_names_in_) == ["x0", "x1", "x2"]


def test_shared_features_fit_once_on_X_and_shared(data):
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA

    X, Y, Xt, Yt = data
    numeric = [c for c in X.columns if c != "segment"]
    pipe = ColumnTransformer([("pca", PCA(n_components=4, random_state=0), numeric)],
                             remainder="passthrough", verbose_feature_names_out=False)
    m = MultiTaskBooster(params=FAST, shared_features=pipe, random_state=0, n_folds=3).fit(X, Y)
    assert m.shared_.fitted_transformer_ is not pipe  # a clone was fit, the parameter kept as given
    assert {"pca0", "pca1", "segment"} <= set(m.feature_importances_.index)
    assert m.evaluate(Xt, Yt).loc["a", "value"] > 0.7


def test_in_a_scikit_learn_pipeline():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from gbmtl import MultiTaskRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4))
    y = np.column_stack([X[:, 0] * 2, X[:, 1] - X[:, 2]])
    y[rng.random(500) < 0.3, 1] = np.nan
    pipe = make_pipeline(StandardScaler(), MultiTaskRegressor(params=FAST, random_state=0))
    pipe.fit(X, y)
    assert pipe.predict(X).shape == (500, 2)
    assert pipe.score(X[:50], np.nan_to_num(y[:50])) > 0.5
