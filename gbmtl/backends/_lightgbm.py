"""LightGBM backend."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from gbmtl.backends._base import TrainData

_OBJECTIVES = {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}


class LightGBMModel:
    def __init__(self, booster: lgb.Booster, best_iteration: int):
        self.booster = booster
        self.best_iteration = best_iteration

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(X, num_iteration=self.best_iteration)

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        raw = self.booster.predict(X, num_iteration=self.best_iteration, pred_contrib=True)
        n_classes = self.booster.params.get("num_class", 1)
        if n_classes > 1:
            return raw.reshape(len(X), n_classes, -1)
        return raw

    def feature_importance(self) -> np.ndarray:
        return self.booster.feature_importance("gain", iteration=self.best_iteration)

    def to_bytes(self) -> bytes:
        return self.booster.model_to_string(num_iteration=self.best_iteration).encode("utf-8")


class LightGBMBackend:
    name = "lightgbm"
    file_suffix = ".txt"

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
    ) -> LightGBMModel:
        full = {
            "objective": _OBJECTIVES[kind],
            "verbosity": -1,
            "deterministic": True,
            "seed": seed,
            "num_threads": n_threads,
            **params,
        }
        if kind == "multiclass":
            full["num_class"] = n_classes
        train_set = lgb.Dataset(data.X, data.y, weight=data.weight, free_raw_data=True)
        valid_sets, callbacks = [], []
        if data.X_val is not None and early_stopping_rounds:
            valid_sets = [
                lgb.Dataset(data.X_val, data.y_val, weight=data.weight_val, reference=train_set)
            ]
            callbacks = [lgb.early_stopping(early_stopping_rounds, verbose=False)]
        booster = lgb.train(full, train_set, num_boost_round, valid_sets=valid_sets,
                            callbacks=callbacks)
        best = booster.best_iteration if booster.best_iteration > 0 else booster.current_iteration()
        return LightGBMModel(booster, best)

    def load(self, raw: bytes, n_features: int) -> LightGBMModel:
        booster = lgb.Booster(model_str=raw.decode("utf-8"))
        return LightGBMModel(booster, booster.current_iteration())
