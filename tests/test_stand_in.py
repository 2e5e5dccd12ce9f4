"""Synthetic stand-ins: the real data sets' tasks offline, for notebooks and tuning configs."""

from __future__ import annotations

import warnings

import pytest

from gbmtl.datasets import (
    has_real_data,
    load_or_stand_in,
    load_sp500,
    make_price_panel,
    make_stand_in,
)
from gbmtl.tuning._config import load_config

KINDS = {
    "credit_default_taiwan": {"default": "binary", "pay_0_late": "binary",
                              "log_bill_amt1": "regression", "log_pay_amt1": "regression"},
    "vehicle_fraud": {"fraud": "binary", "fault_policy_holder": "binary",
                      "past_claims": "multiclass"},
    "census_income": {"income_50k": "binary", "never_married": "binary",
                      "education_college": "binary"},
    "lending_club": {"bad": "binary", "int_rate": "regression", "sub_grade": "multiclass"},
}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_a_stand_in_has_the_real_tasks(name):
    X, Y = make_stand_in(name, 2000, random_state=1)
    assert X.shape[0] == 2000 and list(Y.columns) == list(KINDS[name])
    assert Y.attrs["task_kinds"] == KINDS[name] and Y.attrs["stand_in"] is True
    assert not Y.isna().any().any()
    X2, Y2 = make_stand_in(name, 2000, random_state=1)
    assert X.equals(X2) and Y.equals(Y2)


def test_stand_in_rates_and_options():
    _, Y = make_stand_in("vehicle_fraud", 10_000)
    assert Y["fraud"].mean() == pytest.approx(0.06, abs=0.01)
    assert Y["past_claims"].nunique() == 4
    _, Y = make_stand_in("credit_default_taiwan", 500, siblings=False)
    assert list(Y.columns) == ["default"]
    _, Y = make_stand_in("census_income", 500, targets=["never_married"])
    assert list(Y.columns) == ["never_married"]
    with pytest.raises(ValueError, match="targets: expected some of"):
        make_stand_in("census_income", 500, targets=["income"])
    with pytest.raises(ValueError, match="no synthetic stand-in for 'sp500'"):
        make_stand_in("sp500")


def test_auto_uses_the_stand_in_without_the_files_and_says_so(tmp_path):
    assert not has_real_data("credit_default_taiwan", tmp_path)
    with pytest.warns(UserWarning, match="synthetic stand-in"):
        X, Y = load_or_stand_in("credit_default_taiwan", "auto", n_samples=300,
                                data_home=tmp_path)
    assert len(X) == 300 and "default" in Y
    assert not list(tmp_path.iterdir())  # nothing downloaded or written


def test_real_and_bad_choices(tmp_path):
    with pytest.raises(FileNotFoundError, match="credit_default_taiwan"):
        load_or_stand_in("credit_default_taiwan", "real", data_home=tmp_path,
                         download_if_missing=False)
    with pytest.raises(ValueError, match="data: expected one of"):
        load_or_stand_in("credit_default_taiwan", "offline")
    with pytest.raises(ValueError, match="unknown data set"):
        has_real_data("mnist")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_or_stand_in("lending_club", "synthetic", n_samples=100)  # no warning when asked


def test_price_panel_builds_the_forecasting_table():
    prices = make_price_panel(4, 120, random_state=0)
    assert list(prices.columns) == ["date", "ticker", "open", "high", "low", "close", "volume"]
    assert (prices["high"] >= prices["low"]).all() and (prices["close"] > 0).all()
    X, Y = load_sp500(prices=prices, horizon=5)
    assert list(Y.columns) == ["ret_fwd", "vol_fwd"] and not Y.isna().any().any()
    assert X.index.names == ["date", "ticker"] and X["ticker"].nunique() == 4
    X2, _ = load_sp500(prices=prices, tickers=["S000", "S002"])
    assert X2["ticker"].nunique() == 2
    with pytest.raises(ValueError, match="missing columns"):
        load_sp500(prices=prices.drop(columns="volume"))


def test_tuning_config_falls_back_to_the_stand_in(tmp_path, monkeypatch):
    monkeypatch.setenv("GBMTL_DATA_HOME", str(tmp_path / "empty"))
    cfg = tmp_path / "c.toml"
    cfg.write_text('[data]\nloader = "census_income"\nsource = "auto"\n'
                   'options = { subset = "train", random_state = 0 }\n'
                   '[tasks.income_50k]\nkind = "binary"\n[tasks.never_married]\nkind = "binary"\n')
    with pytest.warns(UserWarning, match="stand-in"):
        config = load_config(cfg)
    assert list(config.Y.columns) == ["income_50k", "never_married"]
    cfg.write_text('[data]\nloader = "census_income"\nsource = "maybe"\n')
    with pytest.raises(ValueError, match=r"\[data\] source: expected one of"):
        load_config(cfg)


def test_the_example_config_runs_offline(tmp_path, monkeypatch):
    from tests.conftest import REPO_ROOT

    monkeypatch.setenv("GBMTL_DATA_HOME", str(tmp_path))
    with pytest.warns(UserWarning, match="stand-in"):
        config = load_config(REPO_ROOT / "examples" / "tune_census.toml")
    assert list(config.Y.columns) == ["income_50k", "never_married"]
