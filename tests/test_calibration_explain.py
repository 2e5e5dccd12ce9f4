"""Calibration on held-out predictions, SHAP explanations and reason codes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gbmtl
from gbmtl import MultiTaskBooster
from gbmtl.metrics import ece
from tests._helpers import FAST, related_tasks


@pytest.fixture(scope="module")
def data():
    X, Y = related_tasks(3000, seed=4)
    return X.iloc[:2200], Y.iloc[:2200], X.iloc[2200:], Y.iloc[2200:]


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibration_is_fit_on_held_out_predictions(data, method):
    X, Y, Xt, Yt = data
    # Up-weighting positives (common for rare defaults) biases probabilities upward.
    params = {**FAST, "scale_pos_weight": 5.0}
    raw = MultiTaskBooster(params=params, random_state=0, n_folds=3, sharing="none").fit(X, Y)
    cal = MultiTaskBooster(params=params, random_state=0, n_folds=3, sharing="none",
                           calibration=method).fit(X, Y)
    assert set(cal.calibrators_) == {"a", "b"}
    assert cal.calibrators_["b"].source in ("out-of-fold predictions",
                                            "early-stopping validation rows")
    labelled = Yt["b"].notna().to_numpy()
    p_raw = raw.predict_proba(Xt)["b"][labelled, 1]
    p_cal = cal.predict_proba(Xt)["b"][labelled, 1]
    y = Yt["b"][labelled].to_numpy()
    assert ece(y, p_cal) < ece(y, p_raw)
    # Calibration is monotone: the ranking (AUC) barely moves.
    ev_raw, ev_cal = raw.evaluate(Xt, Yt), cal.evaluate(Xt, Yt)
    assert abs(ev_raw.loc["b", "value"] - ev_cal.loc["b", "value"]) < 0.02


def test_calibration_survives_save_load(tmp_path, data):
    X, Y, Xt, _ = data
    m = MultiTaskBooster(params=FAST, random_state=0, n_folds=3,
                         calibration={"a": "isotonic"}).fit(X, Y)
    m.save(tmp_path / "m")
    loaded = gbmtl.load(tmp_path / "m")
    np.testing.assert_array_equal(m.predict_proba(Xt)["a"], loaded.predict_proba(Xt)["a"])


@pytest.mark.parametrize(
    "calibration, match",
    [
        ("platt", "calibration: expected None"),
        ({"r": "sigmoid"}, "task 'r' is regression"),
        ({"zzz": "sigmoid"}, "unknown task 'zzz'"),
        ({"a": "beta"}, "unknown method 'beta'"),
    ],
)
def test_calibration_errors(data, calibration, match):
    X, Y, _, _ = data
    with pytest.raises(ValueError, match=match):
        MultiTaskBooster(params=FAST, calibration=calibration).fit(X, Y)


def test_explain_adds_up_to_the_raw_score(data):
    X, Y, Xt, _ = data
    m = MultiTaskBooster(params=FAST, random_state=0, n_folds=3).fit(X, Y)
    for task in ("a", "b", "r"):
        contrib = m.explain(Xt, task)
        assert contrib.index.equals(Xt.index)
        assert contrib.columns[-1] == "bias"
        sib_cols = [c for c in contrib.columns if c.startswith("sibling:")]
        assert sib_cols == [f"sibling:{s}" for s in m._result(task).final.siblings]
        raw = contrib.sum(axis=1).to_numpy()
        pred = m.predict_proba(Xt)[task][:, 1] if task != "r" else m.predict(Xt)[task].to_numpy()
        expected = np.log(pred / (1 - pred)) if task != "r" else pred
        np.testing.assert_allclose(raw, expected, rtol=1e-4, atol=1e-4)


def test_explain_shows_sibling_share_for_a_stacked_task():
    rng = np.random.default_rng(4)
    n = 5000
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"f{i}" for i in range(6)])
    z = np.sin(2 * X["f0"]) + X["f1"] * X["f2"]
    Y = pd.DataFrame({"main": (z + rng.normal(0, 0.4, n) > 0.5).astype(float),
                      "aux": (z + rng.normal(0, 0.4, n) > 0.5).astype(float)})
    Y.loc[rng.random(n) < 0.9, "main"] = np.nan
    m = MultiTaskBooster(params={"num_leaves": 15}, sharing=["offset", "stacking"],
                         random_state=0).fit(X, Y)
    assert m.sharing_report_.loc["main", "siblings_used"] == "aux"
    contrib = m.explain(X.iloc[:200], "main")
    assert contrib["sibling:aux"].abs().mean() > 0.1
    codes = m.reason_codes(X.iloc[:200], "main", k=2)
    assert list(codes.columns) == ["reason_1", "contribution_1", "reason_2", "contribution_2"]
    assert not codes["reason_1"].dropna().str.startswith("sibling:").any()
    with_sib = m.reason_codes(X.iloc[:200], "main", k=2, include_siblings=True)
    assert with_sib["reason_1"].dropna().str.startswith("sibling:").any()
    # Reasons push the score up: each listed contribution is positive.
    assert (codes["contribution_1"][codes["reason_1"].notna()] > 0).all()


def test_explain_errors(data):
    X, Y, Xt, _ = data
    m = MultiTaskBooster(params=FAST, sharing="none", random_state=0).fit(X, Y)
    with pytest.raises(ValueError, match="Unknown task 'zzz'"):
        m.explain(Xt, "zzz")
    with pytest.raises(ValueError, match="class_index applies to multiclass"):
        m.explain(Xt, "a", class_index=1)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        m.reason_codes(Xt, "a", k=0)


def test_explain_multiclass():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=600), "y": rng.normal(size=600)})
    Y = pd.DataFrame({"g": pd.array(np.where(X["x"] > 0.4, "hi", np.where(X["x"] < -0.4, "lo",
                                                                           "mid")),
                                    dtype="string")})
    m = MultiTaskBooster(params=FAST, random_state=0).fit(X, Y)
    with pytest.raises(ValueError, match="pass class_index"):
        m.explain(X, "g")
    contrib = m.explain(X, "g", class_index=0)
    assert contrib["x"].abs().mean() > contrib["y"].abs().mean()
