"""Input and target encoding for the neural baselines (numpy only, no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.preprocessing import QuantileTransformer

__all__ = ["TabularEncoder", "TargetCodec", "embedding_dim_rule", "is_categorical"]

#: Index reserved in every embedding table for categories never seen in the training rows.
UNKNOWN_INDEX = 0


def is_categorical(column: pd.Series) -> bool:
    """Whether a column is embedded (category, text or object dtype) rather than scaled."""
    dtype = column.dtype
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
    )


def embedding_dim_rule(cardinality: int) -> int:
    """``min(50, (cardinality + 1) // 2)``, the rule of thumb from the fast.ai tabular models.

    It gives small tables small vectors and caps wide ones; ``cardinality`` counts the reserved
    unknown index.
    """
    return max(1, min(50, (cardinality + 1) // 2))


@dataclass
class TabularEncoder:
    """Turn a mixed DataFrame into a float matrix of numeric inputs and an int matrix of codes.

    Everything is learned from the rows passed to :meth:`fit` (the training rows only), so the
    validation split and the test data never leak into the scaling.

    Numeric columns: median imputation, a 0/1 missing indicator for every column that had missing
    values in the fitted rows, then either a quantile transform to a normal distribution (robust
    to the heavy tails of amounts and ratios in finance data; the default preprocessing of
    Gorishniy et al., "Revisiting Deep Learning Models for Tabular Data", NeurIPS 2021) or
    standard scaling. Boolean columns are numeric 0/1.

    Categorical columns (category, text, object dtype): integer codes ``1..k`` in sorted order of
    the fitted levels, missing values as a level of their own when they occur in the fitted rows;
    index 0 is reserved for anything unseen (new categories, or missing values never seen).
    """

    numeric_transform: str = "quantile"
    random_state: int | None = None
    numeric_columns_: list[str] = field(default_factory=list)
    categorical_columns_: list[str] = field(default_factory=list)
    medians_: np.ndarray | None = None
    indicator_columns_: list[int] = field(default_factory=list)
    scaler_: object | None = None
    mean_: np.ndarray | None = None
    scale_: np.ndarray | None = None
    levels_: dict[str, pd.Index] = field(default_factory=dict)
    missing_code_: dict[str, int] = field(default_factory=dict)

    def fit(self, X: pd.DataFrame) -> TabularEncoder:
        if self.numeric_transform not in ("quantile", "standard"):
            raise ValueError(
                f"numeric_transform must be 'quantile' or 'standard', got {self.numeric_transform!r}"
            )
        self.categorical_columns_ = [c for c in X.columns if is_categorical(X[c])]
        self.numeric_columns_ = [c for c in X.columns if c not in set(self.categorical_columns_)]
        for col in self.categorical_columns_:
            values = X[col].astype(object)
            levels = sorted(pd.unique(values[values.notna()]), key=str)
            self.levels_[col] = pd.Index(levels, dtype=object)
            # missing values seen in training get their own level after the observed ones
            self.missing_code_[col] = len(levels) + 1 if values.isna().any() else UNKNOWN_INDEX
        raw = self._numeric_raw(X)
        if raw.shape[1]:
            with np.errstate(all="ignore"):
                medians = np.nanmedian(raw, axis=0)
            self.medians_ = np.where(np.isnan(medians), 0.0, medians)
            self.indicator_columns_ = [int(j) for j in np.flatnonzero(np.isnan(raw).any(axis=0))]
            filled = np.where(np.isnan(raw), self.medians_, raw)
            if self.numeric_transform == "quantile":
                self.scaler_ = QuantileTransformer(
                    n_quantiles=max(2, min(1000, len(filled))),
                    output_distribution="normal",
                    subsample=1_000_000_000,
                    random_state=self.random_state,
                ).fit(filled)
            else:
                self.mean_ = filled.mean(axis=0)
                std = filled.std(axis=0)
                self.scale_ = np.where(std > 0, std, 1.0)
        else:
            self.medians_ = np.zeros(0)
        return self

    @property
    def cardinalities_(self) -> list[int]:
        """Embedding table size per categorical column (levels + the unknown index)."""
        return [
            len(self.levels_[c]) + 1 + (self.missing_code_[c] != UNKNOWN_INDEX)
            for c in self.categorical_columns_
        ]

    @property
    def n_numeric_inputs_(self) -> int:
        return len(self.numeric_columns_) + len(self.indicator_columns_)

    def _numeric_raw(self, X: pd.DataFrame) -> np.ndarray:
        if not self.numeric_columns_:
            return np.zeros((len(X), 0))
        parts = []
        for col in self.numeric_columns_:
            try:
                parts.append(pd.to_numeric(X[col]).to_numpy(dtype=float, na_value=np.nan))
            except (TypeError, ValueError) as err:
                raise ValueError(f"Column {col!r} cannot be read as numbers: {err}") from err
        raw = np.column_stack(parts)
        raw[~np.isfinite(raw)] = np.nan
        return raw

    def transform(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(numeric float32 (n, p), codes int64 (n, c))``."""
        raw = self._numeric_raw(X)
        if raw.shape[1]:
            missing = np.isnan(raw)
            filled = np.where(missing, self.medians_, raw)
            if self.scaler_ is not None:
                scaled = self.scaler_.transform(filled)
            else:
                scaled = (filled - self.mean_) / self.scale_
            numeric = np.hstack([scaled, missing[:, self.indicator_columns_].astype(float)])
        else:
            numeric = raw
        codes = np.zeros((len(X), len(self.categorical_columns_)), dtype=np.int64)
        for j, col in enumerate(self.categorical_columns_):
            values = X[col].astype(object)
            codes[:, j] = self.levels_[col].get_indexer(values) + 1  # unseen: -1 + 1 = 0
            codes[values.isna().to_numpy(), j] = self.missing_code_[col]
        return numeric.astype(np.float32), codes


@dataclass
class TargetCodec:
    """Encode one task's labels for its loss and decode predictions back to label values.

    Binary and multiclass labels become class indices in sorted class order (the layout of
    ``predict_proba``); regression targets are standardized on the fitted labelled rows (so the
    MSE of every regression task is on a comparable scale) and de-standardized at predict time.
    Missing labels stay NaN and are masked out of the loss.
    """

    kind: str
    classes_: np.ndarray | None = None
    mean_: float = 0.0
    scale_: float = 1.0
    dtype_: object = None

    def fit(self, y: pd.Series) -> TargetCodec:
        self.dtype_ = y.dtype
        labelled = y.dropna()
        if self.kind in ("binary", "multiclass"):
            values = labelled.to_numpy()
            try:
                self.classes_ = np.unique(values)
            except TypeError:  # mixed label types: sort by their text
                self.classes_ = np.array(sorted(set(values), key=str), dtype=object)
        else:
            values = labelled.to_numpy(dtype=float)
            self.mean_ = float(values.mean())
            std = float(values.std())
            self.scale_ = std if std > 0 else 1.0
        return self

    @property
    def n_outputs(self) -> int:
        """Width of the network head: one logit, or one per class for multiclass."""
        return len(self.classes_) if self.kind == "multiclass" else 1

    def encode(self, y: pd.Series) -> np.ndarray:
        """Float32 targets with NaN where the label is missing (or a class never fitted)."""
        out = np.full(len(y), np.nan, dtype=np.float32)
        known = y.notna().to_numpy()
        if self.kind == "regression":
            out[known] = (y[known].to_numpy(dtype=float) - self.mean_) / self.scale_
            return out
        lookup = {c: i for i, c in enumerate(self.classes_)}
        idx = y[known].map(lambda v: lookup.get(v, np.nan)).to_numpy(dtype=float)
        out[known] = idx
        return out

    def decode_regression(self, raw: np.ndarray) -> np.ndarray:
        return raw * self.scale_ + self.mean_

    def decode_classes(self, proba: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(proba, axis=1)]
