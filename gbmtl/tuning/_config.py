"""TOML tuning configs: which data, which tasks, which estimator and search space.

A config, with every section but ``[data]`` optional::

    [data]
    path = "loans.csv"              # CSV or Parquet, relative to the config file
    targets = ["default", "loss"]   # the task columns; the other columns are features
    drop = ["id"]                   # optional: columns that are neither
    # or: loader = "census_income"  # gbmtl.datasets.load_census_income(**[data.options])
    #     source = "auto"           # with a loader: "real" (default; downloads if missing),
    #                               # "synthetic" (the offline stand-in with the same tasks), or
    #                               # "auto" (real files when in the data home, else stand-in)

    [tasks.default]                 # one table per task, in order; default: every target
    kind = "binary"
    weight = 2.0

    [estimator]                     # MultiTaskBooster parameters
    backend = "lightgbm"
    n_folds = 3
    params = { n_estimators = 300 }

    [tuner]                         # MultiTaskTuner parameters, and how to store the study
    objective = "weighted"          # or "pareto"
    n_trials = 50
    cv = 3
    seed = 0
    pruner = "median"               # "none", "median", "hyperband", "successive_halving"
    sampler = "tpe"                 # "tpe", "random", "nsga2"
    storage = "sweep.log"   # the command line overrides storage and study
    study = "loans"
    heartbeat_interval = 60         # database storages: detect killed workers
    grace_period = 120
    default_search_space = true     # start from the default space; [search_space] overrides
    weights = { default = 2.0, loss = 1.0 }

    [search_space]                  # names as in gbmtl.tuning (namespaced by task)
    "*/num_leaves" = { int = [7, 63], log = true }
    "*/learning_rate" = { float = [0.02, 0.2], log = true }
    "*/sharing" = { choices = ["none", "offset", "stacking"] }
    "loss/lambda_l2" = 1.0          # a fixed value
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

__all__ = ["TuneConfig", "load_config", "parse_distribution"]

_SECTIONS = {"data", "tasks", "estimator", "tuner", "search_space"}
_TUNER_KEYS = {
    "objective", "n_trials", "timeout", "cv", "seed", "pruner", "sampler", "storage", "study",
    "heartbeat_interval", "grace_period", "default_search_space", "weights", "n_jobs",
}


@dataclass
class TuneConfig:
    """A parsed config: data, estimator template and tuner settings (see the module docstring)."""

    X: pd.DataFrame
    Y: pd.DataFrame
    estimator: Any
    tuner: dict[str, Any] = field(default_factory=dict)
    search_space: dict[str, Any] | None = None
    source: Path | None = None


def parse_distribution(name: str, spec: Any):
    """A TOML value -> an Optuna distribution, or the value itself when it is fixed.

    ``{int = [lo, hi], log = false, step = 1}``, ``{float = [lo, hi], log = false, step = ...}``,
    ``{choices = [...]}``; anything else (a number, string, bool) is a fixed value.
    """
    if not isinstance(spec, dict):
        return spec
    kinds = [k for k in ("int", "float", "choices") if k in spec]
    extra = set(spec) - {"int", "float", "choices", "log", "step"}
    if len(kinds) != 1 or extra:
        raise ValueError(
            f"search_space[{name!r}]: expected one of {{int = [lo, hi]}}, {{float = [lo, hi]}}, "
            f"{{choices = [...]}} (with optional log, step), got {spec!r}"
        )
    kind = kinds[0]
    if kind == "choices":
        return CategoricalDistribution(list(spec["choices"]))
    bounds = spec[kind]
    if not (isinstance(bounds, list) and len(bounds) == 2):
        raise ValueError(f"search_space[{name!r}]: {kind} needs [low, high], got {bounds!r}")
    log = bool(spec.get("log", False))
    if kind == "int":
        return IntDistribution(int(bounds[0]), int(bounds[1]), log=log, step=int(spec.get("step", 1)))
    return FloatDistribution(float(bounds[0]), float(bounds[1]), log=log, step=spec.get("step"))


def _from_loader(data: dict[str, Any]):
    import gbmtl.datasets as datasets
    from gbmtl.datasets._stand_in import DATA_CHOICES

    name = data["loader"]
    loader = getattr(datasets, f"load_{name}", None)
    if loader is None:
        raise ValueError(f"[data] loader {name!r}: gbmtl.datasets has no load_{name}")
    source = data.get("source", "real")
    if source not in DATA_CHOICES:
        raise ValueError(f"[data] source: expected one of {DATA_CHOICES}, got {source!r}")
    options = dict(data.get("options", {}))
    if source == "real":
        return loader(**options)
    if name == "sp500":
        prices = datasets.load_or_stand_in("sp500", source, data_home=options.get("data_home"))
        return loader(prices=prices, **options)
    return datasets.load_or_stand_in(name, source, **options)


def _load_data(data: dict[str, Any], base: Path, task_names: list[str]):
    if "loader" in data:
        X, Y = _from_loader(data)
        if task_names:
            missing = [n for n in task_names if n not in Y.columns]
            if missing:
                raise ValueError(f"[tasks] {missing} are not targets of {data['loader']!r}: "
                                 f"{list(Y.columns)}")
            Y = Y[task_names]
        return X, Y
    if "path" not in data:
        raise ValueError("[data] needs either loader = '<name>' or path = '<file>'")
    path = Path(data["path"])
    if not path.is_absolute():
        path = base / path
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path, **dict(data.get("read_options", {})))
    targets = list(data.get("targets") or task_names)
    if not targets:
        raise ValueError("[data] with a path needs targets = [<column>, ...] (or [tasks.<name>])")
    missing = [c for c in targets if c not in frame.columns]
    if missing:
        raise ValueError(f"[data] targets {missing} are not columns of {path}")
    drop = list(data.get("drop", []))
    features = data.get("features") or [c for c in frame.columns if c not in targets + drop]
    return frame[features], frame[targets]


def load_config(path) -> TuneConfig:
    """Read a TOML config (see the module docstring) and load its data.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    TuneConfig
    """
    from gbmtl.booster import MultiTaskBooster
    from gbmtl.tasks import Task

    path = Path(path)
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    unknown = set(raw) - _SECTIONS
    if unknown:
        raise ValueError(f"{path}: unknown sections {sorted(unknown)}; expected {sorted(_SECTIONS)}")
    tasks_raw = raw.get("tasks", {})
    tasks = [Task(name, **spec) for name, spec in tasks_raw.items()] or None
    X, Y = _load_data(raw.get("data", {}), path.parent, list(tasks_raw))
    estimator = MultiTaskBooster(tasks=tasks, **raw.get("estimator", {}))
    tuner = dict(raw.get("tuner", {}))
    bad = set(tuner) - _TUNER_KEYS
    if bad:
        raise ValueError(f"{path}: unknown [tuner] keys {sorted(bad)}; expected {sorted(_TUNER_KEYS)}")
    space = None
    if "search_space" in raw or not tuner.get("default_search_space", True):
        space = {k: parse_distribution(k, v) for k, v in raw.get("search_space", {}).items()}
        if tuner.get("default_search_space", False):
            from gbmtl.tuning._search_space import default_search_space

            space = {**default_search_space(estimator.backend, Y.shape[1]), **space}
    return TuneConfig(X=X, Y=Y, estimator=estimator, tuner=tuner, search_space=space, source=path)
