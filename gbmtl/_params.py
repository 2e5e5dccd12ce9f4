"""Checking backend parameters before any model trains.

The backends take unknown names in silence (their warnings are switched off, as they would flood
a fit of dozens of models), so a misspelled ``num_leafs`` would simply do nothing, and a tuning
sweep over it would spend its budget on noise. The names are checked here against the
libraries' own parameter lists: LightGBM's table of parameters and aliases, and the names in
XGBoost's saved configurations. The objective must fit the task's kind and keep raw scores in
the space gbmtl reads them in (log-odds, class margins, values).
"""

from __future__ import annotations

import difflib
import functools
import json
import numbers
from typing import Any

#: Objectives gbmtl can read per kind (raw scores are log-odds, per-class margins or values;
#: log-link regressions such as Poisson or Tweedie would be read wrongly, so they are refused).
OBJECTIVES = {
    "binary": {"binary", "binary:logistic"},
    "multiclass": {"multiclass", "softmax", "multi:softprob", "multi:softmax"},
    "regression": {"regression", "regression_l2", "l2", "mean_squared_error", "mse",
                   "l2_root", "root_mean_squared_error", "rmse", "regression_l1", "l1",
                   "mean_absolute_error", "mae", "huber", "fair", "quantile", "mape",
                   "mean_absolute_percentage_error", "reg:squarederror", "reg:absoluteerror",
                   "reg:pseudohubererror", "reg:quantileerror"},
}
_OBJECTIVE_NAMES = {"lightgbm": {"objective", "objective_type", "app", "application", "loss"},
                    "xgboost": {"objective"}}
#: Parameters that must be numbers (under any of their names).
_NUMERIC = {"learning_rate", "eta", "shrinkage_rate", "num_leaves", "max_depth",
            "min_child_samples", "min_data_in_leaf", "min_child_weight", "lambda_l1",
            "lambda_l2", "reg_alpha", "reg_lambda", "lambda", "alpha", "feature_fraction",
            "colsample_bytree", "bagging_fraction", "subsample", "min_split_gain", "gamma",
            "max_bin", "scale_pos_weight", "bagging_freq", "min_sum_hessian_in_leaf"}
#: Names gbmtl itself reads (rounds) or sets for every model, allowed with both backends.
_OWN = {"n_estimators", "num_boost_round", "num_iterations", "num_round", "num_trees",
        "verbose", "verbosity", "n_jobs", "nthread", "num_threads", "seed", "random_state"}


@functools.cache
def lightgbm_names() -> frozenset[str] | None:
    """Every LightGBM parameter name and alias (None where the library does not list them)."""
    try:
        return frozenset(_lightgbm_canonical())
    except (ImportError, AttributeError):  # a LightGBM without its parameter table
        return None


@functools.cache
def _lightgbm_canonical() -> dict[str, str]:
    """Every LightGBM name and alias, mapped to the parameter's main name."""
    from lightgbm.basic import _ConfigAliases

    out: dict[str, str] = {}
    for param, aliases in _ConfigAliases._get_all_param_aliases().items():
        out.update({alias: param for alias in aliases})
        out[param] = param
    return out


def _suggestion(name: str, backend: str, known: frozenset[str] | set[str]) -> str:
    """``; did you mean 'x'?`` with the main name of the closest known parameter, or ''."""
    close = difflib.get_close_matches(name, sorted(known), n=1)
    if not close:
        return ""
    main = _lightgbm_canonical().get(close[0], close[0]) if backend == "lightgbm" else close[0]
    return f"; did you mean {main!r}?"


@functools.cache
def xgboost_names() -> frozenset[str]:
    import numpy as np
    import xgboost as xgb

    names: set[str] = {"verbosity", "eval_metric", "validate_parameters", "nthread", "seed",
                       "max_cat_threshold", "max_cat_to_onehot", "enable_categorical"}
    X = xgb.DMatrix(np.zeros((4, 2)), label=[0, 1, 0, 1])

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                names.add(key)
                walk(value)

    for extra in ({}, {"booster": "dart"}, {"objective": "reg:quantileerror", "quantile_alpha": 0.5},
                  {"objective": "reg:pseudohubererror"}, {"objective": "reg:tweedie"},
                  {"booster": "gblinear"}):
        booster = xgb.train({"verbosity": 0, **extra}, X, 1)
        walk(json.loads(booster.save_config()))
    return frozenset(names)


def known_to(backend: str, name: str) -> bool:
    """Whether ``backend`` takes a parameter called ``name`` (True where it cannot tell)."""
    listed = lightgbm_names() if backend == "lightgbm" else xgboost_names()
    return listed is None or name in listed or name in _OWN


def for_backend(where: str, backend: str, params: dict[str, Any]) -> dict[str, Any]:
    """The estimator-wide ``params`` that ``backend`` takes: with tasks on both backends, a
    LightGBM name is meant for the LightGBM tasks. A name no backend knows is an error."""
    out = {}
    for name, value in params.items():
        if known_to(backend, name):
            out[name] = value
        elif not any(known_to(b, name) for b in ("lightgbm", "xgboost")):
            check_params(where, None, backend, {name: value})  # raises, with a suggestion
    return out


def check_params(where: str, kind: str | None, backend: str,
                 params: dict[str, Any]) -> None:
    """Raise a ValueError naming the task and parameter for an unknown name, a non-numeric
    value of a numeric parameter, or an objective that does not fit the task's kind."""
    listed = lightgbm_names() if backend == "lightgbm" else xgboost_names()
    known = None if listed is None else listed | _OWN
    for name, value in params.items():
        if known is not None and name not in known:
            hint = _suggestion(name, backend, known)
            raise ValueError(f"{where}: {name!r} is not a {backend} parameter{hint}")
        if name in _NUMERIC and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
            raise ValueError(f"{where}: parameter {name!r} must be a number, got {value!r}")
        if kind is not None and name in _OBJECTIVE_NAMES[backend] and value not in OBJECTIVES[kind]:
            raise ValueError(
                f"{where} is a {kind} task; objective {value!r} does not fit it "
                f"(use one of {sorted(OBJECTIVES[kind])}, or leave the objective to gbmtl)"
            )
