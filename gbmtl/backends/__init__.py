"""Gradient-boosting backends behind one small interface (see :mod:`gbmtl.backends._base`)."""

from gbmtl.backends._base import Backend, FittedModel, TrainData, get_backend

__all__ = ["Backend", "FittedModel", "TrainData", "get_backend"]
