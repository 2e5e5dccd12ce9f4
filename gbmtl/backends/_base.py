"""The interface every backend implements: train one model, predict, explain, save, load.

Backends see encoded labels only (classes ``0..k-1``); label encoding, masking of missing labels
and folds live in the stacking engine, so that a new backend is one small module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd


@dataclass
class TrainData:
    """Rows one model trains on, with an optional early-stopping validation part.

    ``X``, ``y`` and ``weight`` cover every row of the table; ``rows`` and ``val_rows`` pick the
    model's rows, so that a backend can bin the table once and take cheap row subsets of it.
    ``cache`` is a dict shared by all models of one fit, for the backend's binned data.
    ``base``, when given, is a table whose columns ``X`` starts with (the stage-2 tables are the
    feature table plus sibling columns), so that a backend can extend its binned form instead of
    binning ``X`` whole.
    """

    X: pd.DataFrame
    y: np.ndarray
    rows: np.ndarray
    weight: np.ndarray | None = None
    val_rows: np.ndarray | None = None
    cache: dict | None = None
    base: pd.DataFrame | None = None

    def part(self, which: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
        rows = self.rows if which == "train" else self.val_rows
        w = None if self.weight is None else self.weight[rows]
        return self.X.iloc[rows], self.y[rows], w


class FittedModel(Protocol):
    """A trained booster of one task: what the estimators need from it."""

    best_iteration: int

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities of the positive class ``(n,)``, class probabilities ``(n, k)`` or values ``(n,)``."""

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        """SHAP values in raw score space: ``(n, n_features + 1)`` or ``(n, k, n_features + 1)``."""

    def feature_importance(self) -> np.ndarray:
        """Total gain per feature, in the order of the training columns."""

    def to_bytes(self) -> bytes:
        """The model in its library's native format."""


class Backend(Protocol):
    name: str
    file_suffix: str

    def train(
        self,
        data: TrainData,
        *,
        kind: str,
        n_classes: int,
        params: dict[str, Any],
        num_boost_round: int,
        early_stopping_rounds: int | None,
        seed: int,
        n_threads: int,
    ) -> FittedModel: ...

    def load(self, raw: bytes, n_features: int) -> FittedModel: ...


def pop_rounds(params: dict[str, Any], default: int) -> int:
    """Take the number of boosting rounds out of ``params`` under any of its usual names."""
    rounds = default
    for key in ("n_estimators", "num_boost_round", "num_iterations", "num_round", "num_trees"):
        if key in params:
            rounds = int(params.pop(key))
    if rounds < 1:
        raise ValueError(f"params: the number of boosting rounds must be >= 1, got {rounds}")
    return rounds


def get_backend(name: str) -> Backend:
    """The backend object for ``name`` (imported lazily so that one library may be absent)."""
    if name == "lightgbm":
        from gbmtl.backends._lightgbm import LightGBMBackend

        return LightGBMBackend()
    if name == "xgboost":
        from gbmtl.backends._xgboost import XGBoostBackend

        return XGBoostBackend()
    raise ValueError(f"Unknown backend {name!r}; expected 'lightgbm' or 'xgboost'")
