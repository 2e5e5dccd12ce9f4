"""Sharing mechanisms: each one, forced on, keeps everything a task can do, and never leaks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import gbmtl
from gbmtl import MultiTaskBooster, Task
from gbmtl.sharing import CHOICES, MECHANISMS, SHARING_NAMES
from tests._helpers import FAST

#: Fast settings for the shared ensemble too (its defaults are for real tables).
SHARED_FAST = {"shared_trees": {"learning_rate": 0.3, "n_estimators": 60, "max_depth": 3}}


def mixed_tasks(n: int = 1200, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Binary, multiclass (text labels) and regression tasks with missing labels."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 5)), columns=[f"f{i}" for i in range(5)])
    X["segment"] = pd.Categorical(rng.choice(["a", "b", "c"], n))
    X.loc[rng.random(n) < 0.05, "f1"] = np.nan
    z = X["f0"] + 0.8 * X["f1"].fillna(0) ** 2 - 0.5 * X["f2"] + 0.5 * (X["segment"] == "b")
    Y = pd.DataFrame({
        "default": (z + rng.normal(0, 0.7, n) > 0.8).astype(float),
        "grade": pd.array(np.where(z > 1.2, "high", np.where(z < 0.0, "low", "mid")),
                          dtype="string"),
        "loss": 2 * z + rng.normal(0, 0.5, n),
    })
    Y.loc[rng.random(n) < 0.6, "default"] = np.nan
    Y.loc[rng.random(n) < 0.3, "grade"] = pd.NA
    Y.loc[rng.random(n) < 0.2, "loss"] = np.nan
    return X, Y


@pytest.fixture(scope="module")
def table():
    X, Y = mixed_tasks()
    return X.iloc[:900], Y.iloc[:900], X.iloc[900:], Y.iloc[900:]


def _booster(sharing, **kw):
    return MultiTaskBooster(params=FAST, sharing=sharing, sharing_params=SHARED_FAST,
                            random_state=0, n_folds=3, **kw)


@pytest.fixture(scope="module", params=list(CHOICES))
def forced(request, table):
    X, Y, _, _ = table
    rng = np.random.default_rng(1)
    w = rng.uniform(0.5, 2.0, size=(len(X), 3))
    groups = np.arange(len(X)) // 3
    model = _booster(request.param).fit(X, Y, sample_weight=w, groups=groups)
    return request.param, model


def test_every_mechanism_is_registered_with_its_fitted_model():
    from gbmtl.sharing import FITTED

    assert set(MECHANISMS) == {"independent", *SHARING_NAMES}
    assert set(FITTED) == {"independent", *CHOICES}


def test_forced_mechanism_on_mixed_kinds_with_missing_labels(forced, table):
    name, m = forced
    _, _, Xt, Yt = table
    assert (m.sharing_report_["mechanism"] == name).all()
    assert (m.sharing_report_["decision"] == "forced by sharing").all()
    pred = m.predict(Xt)
    assert pred.notna().all().all()
    assert set(pred["grade"]) <= {"high", "low", "mid"}
    proba = m.predict_proba(Xt)
    np.testing.assert_allclose(proba["grade"].sum(axis=1), 1.0)
    ev = m.evaluate(Xt, Yt)
    assert ev.loc["default", "value"] > 0.75 and ev.loc["grade", "value"] < 0.8
    assert m.sharing_report_["bagged"].all()
    assert np.isfinite(m.sharing_report_[f"gain_{name}"]).all()


def test_forced_mechanism_saves_and_loads_identically(forced, table, tmp_path):
    name, m = forced
    _, _, Xt, _ = table
    m.save(tmp_path / name)
    loaded = gbmtl.load(tmp_path / name)
    pd.testing.assert_frame_equal(m.predict(Xt), loaded.predict(Xt))
    for task, p in m.predict_proba(Xt).items():
        np.testing.assert_array_equal(p, loaded.predict_proba(Xt)[task])
    pd.testing.assert_frame_equal(m.sharing_report_, loaded.sharing_report_)
    pd.testing.assert_frame_equal(m.explain(Xt, "loss"), loaded.explain(Xt, "loss"))


def test_forced_mechanism_explanations_add_up(forced, table):
    name, m = forced
    _, _, Xt, _ = table
    F, _ = m._features(Xt)
    for task, class_index in (("default", None), ("grade", 2), ("loss", None)):
        res = m._result(task)
        raw = res.final.predict_raw(F, m._sibling_inputs(F, res.final.siblings))
        contrib = m.explain(Xt, task, class_index=class_index)
        expected = raw[:, class_index or 0]
        # XGBoost predicts in float32: shared trees add up to its precision.
        np.testing.assert_allclose(contrib.sum(axis=1).to_numpy(), expected, atol=1e-4)
        sib = [c for c in contrib.columns if c.startswith("sibling:")]
        assert sib == [f"sibling:{s}" for s in res.final.siblings]
        if name in ("offset", "stacking"):
            assert sib  # these mechanisms read siblings, and show their share


def test_forced_mechanism_is_deterministic(forced, table):
    name, m = forced
    X, Y, Xt, _ = table
    rng = np.random.default_rng(1)
    w = rng.uniform(0.5, 2.0, size=(len(X), 3))
    again = _booster(name).fit(X, Y, sample_weight=w, groups=np.arange(len(X)) // 3)
    pd.testing.assert_frame_equal(m.predict(Xt), again.predict(Xt))


@pytest.mark.parametrize("sharing", list(CHOICES))
def test_shuffled_labels_score_at_chance_with_each_mechanism(sharing):
    """No leakage: with labels shuffled, a sibling with the very same labels cannot lift a task
    above chance on unseen rows, whatever mechanism reads it."""
    rng = np.random.default_rng(0)
    n = 2400
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"f{i}" for i in range(6)])
    y = rng.permutation((X["f0"] + X["f1"] > 0).to_numpy(float))
    Y = pd.DataFrame({"a": y, "a_copy": y, "b": rng.permutation(y)})
    Y.loc[rng.random(n) < 0.5, "a"] = np.nan
    m = _booster(sharing).fit(X.iloc[:1600], Y.iloc[:1600])
    ev = m.evaluate(X.iloc[1600:], Y.iloc[1600:])
    for task in ("a", "a_copy", "b"):
        assert abs(ev.loc[task, "value"] - 0.5) < 0.07, (sharing, ev)


def test_offset_may_keep_zero_extra_rounds():
    """When the siblings' offset already carries everything, trees add nothing: zero rounds."""
    rng = np.random.default_rng(2)
    n = 3000
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=[f"f{i}" for i in range(4)])
    aux = (X["f0"] + rng.normal(0, 0.3, n) > 0).astype(float)
    main = aux.copy()
    main[rng.random(n) < 0.9] = np.nan
    Y = pd.DataFrame({"main": main, "aux": aux})
    m = MultiTaskBooster(params={**FAST, "min_child_samples": 200}, sharing="offset",
                         random_state=0).fit(X, Y)
    res = m._result("main")
    assert res.final.rounds == 0 and res.final.n_models == 0
    F, _ = m._features(X.iloc[:50])
    inputs = m._sibling_inputs(F, ["aux"])
    np.testing.assert_allclose(res.final.predict_raw(F, inputs), res.final.glm.margin(inputs))
    contrib = m.explain(X.iloc[:50], "main")
    np.testing.assert_allclose(contrib.sum(axis=1), res.final.glm.margin(inputs)[:, 0])


