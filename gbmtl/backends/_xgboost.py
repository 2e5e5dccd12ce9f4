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


def _dmatrix(X: pd.DataFrame, y=None, weight=None, n_threads: int = 1) -> xgb.DMatrix:
    return xgb.DMatrix(X, label=y, weight=weight, enable_categorical=True, nthread=n_threads)


class XGBoostModel:
    def __init__(self, booster: xgb.Booster, best_iteration: int):
        self.booster = booster
        self.best_iteration = best_iteration

    def _range(self) -> tuple[int, int]:
        return (0, self.best_iteration)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(_dmatrix(X), iteration_range=self._range())

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(_dmatrix(X), iteration_range=self._range(), pred_contribs=True)

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
        dtrain = _dmatrix(*data.part("train"), n_threads)
        evals, esr = (), None
        if data.val_rows is not None and early_stopping_rounds:
            evals = [(_dmatrix(*data.part("val"), n_threads), "valid")]
            esr = early_stopping_rounds
        booster = xgb.train(full, dtrain, num_boost_round, evals=evals,
                            early_stopping_rounds=esr, verbose_eval=False)
        best = booster.best_iteration + 1 if esr else booster.num_boosted_rounds()
        return XGBoostModel(booster, best)

    def load(self, raw: bytes, n_features: int) -> XGBoostModel:
        booster = xgb.Booster()
        booster.load_model(bytearray(raw))
        return XGBoostModel(booster, booster.num_boosted_rounds())
