"""Synthetic stand-ins for the real data sets, so that examples run offline.

A stand-in has the real data set's task names, kinds, base rates and number of classes, on
features drawn by :func:`make_correlated_tasks` (related tasks, a categorical column), so code
written for the real table (notebooks, tuning configs) runs unchanged where its files are absent.
Its numbers say nothing about the real data. The S&P 500 stand-in is a simulated price panel
(one market factor, random walks) in the format of :func:`load_sp500_prices`.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from gbmtl.datasets._base import REMOTE_FILES, DataHome, get_data_home, set_dataset_attrs
from gbmtl.datasets._synthetic import make_correlated_tasks

__all__ = ["DATA_CHOICES", "has_real_data", "load_or_stand_in", "make_price_panel",
           "make_stand_in"]

#: Per data set: rows of the real table, and each target's kind with its positive rate
#: (binary) or number of classes (multiclass). The first target is the main task.
_SPECS: dict[str, tuple[int, dict[str, tuple[str, float]]]] = {
    "credit_default_taiwan": (30_000, {
        "default": ("binary", 0.22), "pay_0_late": ("binary", 0.23),
        "log_bill_amt1": ("regression", 0), "log_pay_amt1": ("regression", 0)}),
    "vehicle_fraud": (15_420, {
        "fraud": ("binary", 0.06), "fault_policy_holder": ("binary", 0.72),
        "past_claims": ("multiclass", 4)}),
    "census_income": (99_762, {
        "income_50k": ("binary", 0.06), "never_married": ("binary", 0.43),
        "education_college": ("binary", 0.25)}),
    "lending_club": (9_857, {
        "bad": ("binary", 0.05), "int_rate": ("regression", 0), "sub_grade": ("multiclass", 35)}),
}
#: Data files that must be in the data home for ``data="auto"`` to use the real table.
_FILES = {"credit_default_taiwan": ["credit_default_taiwan"], "vehicle_fraud": ["vehicle_fraud"],
          "census_income": ["census_income_test"], "lending_club": ["lending_club"],
          "sp500": ["sp500"]}
#: Accepted values of the ``data`` argument.
DATA_CHOICES = ("auto", "real", "synthetic")


def has_real_data(name: str, data_home: DataHome = None) -> bool:
    """Whether the files of data set ``name`` are in the data home (nothing is downloaded)."""
    if name not in _FILES:
        raise ValueError(f"unknown data set {name!r}; expected one of {sorted(_FILES)}")
    home = get_data_home(data_home)
    return all((home / REMOTE_FILES[f].folder / REMOTE_FILES[f].filename).is_file()
               for f in _FILES[name])


def make_stand_in(name: str, n_samples: int | None = None, *, random_state=0,
                  siblings: bool = True, targets: Sequence[str] | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A synthetic table with the targets of real data set ``name`` (see the module docstring).

    Parameters
    ----------
    name : {"credit_default_taiwan", "vehicle_fraud", "census_income", "lending_club"}
    n_samples : int, optional
        Rows; default the real table's row count.
    random_state : int, RandomState or None
    siblings : bool, default True
        False keeps the main task only (as the loaders' ``siblings=False``).
    targets : sequence of str, optional
        Keep these targets (as ``load_census_income(targets=...)``).

    Returns
    -------
    X, Y : pandas.DataFrame
        ``Y.attrs["task_kinds"]`` as the loader sets it; ``attrs["stand_in"]`` is True.
    """
    if name not in _SPECS:
        raise ValueError(f"no synthetic stand-in for {name!r}; expected one of {sorted(_SPECS)}"
                         " (S&P 500: make_price_panel)")
    rows, spec = _SPECS[name]
    n = int(n_samples or rows)
    X, raw = make_correlated_tasks(n, 20, n_informative=10, n_tasks=len(spec),
                                   task_correlation=0.6, noise=0.5, n_categories=6,
                                   random_state=random_state)
    Y = pd.DataFrame(index=X.index)
    for (task, (kind, arg)), col in zip(spec.items(), raw.columns, strict=True):
        z = raw[col]
        if kind == "binary":
            Y[task] = (z > z.quantile(1.0 - arg)).astype("int64")
        elif kind == "multiclass":
            Y[task] = pd.qcut(z.rank(method="first"), int(arg), labels=False).astype("int64")
        else:
            Y[task] = z
    keep = list(spec)
    if targets is not None:
        unknown = [t for t in targets if t not in spec]
        if unknown or not targets:
            raise ValueError(f"targets: expected some of {list(spec)}, got {list(targets)}")
        keep = list(targets)
    elif not siblings:
        keep = keep[:1]
    Y = Y[keep]
    kinds = {t: spec[t][0] for t in keep}
    return set_dataset_attrs(X, Y, name, kinds, stand_in=True)