def test_task_sharing_overrides_the_estimator(table):
    X, Y, _, _ = table
    tasks = [Task("default", sharing="offset"), Task("grade", sharing="none"), Task("loss")]
    m = MultiTaskBooster(tasks=tasks, params=FAST, sharing="stacking", random_state=0,
                         n_folds=3).fit(X, Y)
    assert m.sharing_report_["mechanism"].to_dict() == {
        "default": "offset", "grade": "independent", "loss": "stacking"}


def test_sharing_report_explains_the_choice(table):
    X, Y, _, _ = table
    m = _booster("auto").fit(X, Y)
    report = m.sharing_report_
    for task, row in report.iterrows():
        assert row["basis"] == "out-of-fold"
        gains = {k: row[f"gain_{k}"] for k in CHOICES}
        assert all(np.isfinite(g) for g in gains.values()), (task, gains)
        winners = {k: g for k, g in gains.items() if g > row["z"] * row[f"se_{k}"]}
        if row["mechanism"] == "independent":
            assert not winners and "no candidate gained" in row["decision"]
        elif row["mechanism"] == "blend" and not winners:
            assert row["decision"].startswith("siblings informative")
        else:
            assert row["gain"] == max(winners.values())


@pytest.mark.slow
def test_a_noise_sibling_is_picked_no_more_often_than_the_false_pick_rate():
    """A sibling of pure noise beside a label-scarce task: the choice must keep the independent
    model in all but about FALSE_PICK_RATE (6.7 %) of fits. 20 fits: 5 or more picks would
    happen by chance with probability 1 % at that rate."""
    picks = 0
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        n = 1500
        X = pd.DataFrame(rng.normal(size=(n, 5)), columns=[f"f{i}" for i in range(5)])
        main = (X["f0"] + X["f1"] + rng.normal(0, 1.0, n) > 0).astype(float)
        main[rng.random(n) < 0.8] = np.nan
        noise = pd.Series(rng.integers(0, 2, n).astype(float))
        Y = pd.DataFrame({"main": main, "noise": noise})
        m = MultiTaskBooster(params=FAST, sharing_params=SHARED_FAST, random_state=seed,
                             n_folds=3).fit(X, Y)
        picks += m.sharing_report_.loc["main", "mechanism"] != "independent"
    assert picks <= 4, picks


