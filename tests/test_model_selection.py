"""Walk-forward splitting: only the past trains, dates never straddle, gap and window sizes hold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import cross_val_score

from gbmtl.model_selection import WalkForwardSplit, walk_forward_predict


@pytest.fixture
def panel() -> pd.DataFrame:
    """Twenty trading days of three to five stocks each, rows shuffled."""
    rng = np.random.default_rng(0)
    days = pd.bdate_range("2024-01-01", periods=20)
    rows = [(day, s) for day in days for s in range(int(rng.integers(3, 6)))]
    frame = pd.DataFrame(rows, columns=["date", "stock"])
    frame["x"] = rng.normal(size=len(frame))
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)


def _periods(frame, rows):
    return np.unique(frame["date"].to_numpy()[rows])


@pytest.mark.parametrize("gap", [0, 2])
def test_train_strictly_before_test_with_gap(panel, gap):
    cv = WalkForwardSplit(4, time="date", gap=gap)
    days = np.unique(panel["date"].to_numpy())
    splits = list(cv.split(panel))
    assert len(splits) == cv.get_n_splits() == 4
    for train, test in splits:
        train_days, test_days = _periods(panel, train), _periods(panel, test)
        assert train_days.max() < test_days.min()
        # exactly `gap` unique dates between the last training date and the first test date
        between = (days > train_days.max()) & (days < test_days.min())
        assert between.sum() == gap
        assert not set(train) & set(test)


def test_same_date_rows_never_straddle(panel):
    for train, test in WalkForwardSplit(5, time="date").split(panel):
        train_days, test_days = set(_periods(panel, train)), set(_periods(panel, test))
        assert not train_days & test_days
        # every row of a test date is in the test fold
        assert len(test) == panel["date"].isin(test_days).sum()


def test_expanding_vs_rolling_sizes(panel):
    expanding = list(WalkForwardSplit(4, time="date", test_size=3).split(panel))
    assert [len(_periods(panel, tr)) for tr, _ in expanding] == [8, 11, 14, 17]
    assert [len(_periods(panel, te)) for _, te in expanding] == [3, 3, 3, 3]
    rolling = list(WalkForwardSplit(4, time="date", test_size=3, train_size=5).split(panel))
    assert [len(_periods(panel, tr)) for tr, _ in rolling] == [5, 5, 5, 5]
    for (_, te_a), (_, te_b) in zip(expanding, rolling, strict=True):
        np.testing.assert_array_equal(te_a, te_b)  # the window size changes training only


def test_default_test_size_and_min_train_size():
    X = np.zeros((12, 1))
    sizes = [(len(tr), len(te)) for tr, te in WalkForwardSplit(3).split(X)]
    assert sizes == [(3, 3), (6, 3), (9, 3)]  # 12 // (3 + 1) periods per test block
    sizes = [(len(tr), len(te)) for tr, te in WalkForwardSplit(3, min_train_size=6).split(X)]
    assert sizes == [(6, 2), (8, 2), (10, 2)]


def test_earliest_rows_are_never_tested(panel):
    cv = WalkForwardSplit(3, time="date", test_size=2)
    tested = np.concatenate([te for _, te in cv.split(panel)])
    first_days = np.unique(panel["date"])[:14]
    assert not panel["date"].iloc[tested].isin(first_days).any()
    assert len(tested) == (~panel["date"].isin(first_days)).sum()


def test_time_from_groups_or_row_order(panel):
    by_column = list(WalkForwardSplit(3, time="date").split(panel))
    by_groups = list(WalkForwardSplit(3).split(panel[["x"]].to_numpy(), groups=panel["date"]))
    for (a_tr, a_te), (b_tr, b_te) in zip(by_column, by_groups, strict=True):
        np.testing.assert_array_equal(a_tr, b_tr)
        np.testing.assert_array_equal(a_te, b_te)
    # time= with an array X (as the core estimator passes) falls back to groups
    by_both = list(WalkForwardSplit(3, time="date").split(np.zeros((len(panel), 1)),
                                                          groups=panel["date"]))
    np.testing.assert_array_equal(by_both[0][1], by_column[0][1])
    train, test = next(WalkForwardSplit(2, test_size=2).split(np.zeros((10, 1))))
    assert train.tolist() == list(range(6)) and test.tolist() == [6, 7]


def test_works_with_cross_val_score():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 2))
    y = X @ [1.0, -2.0]
    scores = cross_val_score(LinearRegression(), X, y, cv=WalkForwardSplit(3, gap=1))
    assert scores.shape == (3,)
    np.testing.assert_allclose(scores, 1.0)


def test_clear_errors(panel):
    with pytest.raises(ValueError, match="time column 'day' not found"):
        next(WalkForwardSplit(3, time="day").split(panel))
    with pytest.raises(ValueError, match="too few unique time values"):
        next(WalkForwardSplit(10, time="date", test_size=2).split(panel))
    with pytest.raises(ValueError, match="too few unique time values"):
        next(WalkForwardSplit(3, time="date", min_train_size=19).split(panel))
    with pytest.raises(ValueError, match="not a DataFrame"):
        next(WalkForwardSplit(3, time="date").split(np.zeros((10, 1))))
    with pytest.raises(ValueError, match="gap must be an integer >= 0"):
        next(WalkForwardSplit(3, gap=-1).split(np.zeros((10, 1))))
    with pytest.raises(ValueError, match="n_splits"):
        next(WalkForwardSplit(0).split(np.zeros((10, 1))))
    with pytest.raises(ValueError, match="missing"):
        next(WalkForwardSplit(2, time="t").split(pd.DataFrame({"t": [1.0, np.nan, 2.0, 3.0]})))


def test_repr_shows_parameters():
    cv = WalkForwardSplit(3, time="date", train_size=5, test_size=2, gap=1, min_train_size=4)
    assert "gap=1" in repr(cv) and "time='date'" in repr(cv)


class _MeanModel:
    """Predicts each target's training mean, as a DataFrame; not a scikit-learn estimator."""

    def fit(self, X, Y):
        self.mean_ = Y.mean()
        self.fitted_on_ = len(X)
        return self

    def predict(self, X):
        return pd.DataFrame([self.mean_.to_numpy()] * len(X), columns=self.mean_.index,
                            index=X.index)


