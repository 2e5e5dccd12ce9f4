"""S&P 500 daily prices (2013-02-08 .. 2018-02-07, 505 tickers): the raw panel and a
forecasting table whose features use only past and same-day data."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from gbmtl.datasets._base import DataHome, read_csv_file, set_dataset_attrs

__all__ = ["load_sp500", "load_sp500_prices"]

logger = logging.getLogger(__name__)

_FIELDS = ("open", "high", "low", "close", "volume")


def load_sp500_prices(
    *,
    tickers: Sequence[str] | None = None,
    field: str | None = None,
    data_home: DataHome = None,
    download_if_missing: bool = True,
) -> pd.DataFrame:
    """Load the daily S&P 500 price panel (IEX prices, 2013-02-08 .. 2018-02-07).

    Parameters
    ----------
    tickers : sequence of str, optional
        Keep these tickers only (e.g. ``["AAPL", "MSFT"]``); all 505 when None.
    field : {"open", "high", "low", "close", "volume"}, optional
        When given, return that field as a wide table: one row per date, one column per
        ticker, NaN where a ticker has no quote (not yet listed, or a gap).
    data_home : str or path-like, optional
        See :func:`get_data_home`.
    download_if_missing : bool, default True

    Returns
    -------
    pandas.DataFrame
        Long format (default): columns ``date`` (datetime64), ``ticker`` (str), ``open``,
        ``high``, ``low``, ``close``, ``volume``, sorted by ticker then date. 27 ``open``/
        ``high``/``low`` values are missing in the source and stay NaN.

    Examples
    --------
    >>> close = load_sp500_prices(tickers=["AAPL", "MSFT"], field="close")  # doctest: +SKIP
    """
    if field is not None and field not in _FIELDS:
        raise ValueError(f"field must be one of {_FIELDS} or None, got {field!r}")
    prices = read_csv_file(
        "sp500",
        data_home=data_home,
        download_if_missing=download_if_missing,
        parse_dates=["date"],
    ).rename(columns={"Name": "ticker"})
    if tickers is not None:
        tickers = [tickers] if isinstance(tickers, str) else list(tickers)
        unknown = sorted(set(tickers) - set(prices["ticker"].unique()))
        if unknown:
            raise ValueError(f"unknown tickers {unknown}; the panel has 505 S&P 500 tickers")
        prices = prices[prices["ticker"].isin(tickers)]
    prices = prices[["date", "ticker", *_FIELDS]]
    prices = prices.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)
    if field is None:
        return prices
    return prices.pivot(index="date", columns="ticker", values=field)


def load_sp500(
    *,
    tickers: Sequence[str] | None = None,
    horizon: int = 5,
    windows: Sequence[int] = (5, 21),
    dropna: bool = True,
    data_home: DataHome = None,
    download_if_missing: bool = True,
    prices: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load a multi-task forecasting table from the S&P 500 panel: one row per (date, ticker).

    All quantities are per ticker, over its own trading days (a gap in a ticker's quotes
    makes one step span several calendar days). A row dated ``t`` holds features known at
    the close of day ``t`` (that day's prices and earlier ones) and targets over the next
    ``horizon`` trading days ``t+1 .. t+horizon``; no feature uses a price after ``t``.

    Tasks (``Y`` columns):

    - ``ret_fwd`` (regression): forward log return ``log(close[t+h] / close[t])``.
    - ``vol_fwd`` (regression): forward realised volatility, the root mean square of the
      daily log returns ``t+1 .. t+h`` (daily units, not annualised).

    Features (``X`` columns), with ``r`` the daily close-to-close log return:

    - ``ticker`` (category).
    - ``ret_1d`` and ``ret_{w}d``: log return over the last 1 and ``w`` trading days.
    - ``vol_{w}d``: standard deviation of ``r`` over the last ``w`` days.
    - ``ma_gap_{w}d``: ``close / mean(close over the last w days) - 1``.
    - ``range_hl``: ``log(high / low)`` of day ``t``; ``ret_oc``: ``log(close / open)``.
    - ``log_volume``: ``log1p(volume)``; ``volume_z``: its z-score against the last
      ``max(windows)`` days.

    Dates: quotes run from 2013-02-08 to 2018-02-07. With the defaults and ``dropna=True``
    the first row of a ticker is its 22nd quote (2013-03-12 for a ticker quoted from the
    start) and the last one is ``horizon`` quotes before its final quote (2018-01-31).
    Split by date (e.g. a time-ordered splitter on the ``date`` index level), never at
    random: rows of neighbouring dates share overlapping target windows.

    Parameters
    ----------
    tickers : sequence of str, optional
        Subset of tickers; all 505 when None (about 600,000 rows, a few seconds).
    horizon : int, default 5
        Forecast horizon in trading days.
    windows : sequence of int, default (5, 21)
        Look-back windows in trading days for the return, volatility and moving-average
        features.
    dropna : bool, default True
        Drop each ticker's first ``max(windows)`` rows (incomplete look-back) and its last
        ``horizon`` rows (no target). When False those rows stay with NaN features/targets,
        e.g. to predict from the latest date.
    data_home : str or path-like, optional
        See :func:`get_data_home`.
    download_if_missing : bool, default True
    prices : DataFrame, optional
        Build the table from this panel (the long format of :func:`load_sp500_prices`, e.g.
        the offline stand-in ``make_price_panel``) instead of loading the S&P 500 file;
        ``tickers`` then selects among its tickers.

    Returns
    -------
    X, Y : pandas.DataFrame
        Indexed by a ``(date, ticker)`` MultiIndex sorted by date then ticker.
    """
    if int(horizon) != horizon or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    windows = sorted({int(w) for w in windows})
    if not windows or windows[0] < 2:
        raise ValueError(f"windows must be integers >= 2, got {windows!r}")
    if prices is None:
        prices = load_sp500_prices(
            tickers=tickers, data_home=data_home, download_if_missing=download_if_missing
        )
    else:
        missing = [c for c in ("date", "ticker", *_FIELDS) if c not in prices.columns]
        if missing:
            raise ValueError(f"prices: missing columns {missing}; expected the long format of "
                             "load_sp500_prices")
        if tickers is not None:
            prices = prices[prices["ticker"].isin(list(tickers))]
        prices = prices.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)
    X, Y = _make_features_targets(prices, int(horizon), windows)
    if dropna:
        position = prices.groupby("ticker", sort=False).cumcount().to_numpy()
        remaining = prices.groupby("ticker", sort=False).cumcount(ascending=False).to_numpy()
        keep = (position >= windows[-1]) & (remaining >= horizon)
        X, Y = X[keep], Y[keep]
    index = pd.MultiIndex.from_arrays(
        [X.pop("date"), X["ticker"].astype(str)], names=["date", "ticker"]
    )
    X.index = index
    Y.index = index
    order = np.lexsort((index.get_level_values("ticker"), index.get_level_values("date")))
    X, Y = X.iloc[order], Y.iloc[order]
    X["ticker"] = X["ticker"].astype("category")
    kinds = {"ret_fwd": "regression", "vol_fwd": "regression"}
    logger.info("sp500: %d rows, %d tickers, horizon %d", len(X), X["ticker"].nunique(), horizon)
    return set_dataset_attrs(X, Y, "sp500", kinds, horizon=int(horizon), windows=list(windows))