def make_price_panel(n_tickers: int = 30, n_days: int = 1259, *, random_state=0) -> pd.DataFrame:
    """A simulated daily price panel in the format of :func:`load_sp500_prices` (long format).

    Log returns are a market factor (beta around 1) plus noise, with volatility clustering
    (a GARCH(1,1)-like recursion per ticker), from business days starting 2013-02-08; tickers
    are ``S000``, ``S001``, ...
    """
    rng = np.random.default_rng(random_state)
    dates = pd.bdate_range("2013-02-08", periods=n_days)
    market = rng.standard_normal(n_days) * 0.008 + 0.0003
    beta = rng.uniform(0.6, 1.4, n_tickers)
    frames = []
    for i in range(n_tickers):
        var = np.empty(n_days)
        shock = rng.standard_normal(n_days)
        ret = np.empty(n_days)
        var[0] = 0.012 ** 2
        for t in range(n_days):  # volatility clustering: no library simulates this panel
            if t:
                var[t] = 2e-6 + 0.08 * ret[t - 1] ** 2 + 0.9 * var[t - 1]
            ret[t] = beta[i] * market[t] + np.sqrt(var[t]) * shock[t]
        close = 40.0 * np.exp(np.cumsum(ret)) * rng.uniform(0.5, 3.0)
        open_ = close * np.exp(rng.normal(0, 0.004, n_days))
        spread = np.abs(rng.normal(0, 0.008, n_days))
        frames.append(pd.DataFrame({
            "date": dates, "ticker": f"S{i:03d}", "open": open_,
            "high": np.maximum(open_, close) * (1 + spread),
            "low": np.minimum(open_, close) * (1 - spread),
            "close": close,
            "volume": rng.lognormal(14, 0.5, n_days).astype("int64"),
        }))
    prices = pd.concat(frames, ignore_index=True)
    prices.attrs["stand_in"] = True
    return prices


def load_or_stand_in(name: str, data: str = "auto", *, n_samples: int | None = None,
                     random_state=0, data_home: DataHome = None, **options):
    """The real data set ``name``, or its synthetic stand-in.

    Parameters
    ----------
    name : str
        ``"credit_default_taiwan"``, ``"vehicle_fraud"``, ``"census_income"``, ``"lending_club"``
        (returns ``X, Y``) or ``"sp500"`` (returns the price panel of ``load_sp500_prices``).
    data : {"auto", "real", "synthetic"}, default "auto"
        "real" calls the loader (downloading missing files); "synthetic" builds the stand-in;
        "auto" uses the real files when they are in the data home, else the stand-in, with a
        warning that says so (it never downloads, so it does not wait on a network).
    n_samples : int, optional
        Rows of a stand-in (for ``"sp500"``: tickers, default 30); ignored for real data.
    random_state : int, default 0
        Seed of a stand-in, and of the real loader where it takes one (census-income's split).
    data_home : str or path-like, optional
    **options :
        Passed to the loader. A stand-in honours ``siblings`` and ``targets`` and ignores the
        rest (``subset``, ``test_size``, ...).
    """
    if data not in DATA_CHOICES:
        raise ValueError(f"data: expected one of {DATA_CHOICES}, got {data!r}")
    if data == "auto":
        data = "real" if has_real_data(name, data_home) else "synthetic"
        if data == "synthetic":
            warnings.warn(
                f"data set {name!r} is not in the data home ({get_data_home(data_home)}); using "
                "its synthetic stand-in, whose results say nothing about the real data. Set "
                "GBMTL_DATA_HOME to a folder holding it, or data='real' to download it",
                UserWarning, stacklevel=2)
    if data == "real":
        import gbmtl.datasets as datasets

        loader = getattr(datasets, "load_sp500_prices" if name == "sp500" else f"load_{name}")
        if "random_state" in inspect.signature(loader).parameters:  # census: its split's seed
            options["random_state"] = random_state
        return loader(data_home=data_home, **options)
    if name == "sp500":
        return make_price_panel(n_samples or 30, random_state=random_state)
    kept = {k: options[k] for k in ("siblings", "targets") if k in options}
    return make_stand_in(name, n_samples, random_state=random_state, **kept)
