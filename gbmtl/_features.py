"""The shared feature step: fit once on all rows of X, reused by every task model.

Text and category columns become pandas categoricals with the categories seen at fit, so that both
backends see the same category codes at fit and predict time (an unseen category becomes missing).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone

from gbmtl.sharing._siblings import SIBLING_PREFIX


def _is_categorical(s: pd.Series) -> bool:
    return (
        isinstance(s.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(s)
        or pd.api.types.is_string_dtype(s)
    )


class SharedFeatures:
    """Fitted state of the shared feature step (a user transformer plus category handling)."""

    def __init__(self, transformer=None):
        self.transformer = transformer
        self.fitted_transformer_ = None
        self.categories_: dict[str, list] = {}
        self.columns_: list[str] = []

    def fit_transform(self, X: pd.DataFrame) -> pd.DataFrame:
        if self.transformer is not None:
            self.fitted_transformer_ = clone(self.transformer)
            if hasattr(self.fitted_transformer_, "set_output"):
                try:
                    self.fitted_transformer_.set_output(transform="pandas")
                except ValueError:
                    pass
            out = self.fitted_transformer_.fit_transform(X)
            X = self._as_frame(out, X.index)
        bad = [c for c in X.columns if str(c).startswith(SIBLING_PREFIX)]
        if bad:
            raise ValueError(
                f"Feature names {bad} use the prefix {SIBLING_PREFIX!r} reserved for sibling "
                "predictions; rename them"
            )
        self.columns_ = [str(c) for c in X.columns]
        self.categories_ = {}
        for c in X.columns:
            if _is_categorical(X[c]):
                s = X[c]
                if isinstance(s.dtype, pd.CategoricalDtype):
                    cats = [v for v in s.cat.categories.tolist()]
                else:
                    cats = sorted(s.dropna().astype(str).unique().tolist())
                self.categories_[str(c)] = cats
        return self._encode(X)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        if self.fitted_transformer_ is not None:
            X = self._as_frame(self.fitted_transformer_.transform(X), X.index)
        return self._encode(X)

    def _as_frame(self, out, index) -> pd.DataFrame:
        if isinstance(out, pd.DataFrame):
            out = out.copy()
            out.columns = [str(c) for c in out.columns]
            return out.set_axis(index, axis=0)
        if hasattr(out, "toarray"):
            out = out.toarray()
        out = np.asarray(out)
        try:
            names = [str(n) for n in self.fitted_transformer_.get_feature_names_out()]
        except (AttributeError, ValueError, TypeError):
            names = [f"f{i}" for i in range(out.shape[1])]
        return pd.DataFrame(out, columns=names, index=index)

    def _encode(self, X: pd.DataFrame) -> pd.DataFrame:
        changed = {}
        for c, cats in self.categories_.items():
            s = X[c]
            if isinstance(s.dtype, pd.CategoricalDtype) and s.cat.categories.tolist() == cats:
                continue
            if not isinstance(s.dtype, pd.CategoricalDtype):
                s = s.astype("string")  # text columns: match categories by their text
            s = s.astype(object).where(s.isin(cats))  # unseen categories become missing
            changed[c] = pd.Categorical(s, categories=cats)
        # Copy the table only when a column had to be recoded.
        return X.assign(**changed) if changed else X
