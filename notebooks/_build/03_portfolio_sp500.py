# ruff: noqa: E402, B018  (percent-format notebook source: imports per cell, cells end in a display)
# %% [markdown]
# # Portfolio construction from multi-task return and volatility forecasts (S&P 500)
#
# We forecast, for every stock and every date, two quantities over the next five trading days:
# the log return (`ret_fwd`) and the realised volatility (`vol_fwd`). Both come from the same
# price history, so they are natural sibling tasks: a stock that is about to be volatile tends to
# have a wider spread of returns, and recent volatility is informative for both.
#
# **How "many assets" become tasks.** `load_sp500` gives one row per (date, ticker). We pool all
# tickers into one table and keep **two tasks, `ret_fwd` and `vol_fwd`**, with `ticker` as a
# categorical feature. The alternative, one task per asset in wide format, would give hundreds of
# tasks with about 1,200 rows each: too few for a tree model, and the cross-asset structure
# (common volatility regimes, mean reversion that works alike across names) would have to be
# rediscovered by each model. Pooling lets every tree learn from all assets; the multi-task
# part is the pair of related targets on each row.
#
# **Protocol.** Walk-forward only: each model is trained on dates strictly before its test block,
# with a gap of `horizon` dates so that no training target window overlaps a test date. Inside the
# multi-task model the out-of-fold sibling predictions are walk-forward as well. Every `horizon`
# days inside the test blocks we rebalance a long-only portfolio from the forecasts and hold it
# for `horizon` days (non-overlapping holding periods).
#
# We compare three portfolios, after transaction costs:
#
# - **gbmtl**: mean-variance weights from `MultiTaskBooster` forecasts (`sharing="auto"`);
# - **independent**: the same allocator fed by one LightGBM per task (`sharing="none"`);
# - **equal weight**: 1/N in every stock, rebalanced on the same dates.

# %%
# Parameters: small defaults keep the notebook fast; GBMTL_NOTEBOOK_SIZE=full runs the full study.
import os

FULL = os.environ.get("GBMTL_NOTEBOOK_SIZE", "small") == "full"
# Data: "real" reads the data set from the data home (GBMTL_DATA_HOME), downloading it if missing;
# "synthetic" uses a stand-in with the same tasks (runs offline; its numbers say nothing about
# the real data); "auto" takes the real files when present, else the stand-in, with a warning.
DATA = os.environ.get("GBMTL_NOTEBOOK_DATA", "auto")  # "real", "synthetic" or "auto" (below)
N_TICKERS = 80 if FULL else 30       # stocks in the universe (the first N in alphabetical order)
N_SPLITS = 6 if FULL else 3          # walk-forward test blocks
TEST_DAYS = 60 if FULL else 40       # trading days per test block
HORIZON = 5                          # forecast horizon and holding period, in trading days
COST_BPS = 10.0                      # transaction cost per unit of turnover, in basis points
RISK_AVERSION = 10.0                 # gamma of the mean-variance utility w'mu - gamma/2 w'Sigma w
MAX_WEIGHT = 0.10                    # cap per stock (long only, fully invested)
COV_DAYS = 252                       # trailing daily returns for the Ledoit-Wolf correlation
PARAMS = {"learning_rate": 0.05 if FULL else 0.1, "num_leaves": 15, "min_child_samples": 200,
          "n_estimators": 500 if FULL else 150, "verbose": -1}
SEED = 0

# %%
import warnings

# Progress bars fall back to text without ipywidgets; silence the notice about it.
warnings.filterwarnings("ignore", message="IProgress not found")

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.covariance import LedoitWolf

import gbmtl
from gbmtl.datasets import load_or_stand_in, load_sp500
from gbmtl.metrics import task_score
from gbmtl.model_selection import WalkForwardSplit

pd.set_option("display.precision", 4)