def test_walk_forward_predict_frame(panel):
    panel = panel.set_index(pd.Index([f"r{i}" for i in range(len(panel))]))
    Y = pd.DataFrame({"ret": np.arange(len(panel), dtype=float), "vol": 1.0}, index=panel.index)
    cv = WalkForwardSplit(3, time="date", test_size=2)
    pred = walk_forward_predict(_MeanModel(), panel, Y, cv)
    assert list(pred.columns) == ["ret", "vol"]
    assert pred.index.equals(panel.index)
    tested = np.concatenate([te for _, te in cv.split(panel)])
    assert pred.iloc[tested].notna().all().all()
    assert pred.drop(index=panel.index[tested]).isna().all().all()
    # the first test block is predicted by a model trained on the first 14 dates only
    train, test = next(cv.split(panel))
    assert pred["ret"].iloc[test].iloc[0] == pytest.approx(Y["ret"].iloc[train].mean())


def test_walk_forward_predict_sklearn_array():
    X = np.arange(10.0).reshape(-1, 1)
    y = pd.Series(3 * X[:, 0] + 1, name="target")
    pred = walk_forward_predict(LinearRegression(), X, y, WalkForwardSplit(2, gap=1))
    assert list(pred.columns) == ["target"]
    assert pred["target"].isna().sum() == 4
    np.testing.assert_allclose(pred["target"].dropna(), y.iloc[4:])
    with pytest.raises(ValueError, match="no test rows"):
        walk_forward_predict(LinearRegression(), X, y, [])
