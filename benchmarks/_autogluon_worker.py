"""Runs inside AutoGluon's own environment: fit one task, or predict the test rows.

Usage: python _autogluon_worker.py '<json spec>' (see benchmarks/_autogluon.py).
"""

import json
import sys
import time
from pathlib import Path

import pandas as pd
from autogluon.tabular import TabularPredictor

spec = json.loads(sys.argv[1])
folder = Path(spec["dir"])
path = folder / f"ag_{spec['task']}"
kind = spec["kind"]
if spec["mode"] == "fit":
    train = pd.read_parquet(folder / "train.parquet")
    problem = {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}[kind]
    metric = {"binary": "roc_auc", "multiclass": "log_loss",
              "regression": "root_mean_squared_error"}[kind]
    start = time.perf_counter()
    predictor = TabularPredictor(label="__label__", problem_type=problem, eval_metric=metric,
                                 path=str(path), verbosity=0).fit(
        train, time_limit=spec["time_limit"], num_bag_folds=5, num_stack_levels=0,
        hyperparameters={"GBM": {}, "CAT": {}, "XGB": {}},
        ag_args_fit={"num_cpus": spec["threads"], "random_seed": spec["seed"]},
        ag_args_ensemble={"fold_fitting_strategy": "sequential_local"},
    )
    result = {"fit_seconds": time.perf_counter() - start, "best": predictor.model_best}
else:
    predictor = TabularPredictor.load(str(path))
    test = pd.read_parquet(folder / "test.parquet")
    if kind == "regression":
        pred, classes = predictor.predict(test).to_numpy().reshape(-1, 1).tolist(), None
    else:
        proba = predictor.predict_proba(test)
        classes = sorted(proba.columns.tolist())
        pred = proba[classes].to_numpy().tolist()
        classes = [c.item() if hasattr(c, "item") else c for c in classes]
    result = {"pred": pred, "classes": classes}
(folder / "result.json").write_text(json.dumps(result))
