"""gbmtl: multi-task learning with gradient-boosted trees on tabular data."""

from gbmtl._version import __version__
from gbmtl.booster import MultiTaskBooster
from gbmtl.dask_booster import DaskMultiTaskBooster
from gbmtl.persistence import load
from gbmtl.scoring import RowScorer
from gbmtl.sklearn_api import MultiTaskClassifier, MultiTaskRegressor
from gbmtl.tasks import Task

__all__ = [
    "DaskMultiTaskBooster",
    "MultiTaskBooster",
    "MultiTaskClassifier",
    "MultiTaskRegressor",
    "MultiTaskTuner",
    "RowScorer",
    "Task",
    "load",
    "__version__",
]


def __getattr__(name: str):
    # The tuner imports Optuna, which is slow to import and prints notices in notebooks: load it
    # only when it is asked for.
    if name == "MultiTaskTuner":
        from gbmtl.tuning import MultiTaskTuner

        return MultiTaskTuner
    raise AttributeError(f"module 'gbmtl' has no attribute {name!r}")
