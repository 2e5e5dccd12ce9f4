"""gbmtl: multi-task learning with gradient-boosted trees on tabular data."""

from gbmtl._version import __version__
from gbmtl.booster import MultiTaskBooster
from gbmtl.tasks import Task

__all__ = ["MultiTaskBooster", "Task", "__version__"]