def test_format_1_model_still_loads_with_its_predictions():
    """A model saved by gbmtl 0.1 (format 1: stacked, multiclass, XGBoost and calibrated
    tasks) predicts exactly what it predicted then."""
    import json
    from pathlib import Path

    here = Path(__file__).parent / "data"
    m = gbmtl.load(here / "model_v1")
    X = pd.read_csv(here / "model_v1_X.csv")
    X["segment"] = pd.Categorical(X["segment"])
    expected = json.loads((here / "model_v1_expected.json").read_text())
    pred = m.predict(X)
    for col in expected["predict"]["columns"]:
        want = [row[expected["predict"]["columns"].index(col)] for row in
                expected["predict"]["data"]]
        got = pred[col].tolist()
        if col == "loss":
            np.testing.assert_allclose(got, want, rtol=1e-9)  # stored with 10 digits
        else:
            assert [str(v) for v in got] == [str(v) for v in want]
    for task, p in expected["proba"].items():
        # XGBoost's own link ran in float32; gbmtl applies it to the raw score in float64.
        np.testing.assert_allclose(m.predict_proba(X)[task], p, rtol=1e-6)
    assert m.sharing_report_["mechanism"].to_dict() == {
        "default": "independent", "late": "independent", "grade": "stacking", "loss": "stacking"}
    assert m.sharing == ["stacking"] and m.stacking is None


def test_oof_predictions_match_the_rows_the_siblings_saw(table):
    X, Y, _, _ = table
    m = _booster(["offset"]).fit(X, Y)
    oof = m.oof_predictions_
    assert list(oof.columns) == ["default", "grade_high", "grade_low", "grade_mid", "loss"]
    assert oof.index.equals(X.index) and oof.notna().all().all()
    labelled = Y["default"].notna().to_numpy()
    assert roc_auc_score(Y["default"][labelled], oof["default"][labelled]) > 0.75


def test_shared_trees_objective_is_each_tasks_own_loss_gradient(monkeypatch):
    """The vectorised objective against the per-task formulas, with missing labels and weights."""
    from scipy.special import expit, softmax

    from gbmtl.sharing import _shared_trees

    seen = {}
    original = _shared_trees.SharedData.objective

    def capture(self, rows):
        seen.setdefault("data", (self, rows))
        return original(self, rows)

    X, Y = mixed_tasks(300)
    monkeypatch.setattr(_shared_trees.SharedData, "objective", capture)
    _booster("shared_trees").fit(X, Y)
    data, rows = seen["data"]
    rng = np.random.default_rng(0)
    predt = rng.normal(size=(len(rows), data.n_outputs)).astype(np.float32)
    g, h = data.objective(rows)(predt.ravel(), None)
    for p, out in zip(data.plans, data.outputs, strict=True):
        y = p.enc.y[rows]
        m = ~np.isnan(y)
        z = predt[:, out.cols].astype(float)
        if p.kind == "binary":
            want_g = np.where(m, expit(z[:, 0]) - np.nan_to_num(y), 0.0)[:, None]
        elif p.kind == "multiclass":
            onehot = np.eye(out.width)[np.nan_to_num(y).astype(int)]
            want_g = np.where(m[:, None], softmax(z, axis=1) - onehot, 0.0)
        else:
            want_g = np.where(m, z[:, 0] - (np.nan_to_num(y) - out.mean) / out.scale, 0.0)[:, None]
        np.testing.assert_allclose(g[:, out.cols], want_g, rtol=1e-5, atol=1e-6)
        assert (h[~m, out.cols] == 0).all() and (h[m, out.cols] > 0).all()
