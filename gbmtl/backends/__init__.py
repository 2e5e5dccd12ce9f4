"""Gradient-boosting backends behind one small interface (see :mod:`gbmtl.backends._base`)."""

from gbmtl.backends._base import BACKENDS, Backend, FittedModel, TrainData, get_backend, n_outputs

__all__ = ["BACKENDS", "Backend", "FittedModel", "TrainData", "get_backend", "n_outputs"]