# %% [markdown]
# ## Data
#
# Features are known at the close of the row's date (past returns, volatilities, moving-average
# gaps, range, volume); targets look `HORIZON` days ahead. The universe is fixed in advance (the
# first `N_TICKERS` names alphabetically), so it does not depend on later performance, but it
# holds only names that were still in the S&P 500 in 2018: a survivorship bias that flatters
# every portfolio here, equal weight included.

# %%
all_prices = load_or_stand_in("sp500", DATA, n_samples=N_TICKERS)  # stand-in: N_TICKERS tickers
tickers = sorted(all_prices["ticker"].unique())[:N_TICKERS]
X, Y = load_sp500(tickers=tickers, horizon=HORIZON, prices=all_prices)
dates = X.index.get_level_values("date")
print(f"{len(X):,} rows, {X['ticker'].nunique()} tickers, {dates.nunique()} dates "
      f"({dates.min():%Y-%m-%d} .. {dates.max():%Y-%m-%d})")
X.head()

# %% [markdown]
# ## Walk-forward forecasts
#
# `WalkForwardSplit` works on unique dates, so all stocks of a date fall on the same side. The
# same splitter type (on the training dates only) gives the booster its out-of-fold sibling
# predictions: the booster receives the dates through `groups`, so the earliest training dates
# get no sibling prediction (missing values, which the trees handle). The booster's
# early-stopping rows are a random 20 % of the training *dates*; their five-day targets overlap
# those of neighbouring training dates, which can make early stopping slightly optimistic but
# never touches the test block.

# %%
outer = WalkForwardSplit(n_splits=N_SPLITS, test_size=TEST_DAYS, gap=HORIZON)
groups = np.asarray(dates)


def make_model(sharing):
    inner = WalkForwardSplit(n_splits=3, gap=HORIZON)
    return gbmtl.MultiTaskBooster(tasks={"ret_fwd": "regression", "vol_fwd": "regression"},
                                  sharing=sharing, cv=inner, params=PARAMS,
                                  random_state=SEED)


forecasts = {"gbmtl": [], "independent": []}
reports = []
start = time.perf_counter()
for fold, (train, test) in enumerate(outer.split(X, groups=groups)):
    for name, sharing in [("gbmtl", "auto"), ("independent", "none")]:
        model = make_model(sharing).fit(X.iloc[train], Y.iloc[train], groups=groups[train])
        forecasts[name].append(model.predict(X.iloc[test]))
        if name == "gbmtl":
            reports.append(model.sharing_report_.assign(fold=fold))
print(f"walk-forward fits: {time.perf_counter() - start:.0f} s")
forecasts = {k: pd.concat(v) for k, v in forecasts.items()}
test_index = forecasts["gbmtl"].index
pd.concat(reports).reset_index()[["fold", "task", "mechanism", "gain", "gain_se", "decision"]]

# %% [markdown]
# `sharing_report_` tells, per fold, whether each task kept its sibling: the gain is measured on
# the task's own validation dates and the sibling is kept only when it beats 1.5 standard errors.
#
# ### Forecast quality
#
# For returns, what matters to an allocator is the **cross-sectional ordering**: the rank
# correlation between forecast and realised return across stocks on a date (the information
# coefficient, IC), averaged over test dates. For volatility we use the skill score
# `1 - RMSE / std(y)` (0 = no better than the mean).

# %%
realised = Y.loc[test_index]


def mean_ic(pred, real):
    frame = pd.DataFrame({"p": pred, "y": real})
    ics = frame.groupby(level="date").apply(lambda g: g["p"].rank().corr(g["y"].rank()))
    return ics.mean(), ics.std() / np.sqrt(len(ics))


quality = {}
for name, pred in forecasts.items():
    ic, ic_se = mean_ic(pred["ret_fwd"], realised["ret_fwd"])
    quality[name] = {
        "return IC (mean)": ic,
        "return IC (s.e.)": ic_se,
        "return skill": task_score("regression", realised["ret_fwd"], pred["ret_fwd"]),
        "volatility skill": task_score("regression", realised["vol_fwd"], pred["vol_fwd"]),
    }
