"""gbmtl: multi-task learning with gradient-boosted trees on tabular data."""

from gbmtl._version import __version__
from gbmtl.booster import MultiTaskBooster
from gbmtl.persistence import load
from gbmtl.sklearn_api import MultiTaskClassifier, MultiTaskRegressor
from gbmtl.tasks import Task
from gbmtl.tuning import MultiTaskTuner

__all__ = [
    "MultiTaskBooster",
    "MultiTaskClassifier",
    "MultiTaskRegressor",
    "MultiTaskTuner",
    "Task",
    "load",
    "__version__",
]