def _make_features_targets(prices: pd.DataFrame, horizon: int, windows: list[int]):
    """Compute features and targets row by row; ``prices`` is sorted by ticker then date."""
    by = prices["ticker"]
    log_close = np.log(prices["close"])
    lc = log_close.groupby(by, sort=False)
    r = lc.diff()
    rg = r.groupby(by, sort=False)
    X = pd.DataFrame({"date": prices["date"], "ticker": prices["ticker"]})
    X["ret_1d"] = r
    for w in windows:
        X[f"ret_{w}d"] = log_close - lc.shift(w)
        X[f"vol_{w}d"] = _rolling(rg, w, "std")
        X[f"ma_gap_{w}d"] = prices["close"] / _rolling(prices["close"].groupby(by), w) - 1.0
    X["range_hl"] = np.log(prices["high"] / prices["low"])
    X["ret_oc"] = np.log(prices["close"] / prices["open"])
    log_volume = np.log1p(prices["volume"].astype(float))
    X["log_volume"] = log_volume
    vg = log_volume.groupby(by, sort=False)
    w = windows[-1]
    X["volume_z"] = (log_volume - _rolling(vg, w)) / _rolling(vg, w, "std")
    X["volume_z"] = X["volume_z"].replace([np.inf, -np.inf], np.nan)

    mean_sq = _rolling((r**2).groupby(by, sort=False), horizon)
    Y = pd.DataFrame(
        {
            "ret_fwd": lc.shift(-horizon) - log_close,
            "vol_fwd": np.sqrt(mean_sq.groupby(by, sort=False).shift(-horizon)),
        }
    )
    return X, Y


def _rolling(grouped, window: int, how: str = "mean") -> pd.Series:
    """Trailing per-group rolling statistic over exactly ``window`` rows, aligned to the rows."""
    out = getattr(grouped.rolling(window, min_periods=window), how)()
    return out.reset_index(level=0, drop=True).sort_index()
