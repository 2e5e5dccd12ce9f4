"""Loaders on the real data sets (skipped when the data folder is absent)."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from gbmtl.datasets._loaders import (
    load_census_income,
    load_credit_default_taiwan,
    load_lending_club,
    load_vehicle_fraud,
)
from gbmtl.datasets._sp500 import load_sp500, load_sp500_prices
from gbmtl.tasks import resolve_tasks

SP500_FILE = "sp500_stocks_5yr/all_stocks_5yr.csv.gz"


def _check_common(X: pd.DataFrame, Y: pd.DataFrame, tasks: dict[str, str], dropped: set[str]):
    assert list(Y.columns) == list(tasks)
    assert Y.attrs["task_kinds"] == tasks
    assert X.index.equals(Y.index)
    assert not set(Y.columns) & set(X.columns)
    assert not dropped & set(X.columns)
    text = [c for c in X.columns if X[c].dtype == object or isinstance(X[c].dtype, pd.StringDtype)]
    assert not text, f"text columns left as str: {text}"
    resolved = resolve_tasks(Y.attrs["task_kinds"], Y, "lightgbm")
    assert [t.kind for t in resolved] == list(tasks.values())


# --- census-income ---------------------------------------------------------------------------

CENSUS_TASKS = dict.fromkeys(["income_50k", "never_married", "education_college"], "binary")
CENSUS_TARGET_COLUMNS = {"income", "marital_stat", "education", "instance_weight"}
CENSUS_PROXIES = {
    "detailed_household_and_family_stat",
    "detailed_household_summary_in_household",
    "tax_filer_stat",
}


@pytest.fixture(scope="module")
def census_all(data_home):
    return load_census_income(subset="all", data_home=data_home, download_if_missing=False)


def test_census_all(census_all):
    X, Y = census_all
    assert X.shape == (99_762, 35)
    _check_common(X, Y, CENSUS_TASKS, CENSUS_TARGET_COLUMNS | CENSUS_PROXIES)
    assert Y.mean().round(3).to_dict() == {
        "income_50k": 0.062,
        "never_married": 0.432,
        "education_college": 0.147,
    }
    assert X.attrs["protocol"] == "test-file-seeded-split(seed=0, test_size=0.5)"
    assert X["hispanic_origin"].cat.categories.str.fullmatch("NA").any()  # kept as a category
    assert X["migration_code_change_in_msa"].isna().sum() == 49_946  # "?" -> NaN
    assert isinstance(X["detailed_industry_recode"].dtype, pd.CategoricalDtype)


def test_census_seeded_split_is_a_partition(data_home, census_all):
    kw = dict(data_home=data_home, download_if_missing=False, random_state=3, test_size=0.3)
    X_train, Y_train = load_census_income(subset="train", **kw)
    X_test, _ = load_census_income(subset="test", **kw)
    assert len(X_test) == round(0.3 * 99_762)
    assert len(X_train) + len(X_test) == 99_762
    assert not set(X_train.index) & set(X_test.index)
    assert X_train.attrs["protocol"] == "test-file-seeded-split(seed=3, test_size=0.3)"
    # same categories in both subsets, so the coding matches at predict time
    assert (
        X_train["state_of_previous_residence"].dtype == X_test["state_of_previous_residence"].dtype
    )
    again, _ = load_census_income(subset="test", **kw)
    assert again.index.equals(X_test.index)


def test_census_keep_proxies(data_home):
    X, _ = load_census_income(
        subset="test", drop_proxies=False, data_home=data_home, download_if_missing=False
    )
    assert X.shape[1] == 38 and CENSUS_PROXIES <= set(X.columns)


def test_census_uses_train_file_when_present(data_home, tmp_path):
    folder = tmp_path / "census_income_kdd"
    folder.mkdir()
    test_file = data_home / "census_income_kdd" / "census-income.test.csv.gz"
    (folder / test_file.name).symlink_to(test_file)
    with gzip.open(test_file, "rt") as fh:  # a stand-in train file without header line
        next(fh)
        lines = [next(fh) for _ in range(500)]
    with gzip.open(folder / "census-income.data.csv.gz", "wt") as fh:
        fh.writelines(lines)
    kw = dict(data_home=tmp_path, download_if_missing=False)
    X_train, Y_train = load_census_income(subset="train", **kw)
    assert X_train.attrs["protocol"] == "uci-train-test"
    assert X_train.shape == (500, 35) and Y_train.shape == (500, 3)
    X_test, _ = load_census_income(subset="test", protocol="uci-train-test", **kw)
    assert len(X_test) == 99_762
    forced, _ = load_census_income(subset="test", protocol="test-file-seeded-split", **kw)
    assert forced.attrs["protocol"].startswith("test-file-seeded-split")


def test_census_argument_errors(data_home):
    with pytest.raises(ValueError, match="subset"):
        load_census_income(subset="valid", data_home=data_home)
    with pytest.raises(ValueError, match="protocol"):
        load_census_income(protocol="mmoe", data_home=data_home)


def test_census_uci_protocol_without_train_file(data_home):
    with pytest.raises(FileNotFoundError, match="census-income.data.csv.gz"):
        load_census_income(
            protocol="uci-train-test", data_home=data_home, download_if_missing=False
        )


# --- Taiwan credit default -------------------------------------------------------------------


def test_credit_default_taiwan(data_home):
    X, Y = load_credit_default_taiwan(data_home=data_home, download_if_missing=False)
    tasks = {
        "default": "binary",
        "pay_0_late": "binary",
        "log_bill_amt1": "regression",
        "log_pay_amt1": "regression",
    }
    _check_common(
        X, Y, tasks, {"ID", "default payment next month", "PAY_0", "BILL_AMT1", "PAY_AMT1"}
    )
    assert X.shape == (30_000, 20)
    assert Y["default"].mean() == pytest.approx(0.221, abs=0.001)
    assert Y["pay_0_late"].mean() == pytest.approx(0.227, abs=0.001)
    assert (Y["log_pay_amt1"] >= 0).all() and (Y["log_bill_amt1"] < 0).any()
    assert isinstance(X["EDUCATION"].dtype, pd.CategoricalDtype)


def test_credit_default_taiwan_single_task(data_home):
    X, Y = load_credit_default_taiwan(
        siblings=False, data_home=data_home, download_if_missing=False
    )
    assert list(Y.columns) == ["default"] and Y.attrs["task_kinds"] == {"default": "binary"}
    assert {"PAY_0", "BILL_AMT1", "PAY_AMT1"} <= set(X.columns) and "ID" not in X
    assert X.shape == (30_000, 23)


# --- Lending Club ----------------------------------------------------------------------------


def test_lending_club(data_home):
    X, Y = load_lending_club(data_home=data_home, download_if_missing=False)
    tasks = {"bad": "binary", "int_rate": "regression", "sub_grade": "multiclass"}
    _check_common(X, Y, tasks, {"Class", "int_rate", "sub_grade"})
    assert X.shape == (9_857, 20)
    assert X.index.name == "rownames" and X.index[0] == 1
    assert Y["bad"].mean() == pytest.approx(517 / 9_857)
    grades = Y["sub_grade"].cat.categories
    assert Y["sub_grade"].cat.ordered and len(grades) == 35
    assert grades[0] == "A1" and grades[-1] == "G5"
    # the interest rate rises with the sub-grade (a sanity check of the pairing)
    by_grade = Y.groupby("sub_grade", observed=True)["int_rate"].median()
    assert by_grade.is_monotonic_increasing


# --- vehicle insurance fraud -----------------------------------------------------------------


def test_vehicle_fraud(data_home):
    X, Y = load_vehicle_fraud(data_home=data_home, download_if_missing=False)
    tasks = {"fraud": "binary", "fault_policy_holder": "binary", "past_claims": "multiclass"}
    _check_common(X, Y, tasks, {"FraudFound_P", "PolicyNumber", "Fault", "PastNumberOfClaims"})
    assert X.shape == (15_420, 29)
    assert Y["fraud"].mean() == pytest.approx(0.060, abs=0.001)
    assert Y["fault_policy_holder"].mean() == pytest.approx(11_230 / 15_420)
    assert list(Y["past_claims"].cat.categories) == ["none", "1", "2 to 4", "more than 4"]
    assert Y["past_claims"].notna().all()


def test_vehicle_fraud_single_task(data_home):
    X, Y = load_vehicle_fraud(siblings=False, data_home=data_home, download_if_missing=False)
    assert list(Y.columns) == ["fraud"]
    assert {"Fault", "PastNumberOfClaims"} <= set(X.columns) and X.shape[1] == 31


# --- S&P 500 ---------------------------------------------------------------------------------

TICKERS = ["AAPL", "MSFT", "XOM"]


@pytest.fixture(scope="module")
def sp500_small(data_home):
    return load_sp500(tickers=TICKERS, data_home=data_home, download_if_missing=False)


def test_sp500_prices(data_home):
    long = load_sp500_prices(tickers=TICKERS, data_home=data_home, download_if_missing=False)
    assert list(long.columns) == ["date", "ticker", "open", "high", "low", "close", "volume"]
    assert sorted(long["ticker"].unique()) == TICKERS and len(long) == 3 * 1_259
    assert long["date"].min() == pd.Timestamp("2013-02-08")
    assert long["date"].max() == pd.Timestamp("2018-02-07")
    wide = load_sp500_prices(
        tickers=TICKERS, field="close", data_home=data_home, download_if_missing=False
    )
    assert wide.shape == (1_259, 3) and list(wide.columns) == TICKERS
    with pytest.raises(ValueError, match="unknown tickers"):
        load_sp500_prices(tickers=["NOPE"], data_home=data_home, download_if_missing=False)


def test_sp500_table(sp500_small):
    X, Y = sp500_small
    _check_common(X, Y, {"ret_fwd": "regression", "vol_fwd": "regression"}, {"close"})
    assert X.index.names == ["date", "ticker"]
    assert X.index.is_monotonic_increasing
    assert len(X) == 3 * (1_259 - 21 - 5)
    assert X.index.get_level_values("date").min() == pd.Timestamp("2013-03-12")
    assert X.index.get_level_values("date").max() == pd.Timestamp("2018-01-31")
    assert not Y.isna().any().any() and (Y["vol_fwd"] > 0).all()
    assert X.attrs["horizon"] == 5


def test_sp500_targets_match_prices(data_home, sp500_small):
    _, Y = sp500_small
    close = load_sp500_prices(
        tickers=["AAPL"], field="close", data_home=data_home, download_if_missing=False
    )["AAPL"]
    log_close = np.log(close)
    r = log_close.diff()
    date = pd.Timestamp("2016-05-02")
    i = close.index.get_loc(date)
    row = Y.loc[(date, "AAPL")]
    assert row["ret_fwd"] == pytest.approx(log_close.iloc[i + 5] - log_close.iloc[i])
    assert row["vol_fwd"] == pytest.approx(np.sqrt((r.iloc[i + 1 : i + 6] ** 2).mean()))


def test_sp500_features_use_no_future_data(data_home, tmp_path, sp500_small):
    """Features up to a cut-off date do not change when the later prices are removed."""
    cutoff = pd.Timestamp("2015-06-30")
    prices = pd.read_csv(data_home / SP500_FILE, parse_dates=["date"])
    prices = prices[prices["Name"].isin(TICKERS) & (prices["date"] <= cutoff)]
    (tmp_path / "sp500_stocks_5yr").mkdir()
    prices.to_csv(tmp_path / SP500_FILE, index=False)
    X_cut, _ = load_sp500(
        tickers=TICKERS, dropna=False, data_home=tmp_path, download_if_missing=False
    )
    X_full, _ = sp500_small
    common = X_full.index[X_full.index.get_level_values("date") <= cutoff]
    assert len(common) > 1_000
    pd.testing.assert_frame_equal(X_cut.loc[common], X_full.loc[common], check_freq=False)


def test_sp500_dropna_false_keeps_every_row(data_home):
    X, Y = load_sp500(
        tickers=["AAPL"],
        horizon=3,
        windows=(10,),
        dropna=False,
        data_home=data_home,
        download_if_missing=False,
    )
    assert len(X) == 1_259
    assert Y["ret_fwd"].isna().sum() == 3 and {"ret_10d", "vol_10d"} <= set(X.columns)


def test_sp500_argument_errors(data_home):
    with pytest.raises(ValueError, match="horizon"):
        load_sp500(tickers=["AAPL"], horizon=0, data_home=data_home)
    with pytest.raises(ValueError, match="windows"):
        load_sp500(tickers=["AAPL"], windows=(1,), data_home=data_home)


def test_sp500_all_tickers(data_home):
    X, Y = load_sp500(data_home=data_home, download_if_missing=False)
    assert X["ticker"].nunique() == 505
    assert len(X) > 590_000
    assert np.isfinite(Y.to_numpy()).all()
