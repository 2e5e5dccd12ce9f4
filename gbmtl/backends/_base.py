"""The interface every backend implements: train one model, predict raw scores, explain, save, load.

Backends see encoded labels only (classes ``0..k-1``) and work in raw-score (margin) space: the
log-odds of binary tasks, per-class margins of multiclass tasks, values of regression tasks.
Label encoding, masking of missing labels, folds and the link to probabilities live above them,
so that a new backend is one small module plus a registry entry (see :data:`BACKENDS`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

#: Backend name -> "module:class", imported on first use so that one library may be absent.
BACKENDS = {
    "lightgbm": "gbmtl.backends._lightgbm:LightGBMBackend",
    "xgboost": "gbmtl.backends._xgboost:XGBoostBackend",
}


@dataclass
class TrainData:
    """Rows one model trains on, with an optional early-stopping validation part.

    ``X``, ``y``, ``weight`` and ``init_score`` cover every row of the table; ``rows`` and
    ``val_rows`` pick the model's rows, so that a backend can bin the table once and take cheap
    row subsets of it. ``init_score`` (rows x outputs, raw scores) is where boosting starts
    (the sibling offset); the trained model's own predictions exclude it.
    ``cache`` is a dict shared by all models of one fit, for the backend's binned data.
    ``base``, when given, is a table whose columns ``X`` starts with (the stacking tables are the
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
    init_score: np.ndarray | None = None

    def part(self, which: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None,
                                        np.ndarray | None]:
        """Features, labels, weights and init scores of the ``"train"`` or ``"val"`` rows."""
        rows = self.rows if which == "train" else self.val_rows
        w = None if self.weight is None else self.weight[rows]
        init = None if self.init_score is None else self.init_score[rows]
        return self.X.iloc[rows], self.y[rows], w, init


class FittedModel(Protocol):
    """A trained booster of one task: what the sharing mechanisms need from it."""

    best_iteration: int

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        """Raw scores ``(n, n_outputs)``, without any init score the model was trained from."""

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        """SHAP values in raw score space, ``(n, n_outputs, n_features + 1)`` (last: bias)."""

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

    def load(self, raw: bytes, *, n_outputs: int, offset: bool) -> FittedModel: ...


def n_outputs(kind: str, n_classes: int) -> int:
    """Raw-score columns of a task: one per class for multiclass tasks, else one."""
    return n_classes if kind == "multiclass" else 1


def pop_rounds(params: dict[str, Any], default: int) -> int:
    """Take the number of boosting rounds out of ``params`` under any of its usual names."""
    rounds = default
    for key in ("n_estimators", "num_boost_round", "num_iterations", "num_round", "num_trees"):
        if key in params:
            value = params.pop(key)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)) \
                    or value != int(value):
                raise ValueError(f"params: {key} must be a whole number of rounds, got {value!r}")
            rounds = int(value)
    if rounds < 1:
        raise ValueError(f"params: the number of boosting rounds must be >= 1, got {rounds}")
    return rounds


def get_backend(name: str) -> Backend:
    """The backend object for ``name`` (imported lazily so that one library may be absent)."""
    if name not in BACKENDS:
        raise ValueError(f"Unknown backend {name!r}; expected one of {sorted(BACKENDS)}")
    module, cls = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), cls)()
