"""Joint hyperparameter tuning of all tasks of a multi-task booster, with Optuna.

:class:`MultiTaskTuner` samples per-task parameters under namespaced names (``"<task>/num_leaves"``)
and shared ones (``"<task>/sharing"``, ``"<task>/use_siblings"``), scores every task by cross-validation
on a common scale, and optimises either their weighted mean or the Pareto front. Studies live in
memory, SQLite, a journal file (several processes) or PostgreSQL (several machines) and resume when
the same command is run again.
"""

from gbmtl.tuning._dask import tune_on_dask
from gbmtl.tuning._plots import (
    plot_optimization_history,
    plot_param_importances,
    plot_pareto_front,
    plot_task_scores,
)
from gbmtl.tuning._search_space import build_estimator, default_search_space, effective_params
from gbmtl.tuning._storage import make_storage
from gbmtl.tuning._tuner import MultiTaskTuner

__all__ = [
    "MultiTaskTuner",
    "build_estimator",
    "default_search_space",
    "effective_params",
    "make_storage",
    "plot_optimization_history",
    "plot_param_importances",
    "plot_pareto_front",
    "plot_task_scores",
    "tune_on_dask",
]
