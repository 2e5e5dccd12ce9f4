"""Walk-forward evaluation for time-stamped data: train on the past, test on what follows.

Finance tables are often panels (many stocks, accounts or loans per date), so the splitter works on
the *unique* time values rather than on rows: every row of one date lands on the same side of a
split, and a ``gap`` (embargo) of whole periods can separate training from testing.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import BaseCrossValidator

__all__ = ["WalkForwardSplit", "walk_forward_predict"]

logger = logging.getLogger("gbmtl")


def _check_count(name: str, value, *, allow_none: bool = True, minimum: int = 1) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"WalkForwardSplit: {name} must be an integer >= {minimum}; got {value!r}")


class WalkForwardSplit(BaseCrossValidator):
    """Walk-forward (time-series) splitter over unique time values.

    Each split trains on periods strictly before its test periods, so no model ever sees the
    future. The test blocks are the last ``n_splits * test_size`` periods, in order; the earliest
    periods are only ever trained on and receive no out-of-sample prediction.

    Parameters
    ----------
    n_splits : int, default=5
        Number of train/test splits.
    time : str, optional
        Name of the column of ``X`` holding the time stamps (``X`` must then be a DataFrame).
        Without it the time values are ``groups`` when given, else the row order (one period per
        row). When ``X`` is not a DataFrame (as inside gbmtl's estimators, which pass the time
        values as ``groups``), ``groups`` is used.
    train_size : int, optional
        Number of periods in each training window (a rolling window). ``None`` trains on all
        earlier periods (an expanding window).
    test_size : int, optional
        Number of periods in each test block. Defaults to what leaves ``min_train_size`` (else
        ``train_size``) periods to the first training window, or else
        ``(n_periods - gap) // (n_splits + 1)``.
    gap : int, default=0
        Periods left out between the end of each training window and its test block (an embargo,
        e.g. for labels that look ahead several days).
    min_train_size : int, optional
        Fewest periods the first training window may have; fewer raises an error.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"date": [1, 1, 2, 2, 3, 3, 4, 4], "x": range(8)})
    >>> cv = WalkForwardSplit(n_splits=2, time="date", test_size=1)
    >>> [(train.tolist(), test.tolist()) for train, test in cv.split(X)]
    [([0, 1, 2, 3], [4, 5]), ([0, 1, 2, 3, 4, 5], [6, 7])]
    """

    def __init__(
        self,
        n_splits: int = 5,
        *,
        time: str | None = None,
        train_size: int | None = None,
        test_size: int | None = None,
        gap: int = 0,
        min_train_size: int | None = None,
    ):
        self.n_splits = n_splits
        self.time = time
        self.train_size = train_size
        self.test_size = test_size
        self.gap = gap
        self.min_train_size = min_train_size

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """Number of splits, ``n_splits``."""
        return self.n_splits

    def _time_values(self, X, groups) -> np.ndarray:
        """The time stamp of every row, from the column, ``groups`` or the row order."""
        if self.time is not None and isinstance(X, pd.DataFrame):
            if self.time not in X.columns:
                raise ValueError(
                    f"WalkForwardSplit: time column {self.time!r} not found in X; "
                    f"columns are {list(X.columns)[:10]}"
                )
            return X[self.time].to_numpy()
        if groups is not None:
            return np.asarray(groups)
        if self.time is not None:
            raise ValueError(
                f"WalkForwardSplit: time={self.time!r} names a column, but X is not a DataFrame; "
                "pass a DataFrame or give the time values as groups"
            )
        return np.arange(len(X))

    def _period_bounds(self, n_periods: int) -> list[tuple[int, int, int]]:
        """(train start, test start, test end) period positions of each split."""
        _check_count("n_splits", self.n_splits, allow_none=False)
        _check_count("train_size", self.train_size)
        _check_count("test_size", self.test_size)
        _check_count("gap", self.gap, allow_none=False, minimum=0)
        _check_count("min_train_size", self.min_train_size)
        min_train = self.min_train_size or self.train_size
        test_size = self.test_size
        if test_size is None:
            if min_train is not None:
                test_size = (n_periods - self.gap - min_train) // self.n_splits
            else:
                test_size = (n_periods - self.gap) // (self.n_splits + 1)
        first_train = n_periods - self.n_splits * max(test_size, 1) - self.gap
        if test_size < 1 or first_train < max(self.min_train_size or 1, 1):
            raise ValueError(
                f"WalkForwardSplit: too few unique time values ({n_periods}) for n_splits="
                f"{self.n_splits}, test_size={self.test_size}, gap={self.gap}, "
                f"min_train_size={self.min_train_size}, train_size={self.train_size}: "
                "the first training window would be empty or too short"
            )
        bounds = []
        for i in range(self.n_splits):
            test_start = first_train + self.gap + i * test_size
            train_end = test_start - self.gap
            train_start = 0 if self.train_size is None else max(0, train_end - self.train_size)
            bounds.append((train_start, test_start, test_start + test_size))
        return bounds

    def split(self, X, y=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Generate row indices of each training set and its test set.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            The data; a DataFrame when ``time`` names one of its columns.
        y : array-like, optional
            Ignored; accepted for scikit-learn compatibility.
        groups : array-like of shape (n_samples,), optional
            Time values of the rows, used when ``time`` does not name a column of ``X``.

        Yields
        ------
        train : ndarray of int
            Rows whose time is before the test block (less the gap).
        test : ndarray of int
            Rows whose time falls in the test block.
        """
        times = self._time_values(X, groups)
        if times.ndim != 1 or times.shape[0] != len(X):
            raise ValueError(
                f"WalkForwardSplit: expected one time value per row of X ({len(X)}); "
                f"got shape {times.shape}"
            )
        codes, uniques = pd.factorize(times, sort=True)
        if (codes < 0).any():
            raise ValueError("WalkForwardSplit: the time values hold missing values")
        for train_start, test_start, test_end in self._period_bounds(len(uniques)):
            train = np.flatnonzero((codes >= train_start) & (codes < test_start - self.gap))
            test = np.flatnonzero((codes >= test_start) & (codes < test_end))
            yield train, test

    def _iter_test_indices(self, X=None, y=None, groups=None):  # pragma: no cover
        # Required by BaseCrossValidator, but split() above is overridden and never calls it.
        for _, test in self.split(X, y, groups):
            yield test