quality = pd.DataFrame(quality)
quality

# %% [markdown]
# Expect a volatility skill above zero (volatility clusters, so it is partly forecastable; the
# skill stays modest because realised five-day volatility is noisy) and a return IC of a few
# hundredths at best, often within two standard errors of zero: five-day stock returns are
# close to unpredictable from price and volume alone.
#
# ## From forecasts to weights
#
# On each rebalance date `t` (every `HORIZON`-th test date) we solve a long-only mean-variance
# problem with `scipy.optimize.minimize` (SLSQP):
#
# maximise `w'mu - (gamma/2) w'Sigma w` subject to `sum(w) = 1` and `0 <= w <= MAX_WEIGHT`,
#
# where `mu` is the forecast `HORIZON`-day log return and `Sigma = D R D`: `R` is the
# Ledoit-Wolf shrunk correlation of the last `COV_DAYS` daily returns (all known at `t`) and `D`
# the forecast volatility over the horizon, `vol_fwd * sqrt(HORIZON)`. Both forecast tasks feed
# the allocation. Realised returns over the holding period are `exp(ret_fwd) - 1`. Transaction
# costs of `COST_BPS` basis points are charged on turnover `sum |w_new - w_drifted|`, where
# `w_drifted` is the previous portfolio after its holding-period returns.

# %%
daily = all_prices.pivot(index="date", columns="ticker", values="close")[tickers]
daily_ret = np.log(daily).diff()


def correlation(t):
    window = daily_ret.loc[:t].iloc[-COV_DAYS:].dropna(axis=1, how="any")
    cov = LedoitWolf().fit(window.to_numpy()).covariance_
    sd = np.sqrt(np.diag(cov))
    return pd.DataFrame(cov / np.outer(sd, sd), index=window.columns, columns=window.columns)


def mean_variance(mu, vol, corr):
    names = mu.index.intersection(corr.index)
    mu, sd = mu[names].to_numpy(), vol[names].to_numpy() * np.sqrt(HORIZON)
    sigma = corr.loc[names, names].to_numpy() * np.outer(sd, sd)
    n = len(names)
    cap = max(MAX_WEIGHT, 1.0 / n)

    def loss(w):
        return -(w @ mu) + 0.5 * RISK_AVERSION * w @ sigma @ w

    def grad(w):
        return -mu + RISK_AVERSION * sigma @ w

    res = minimize(loss, np.full(n, 1.0 / n), jac=grad, method="SLSQP",
                   bounds=[(0.0, cap)] * n,
                   constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0,
                                 "jac": lambda w: np.ones_like(w)}],
                   options={"maxiter": 200, "ftol": 1e-12})
    w = np.clip(res.x, 0.0, None)
    return pd.Series(w / w.sum(), index=names)


test_dates = test_index.get_level_values("date").unique().sort_values()
blocks = np.array_split(test_dates, N_SPLITS)
rebalance = [d for block in blocks for d in block[::HORIZON]]
print(f"{len(rebalance)} rebalance dates, {rebalance[0]:%Y-%m-%d} .. {rebalance[-1]:%Y-%m-%d}")

# %%
def backtest(weights_at):
    rows, prev = [], None
    for t in rebalance:
        real = realised.xs(t, level="date")
        w = weights_at(t).reindex(real.index).fillna(0.0)
        w = w / w.sum()
        gross = np.exp(real["ret_fwd"]) - 1.0
        turnover = w.abs().sum() if prev is None else (w - prev.reindex(w.index).fillna(0)).abs().sum()
        ret = float(w @ gross)
        cost = turnover * COST_BPS / 1e4
        drifted = w * (1.0 + gross)
        prev = drifted / drifted.sum()
        rows.append({"date": t, "gross": ret, "turnover": turnover, "net": ret - cost})
    return pd.DataFrame(rows).set_index("date")


