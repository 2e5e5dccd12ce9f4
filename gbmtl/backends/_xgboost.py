"""XGBoost backend (histogram trees, native categorical support)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from gbmtl.backends._base import TrainData

_OBJECTIVES = {
    "binary": "binary:logistic",
    "multiclass": "multi:softprob",
    "regression": "reg:squarederror",
}


def _dmatrix(X: pd.DataFrame, y=None, weight=None, init=None, n_threads: int = 1) -> xgb.DMatrix:
    return xgb.DMatrix(X, label=y, weight=weight, base_margin=init, enable_categorical=True,
                       nthread=n_threads)


class XGBoostModel:
    """A booster and its kept rounds.

    ``offset`` models were trained from an init score (``base_margin``): XGBoost then ignores its
    ``base_score``, so they predict with a zero margin, giving the trees' part alone.
    """

    def __init__(self, booster: xgb.Booster, best_iteration: int, n_outputs: int, offset: bool):
        self.booster = booster
        self.best_iteration = best_iteration
        self.n_outputs = n_outputs
        self.offset = offset

    def _matrix(self, X: pd.DataFrame) -> xgb.DMatrix:
        init = np.zeros((len(X), self.n_outputs)) if self.offset else None
        return _dmatrix(X, init=init)

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        # Columns come in the trained order; their names may differ (models saved by gbmtl 0.1
        # were trained on the user's names, today's on internal ones).
        raw = self.booster.predict(self._matrix(X), iteration_range=(0, self.best_iteration),
                                   output_margin=True, validate_features=False)
        return raw.reshape(len(X), -1)

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        raw = self.booster.predict(self._matrix(X), iteration_range=(0, self.best_iteration),
                                   pred_contribs=True, validate_features=False)
        return raw.reshape(len(X), self.n_outputs, -1)

    def feature_importance(self) -> np.ndarray:
        scores = self.booster.get_score(importance_type="total_gain")
        names = self.booster.feature_names or []
        return np.array([scores.get(n, 0.0) for n in names], dtype=float)

    def to_bytes(self) -> bytes:
        # Save only the rounds that early stopping kept, so a loaded model predicts the same.
        trimmed = self.booster[: self.best_iteration] if self.best_iteration else self.booster
        return bytes(trimmed.save_raw(raw_format="ubj"))


class XGBoostBackend:
    name = "xgboost"
    file_suffix = ".ubj"

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
    ) -> XGBoostModel:
        full = {
            "objective": _OBJECTIVES[kind],
            "tree_method": "hist",
            "seed": seed,
            "nthread": n_threads,
            "verbosity": 0,
            **params,
        }
        if kind == "multiclass":
            full["num_class"] = n_classes
        dtrain = _dmatrix(*data.part("train"), n_threads=n_threads)
        evals, esr = (), None
        if data.val_rows is not None and early_stopping_rounds:
            evals = [(_dmatrix(*data.part("val"), n_threads=n_threads), "valid")]
            esr = early_stopping_rounds
        booster = xgb.train(full, dtrain, num_boost_round, evals=evals,
                            early_stopping_rounds=esr, verbose_eval=False)
        best = booster.best_iteration + 1 if esr else booster.num_boosted_rounds()
        width = n_classes if kind == "multiclass" else 1
        return XGBoostModel(booster, best, width, data.init_score is not None)

    def load(self, raw: bytes, *, n_outputs: int, offset: bool) -> XGBoostModel:
        booster = xgb.Booster()
        booster.load_model(bytearray(raw))
        return XGBoostModel(booster, booster.num_boosted_rounds(), n_outputs, offset)