def _take(data, rows: np.ndarray):
    return data.iloc[rows] if isinstance(data, pd.DataFrame | pd.Series) else np.asarray(data)[rows]


def _copy_estimator(estimator):
    """A fresh unfitted copy: ``clone`` for scikit-learn estimators, a deep copy otherwise."""
    try:
        return clone(estimator)
    except TypeError:
        return copy.deepcopy(estimator)


def walk_forward_predict(
    estimator, X, Y, cv, *, groups=None, method: str = "predict"
) -> pd.DataFrame:
    """Out-of-sample predictions from refitting ``estimator`` on each training window of ``cv``.

    The walk-forward counterpart of :func:`sklearn.model_selection.cross_val_predict`, which
    refuses splitters that leave rows untested.

    Parameters
    ----------
    estimator : object
        Anything with ``fit(X, Y)`` and ``predict(X)`` (or the method named by ``method``)
        returning a DataFrame or an array. It is cloned for every split.
    X : DataFrame or array-like of shape (n_samples, n_features)
        Features, passed to the estimator as given (a time column included).
    Y : DataFrame, Series or array-like
        Targets, one or several columns.
    cv : splitter or iterable of (train, test)
        E.g. :class:`WalkForwardSplit`; any object with ``split(X, Y, groups)``.
    groups : array-like, optional
        Passed to ``cv.split`` (the time values for a :class:`WalkForwardSplit` without ``time``).
    method : str, default="predict"
        Estimator method producing the predictions, e.g. ``"predict_proba"``.

    Returns
    -------
    DataFrame
        Indexed like ``X`` (a RangeIndex for arrays), NaN in rows no split tested. Columns are
        those of the returned DataFrame, else of ``Y`` when the widths match, else ``0..k-1``.
        Where splits overlap, the later split's prediction is kept.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> X = np.arange(10.0).reshape(-1, 1)
    >>> pred = walk_forward_predict(LinearRegression(), X, 2 * X[:, 0], WalkForwardSplit(2))
    >>> int(pred[0].isna().sum())
    4
    """
    n = len(X)
    index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(n)
    if isinstance(Y, pd.DataFrame):
        y_columns = list(Y.columns)
    elif isinstance(Y, pd.Series):
        y_columns = [Y.name if Y.name is not None else 0]
    else:
        y_columns = None
    splits = cv.split(X, Y, groups) if hasattr(cv, "split") else cv
    pieces = []
    for i, (train, test) in enumerate(splits):
        train, test = np.asarray(train), np.asarray(test)
        if len(test) == 0:
            continue
        model = _copy_estimator(estimator)
        model.fit(_take(X, train), _take(Y, train))
        pred = getattr(model, method)(_take(X, test))
        if isinstance(pred, pd.DataFrame):
            block = pd.DataFrame(pred.to_numpy(), columns=pred.columns, index=test)
        else:
            pred = np.asarray(pred)
            pred = pred.reshape(len(test), -1)
            names = y_columns if y_columns is not None and len(y_columns) == pred.shape[1] else None
            block = pd.DataFrame(pred, columns=names, index=test)
        logger.debug("walk_forward_predict: split %d trained on %d rows, tested %d", i,
                     len(train), len(test))
        pieces.append(block)
    if not pieces:
        raise ValueError("walk_forward_predict: cv produced no test rows")
    out = pd.concat(pieces)
    out = out[~out.index.duplicated(keep="last")].reindex(pd.RangeIndex(n))
    out.index = index
    return out