def forecast_weights(name):
    pred = forecasts[name]

    def weights_at(t):
        p = pred.xs(t, level="date")
        return mean_variance(p["ret_fwd"], p["vol_fwd"], correlation(t))

    return weights_at


def equal_weights(t):
    names = realised.xs(t, level="date").index
    return pd.Series(1.0 / len(names), index=names)


start = time.perf_counter()
results = {"gbmtl": backtest(forecast_weights("gbmtl")),
           "independent": backtest(forecast_weights("independent")),
           "equal weight": backtest(equal_weights)}
print(f"backtests: {time.perf_counter() - start:.0f} s")

# %% [markdown]
# ## Out-of-sample results
#
# Sharpe ratios are annualised from `HORIZON`-day net returns (`sqrt(252 / HORIZON)`), without
# a risk-free rate; turnover is the average one-way turnover per rebalance (the first, from
# cash, included).

# %%
periods_per_year = 252 / HORIZON


def summary(res):
    net = res["net"]
    wealth = (1 + net).cumprod()
    drawdown = wealth / wealth.cummax() - 1
    return pd.Series({
        "annual return (net)": wealth.iloc[-1] ** (periods_per_year / len(net)) - 1,
        "annual volatility": net.std() * np.sqrt(periods_per_year),
        "Sharpe (net)": net.mean() / net.std() * np.sqrt(periods_per_year),
        "Sharpe (gross)": res["gross"].mean() / res["gross"].std() * np.sqrt(periods_per_year),
        "max drawdown": drawdown.min(),
        "turnover per rebalance": res["turnover"].mean(),
        "cost per year": (res["gross"] - net).mean() * periods_per_year,
    })


table = pd.DataFrame({name: summary(res) for name, res in results.items()})
table

# %%
fig, ax = plt.subplots(figsize=(9, 4))
for name, res in results.items():
    ax.plot(res.index, (1 + res["net"]).cumprod(), label=name)
ax.set_ylabel("wealth (net of costs)")
ax.set_title(f"Out-of-sample equity curves, {N_TICKERS} stocks, {COST_BPS:g} bps per unit turnover")
ax.legend()
plt.show()

# %% [markdown]
# ## Reading the results
#
# Figures quoted here are from the full run (`GBMTL_NOTEBOOK_SIZE=full`: 80 stocks, six test
# blocks of 60 days, 72 rebalances from August 2016 to January 2018, 10 bps per unit turnover).
#
# - **Equal weight wins clearly**: net Sharpe 2.98, maximum drawdown -2.6 %, turnover 0.04 per
#   rebalance. The gbmtl portfolio reaches a net Sharpe of 1.10 (gross 1.66), drawdown -8.6 %;
#   the independent-model portfolio 0.98 (gross 1.53), drawdown -9.4 %. Both forecast
#   portfolios turn over about 1.3 of the book per rebalance, which costs about 6.5 % a year.
# - **gbmtl beats the independent models, slightly**: +0.12 net Sharpe, a smaller drawdown.
#   Over 72 rebalances that difference is well within sampling error.
# - **The return forecasts carry no usable signal**: the mean cross-sectional IC is -0.014
#   (standard error 0.007) for gbmtl and -0.015 for the independent model; the return skill is
#   below zero. The volatility forecasts are modestly informative (skill 0.075 against 0.075).
#   Stacking was kept for `vol_fwd` in all six folds and for `ret_fwd` in three.
# - Survivorship bias and a strong 2016-2017 market flatter every portfolio's level; the
#   ranking is the result to read.
# - To make the forecasts pay, an analyst would shrink `mu` toward zero (a larger
#   `RISK_AVERSION`), trade less often, or use only the volatility forecast for risk
#   budgeting. As it stands, these forecasts do not justify leaving equal weight.
