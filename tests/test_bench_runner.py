"""Smoke tests of the benchmark runner (``python -m benchmarks.run --quick``)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from benchmarks import run
from benchmarks._protocols import label_scarce, load_splits
from benchmarks._report import COLUMNS


def _check_outputs(paths, models):
    for key in ("csv", "json", "md", "png"):
        assert paths[key].is_file(), paths[key]
    runs = pd.read_csv(paths["csv"])
    assert list(runs.columns) == COLUMNS
    assert set(runs["model"]) == set(models)
    ok = runs[runs["status"] == "ok"]
    assert len(ok) and ok["value"].notna().all()
    assert (ok["fit_seconds"] > 0).all() and (ok["predict_seconds"] > 0).all()
    records = json.loads(paths["json"].read_text())
    assert len(records) == len(runs) and set(records[0]) == set(COLUMNS)
    assert "± " in paths["md"].read_text() or "| model |" in paths["md"].read_text()
    return runs


def test_quick_synthetic_all_models(tmp_path):
    models = ["gbmtl", "lightgbm", "chain", "xgb_multi", "mmoe"]
    paths = run.main(["--dataset", "synthetic", "--quick", "--models", ",".join(models),
                      "--out", str(tmp_path)])
    runs = _check_outputs(paths, models)
    assert paths["csv"].name == "bench_synthetic_quick.csv"
    assert set(runs["metric"]) == {"rmse"}  # the synthetic tasks are regressions
    assert (runs["status"] == "ok").all()


def test_quick_label_scarce_synthetic(tmp_path):
    models = ["lightgbm"]
    paths = run.main(["--dataset", "synthetic", "--quick", "--models", ",".join(models),
                      "--fractions", "0.1,1.0", "--out", str(tmp_path)])
    runs = _check_outputs(paths, models)
    assert sorted(runs["labelled_fraction"].unique()) == [0.1, 1.0]
    main = runs[(runs["task"] == "y0") & (runs["model"] == "lightgbm")].set_index("labelled_fraction")
    assert main.loc[0.1, "n_train_labelled"] < main.loc[1.0, "n_train_labelled"]


def test_label_scarce_keeps_siblings_and_test_labels():
    split = load_splits("synthetic", 0, quick=True)[0]
    scarce = label_scarce(split, 0.1, seed=0)
    assert scarce.Y_train["y0"].notna().sum() == pytest.approx(0.1 * len(split.Y_train), abs=1)
    assert scarce.Y_train["y1"].notna().all() and scarce.Y_test.notna().all().all()
    again = label_scarce(split, 0.1, seed=0)
    np.testing.assert_array_equal(scarce.Y_train["y0"].isna(), again.Y_train["y0"].isna())


def test_quick_census(tmp_path, data_home):
    models = ["gbmtl", "lightgbm", "chain", "xgb_multi", "mmoe"]
    paths = run.main(["--dataset", "census_income", "--quick", "--models", ",".join(models),
                      "--data-home", str(data_home), "--out", str(tmp_path)])
    runs = _check_outputs(paths, models)
    assert set(runs["task"]) == {"income_50k", "never_married"}
    assert set(runs["metric"]) == {"auc"}
    assert runs["protocol"].str.contains("test-file-seeded-split").all()


def test_not_applicable_is_recorded(tmp_path, data_home):
    paths = run.main(["--dataset", "vehicle_fraud", "--quick", "--models", "lightgbm,chain",
                      "--data-home", str(data_home), "--out", str(tmp_path)])
    runs = pd.read_csv(paths["csv"])
    chain = runs[runs["model"] == "chain"]
    assert (chain["status"] == "not applicable").all() and chain["value"].isna().all()
    assert "Not run" in paths["md"].read_text()
