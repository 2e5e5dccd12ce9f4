"""The shared feature step: fit once on all rows of X, reused by every task model.

Text and category columns become pandas categoricals with the categories seen at fit, so that both
backends see the same category codes at fit and predict time (an unseen category becomes missing,
with a warning when many values are). The backends get the columns under internal names
(``f0, f1, ...``): LightGBM and XGBoost reject some names pandas allows (``a b`` beside ``a_b``,
JSON characters, ``<``), and the user's names come back in importances and explanations.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import clone

#: Share of a category column's values unseen at fit above which predict warns.
UNSEEN_WARNING_SHARE = 0.1


def _is_categorical(s: pd.Series) -> bool:
    return (
        isinstance(s.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(s)
        or pd.api.types.is_string_dtype(s)
    )


def plain_categories(cats: list) -> bool:
    """Whether the backends get these category values themselves (else their positions:
    LightGBM stores categories as JSON and cannot write timestamps)."""
    return all(isinstance(v, (str, int, float, np.integer, np.floating)) for v in cats)


def internal_names(n: int) -> list[str]:
    return [f"f{i}" for i in range(n)]


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
        return self._encode(X, fitting=True)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        if self.fitted_transformer_ is not None:
            X = self._as_frame(self.fitted_transformer_.transform(X), X.index)
        return self._encode(X, fitting=False)

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

    def _encode(self, X: pd.DataFrame, fitting: bool) -> pd.DataFrame:
        changed = {}
        for c, cats in self.categories_.items():
            s = X[c]
            plain = plain_categories(cats)
            if (plain and isinstance(s.dtype, pd.CategoricalDtype)
                    and s.cat.categories.tolist() == cats):
                continue
            coded = self._recode(c, s, cats, fitting)
            if not plain:
                # Backends store the category values as JSON (LightGBM cannot write timestamps):
                # hand them the positions instead; the values stay in ``categories_``.
                coded = pd.Categorical.from_codes(coded.codes, categories=range(len(cats)))
            changed[c] = coded
        # Copy the table only when a column had to be recoded; rename in place of a copy.
        out = X.assign(**changed) if changed else X
        return out.set_axis(internal_names(out.shape[1]), axis=1)

    @staticmethod
    def _recode(name: str, s: pd.Series, cats: list, fitting: bool) -> pd.Categorical:
        """``s`` coded with the fitted categories ``cats``; what was not seen becomes missing."""
        text_cats = all(isinstance(v, str) for v in cats)
        numeric = (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
                   and not isinstance(s.dtype, pd.CategoricalDtype))
        if numeric and text_cats and cats:
            raise ValueError(
                f"column {name!r} held categories {cats[:5]} at fit but numbers "
                f"({s.dtype}) here, e.g. category codes; pass the categories themselves "
                "(the same values as at fit)"
            )
        if isinstance(s.dtype, pd.CategoricalDtype):
            values = s.astype(object)
        elif text_cats:
            values = s.astype("string").astype(object)  # text columns: match by their text
        else:
            values = s.astype(object)
        known = values.isin(cats)
        if not fitting:
            present = values.notna()
            unseen = int((present & ~known).sum())
            if present.any() and unseen > UNSEEN_WARNING_SHARE * int(present.sum()):
                warnings.warn(
                    f"column {name!r}: {unseen} of {int(present.sum())} values were not seen at "
                    "fit and are treated as missing", UserWarning, stacklevel=5)
        return pd.Categorical(values.where(known), categories=cats)
