"""LightGBM backend.

The feature table is binned once per fit (per distinct set of parameters) and every model takes
a row subset of it: LightGBM's ``Dataset.subset`` reuses the bin mappers, where building a new
``Dataset`` per model would find the bin boundaries again each time.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from gbmtl.backends._base import TrainData

_OBJECTIVES = {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}
# Parameters that change per model but not the binning. The per-model seeds are set one by one:
# LightGBM's umbrella ``seed`` also sets ``data_random_seed``, a binning parameter, and changing a
# binning parameter makes LightGBM rebuild the subset from its parent, labels included.
_SEEDS = ("bagging_seed", "feature_fraction_seed", "extra_seed", "drop_seed", "objective_seed")
_PER_MODEL = {"num_threads", "objective", "num_class", *_SEEDS}


#: Inputs of at most this many rows, from a model's :data:`WARM_CALLS`-th such call on, are
#: scored by the model's trees as a flat forest (``gbmtl._forest``): LightGBM's own call costs
#: about half a millisecond before any tree, which on one row is most of a prediction.
SMALL_ROWS = 64
WARM_CALLS = 3


class LightGBMModel:
    def __init__(self, booster: lgb.Booster, best_iteration: int):
        self.booster = booster
        self.best_iteration = best_iteration
        self._small_calls = 0
        self._forest = None

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        raw = self.booster.predict(X, num_iteration=self.best_iteration, raw_score=True)
        return raw.reshape(len(X), -1)

    def predict_raw_matrix(self, M: np.ndarray) -> np.ndarray:
        """Raw scores from ``as_matrix`` of a table with the training table's categories.

        A few rows, once the model has been asked for a few rows a few times (a scoring loop,
        not a one-off call, which would not repay the forest's construction), go through the
        flat forest: the same trees summed in the same order, so the same doubles."""
        if len(M) <= SMALL_ROWS:
            forest = self._small_forest()
            if forest is not None:
                return forest.predict(M)
        raw = self.booster.predict(M, num_iteration=self.best_iteration, raw_score=True)
        return raw.reshape(len(M), -1)

    def __getstate__(self) -> dict:
        # The flat forest is a cache of the booster: rebuilt on demand, never stored.
        return {"booster": self.booster, "best_iteration": self.best_iteration}

    def _small_forest(self):
        from gbmtl._forest import Unsupported, from_lightgbm

        if getattr(self, "_forest", None) is None:  # (unpickled models start without one)
            self._small_calls = getattr(self, "_small_calls", 0) + 1
            if self._small_calls < WARM_CALLS:
                return None
            try:
                self._forest = from_lightgbm(self.booster, self.best_iteration)
            except Unsupported:
                self._forest = False
        return self._forest or None

    @staticmethod
    def as_matrix(X: pd.DataFrame) -> np.ndarray:
        """``X`` as the float matrix LightGBM converts a DataFrame to before predicting.

        The engine predicts many row subsets of its own training table; building the matrix
        directly costs half of LightGBM's conversion, which maps category codes through
        ``DataFrame.apply`` on every call. Written here because LightGBM keeps its conversion
        private; this matches it for a table whose categories are the training table's: codes,
        with -1 (missing) as NaN, in the narrowest float type that holds every column.
        """
        cols = {}
        for name in X.columns:
            col = X[name]
            if isinstance(col.dtype, pd.CategoricalDtype):
                codes = col.cat.codes.to_numpy()
                missing = codes == -1
                col = np.where(missing, np.nan, codes) if missing.any() else codes
            cols[name] = col
        frame = pd.DataFrame(cols, index=X.index)
        dtype = np.result_type(*[d.type for d in frame.dtypes], np.float32)
        return frame.to_numpy(dtype=dtype, na_value=np.nan)

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        raw = self.booster.predict(X, num_iteration=self.best_iteration, pred_contrib=True)
        return np.asarray(raw).reshape(len(X), self.booster.num_model_per_iteration(), -1)

    def feature_importance(self) -> np.ndarray:
        return self.booster.feature_importance("gain", iteration=self.best_iteration)

    def to_bytes(self) -> bytes:
        return self.booster.model_to_string(num_iteration=self.best_iteration).encode("utf-8")


def _binned(data: TrainData, params: dict[str, Any]) -> tuple[lgb.Dataset, dict[str, Any]]:
    """The whole table binned once with these parameters (cached for the rest of the fit)."""
    binning = {k: v for k, v in params.items() if k not in _PER_MODEL}
    key = ("lightgbm", id(data.X), json.dumps(binning, sort_keys=True, default=str))
    cache = data.cache if data.cache is not None else {}
    if key not in cache:
        extra = _extra_columns(data.X, data.base)
        if extra is not None:
            base, _ = _binned(TrainData(X=data.base, y=data.y, rows=data.rows, cache=cache),
                              params)
            cache[key] = _extend(base, extra, binning)
        else:
            # Subsets need only the binned parent, not the raw table (which each subset would
            # otherwise copy).
            full = lgb.Dataset(data.X, np.zeros(len(data.X)), params=binning, free_raw_data=True)
            cache[key] = full.construct()
    return cache[key], binning


def _extra_columns(X: pd.DataFrame, base: pd.DataFrame | None) -> pd.DataFrame | None:
    """The numeric columns ``X`` adds to ``base``, or None when ``X`` does not extend it so."""
    if base is None or len(X.columns) <= len(base.columns) or len(X) != len(base):
        return None
    if list(X.columns[:len(base.columns)]) != list(base.columns):
        return None
    extra = X.iloc[:, len(base.columns):]
    if not all(kind in "biuf" for kind in (dtype.kind for dtype in extra.dtypes)):
        return None
    return extra


def _extend(base: lgb.Dataset, extra: pd.DataFrame, binning: dict[str, Any]) -> lgb.Dataset:
    """``base``'s binned table with the numeric columns ``extra`` binned and appended.

    The stage-2 tables are the feature table plus a few sibling columns; binning them whole
    would convert and bin every feature again (time, and a float copy of the table in memory).
    LightGBM bins each feature on its own (with the same sampled rows for the same parameters),
    so the result equals binning the whole table; a test checks the models agree.
    """
    table = base.subset(list(range(base.num_data())), params=binning).construct()  # a copy
    added = lgb.Dataset(extra, np.zeros(len(extra)), params=binning, free_raw_data=True)
    with warnings.catch_warnings():
        # LightGBM warns that it drops raw data (there is none) and forgets the pandas
        # categories, which are the base table's, as restored below.
        warnings.simplefilter("ignore")
        table.add_features_from(added.construct())
    table.pandas_categorical = base.pandas_categorical
    return table


def _subset(full: lgb.Dataset, rows: np.ndarray, data: TrainData,
            params: dict[str, Any]) -> lgb.Dataset:
    rows = np.sort(rows)  # LightGBM keeps a subset's rows in table order
    # A list: LightGBM sorts the indices with Python's sorted(), slow on NumPy scalars.
    part = full.subset(rows.tolist(), params=params).construct()
    part.set_label(data.y[rows])
    if data.weight is not None:
        part.set_weight(data.weight[rows])
    if data.init_score is not None:
        # Class-major order for multiclass tasks: score[class * n_rows + row].
        part.set_init_score(np.asarray(data.init_score[rows], dtype=float).ravel(order="F"))
    return part


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
        full_params = {
            "objective": _OBJECTIVES[kind],
            "verbosity": -1,
            "deterministic": True,
            "data_random_seed": 1,
            **{name: seed + i for i, name in enumerate(_SEEDS)},
            "num_threads": n_threads,
            **params,
        }
        if kind == "multiclass":
            full_params["num_class"] = n_classes
        if not {"force_row_wise", "force_col_wise"} & set(params):
            # LightGBM otherwise picks row- or column-wise histograms by timing a test run, which
            # under load can differ from run to run and change the model in the last digits.
            full_params["force_row_wise"] = True
        binned, dataset_params = _binned(data, full_params)
        train_set = _subset(binned, data.rows, data, dataset_params)
        valid_sets, callbacks = [], []
        if data.val_rows is not None and early_stopping_rounds:
            valid_sets = [_subset(binned, data.val_rows, data, dataset_params)]
            callbacks = [lgb.early_stopping(early_stopping_rounds, verbose=False)]
        booster = lgb.train(full_params, train_set, num_boost_round, valid_sets=valid_sets,
                            callbacks=callbacks)
        best = booster.best_iteration if booster.best_iteration > 0 else booster.current_iteration()
        return LightGBMModel(booster, best)

    def load(self, raw: bytes, *, n_outputs: int, offset: bool) -> LightGBMModel:
        booster = lgb.Booster(model_str=raw.decode("utf-8"))
        return LightGBMModel(booster, booster.current_iteration())
