"""Thin scikit-learn estimators over MultiTaskBooster for all-classification or all-regression y."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, check_is_fitted, validate_data

from gbmtl._validation import native_frame
from gbmtl.booster import MultiTaskBooster
from gbmtl.tasks import Task

__all__ = ["MultiTaskClassifier", "MultiTaskRegressor"]

_DOC_PARAMS = """
    Parameters
    ----------
    backend, params, sharing, bagging, n_folds, cv, early_stopping_rounds, random_state, n_jobs,
    verbose
        As in :class:`gbmtl.MultiTaskBooster`. Each output column of ``y`` is one task; NaN
        marks an unknown label.

    Attributes
    ----------
    booster_ : MultiTaskBooster
        The fitted multi-task model.
    n_features_in_, feature_names_in_
        As usual in scikit-learn.
"""


class _MultiTaskBase(BaseEstimator):
    _kind: str

    def __init__(
        self,
        backend: str = "lightgbm",
        params: dict[str, Any] | None = None,
        sharing="auto",
        bagging="auto",
        n_folds: int = 5,
        cv=None,
        early_stopping_rounds: int | None = 50,
        random_state=None,
        n_jobs: int | None = None,
        verbose: int = 0,
    ):
        self.backend = backend
        self.params = params
        self.sharing = sharing
        self.bagging = bagging
        self.n_folds = n_folds
        self.cv = cv
        self.early_stopping_rounds = early_stopping_rounds
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _booster(self, tasks: list[Task]) -> MultiTaskBooster:
        return MultiTaskBooster(
            tasks=tasks, backend=self.backend, params=self.params, sharing=self.sharing,
            bagging=self.bagging,
            n_folds=self.n_folds, cv=self.cv, early_stopping_rounds=self.early_stopping_rounds,
            random_state=self.random_state, n_jobs=self.n_jobs, verbose=self.verbose,
        )

    def _validate(self, X, y="no_validation", reset: bool = True):
        """scikit-learn's checks (feature count and names), then the booster's own reading of
        ``X``: a pandas frame goes on as it is, with its text, categorical and missing values;
        other input keeps what ``validate_data`` read (``dtype=None``: text stays text)."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        native = X if isinstance(X, pd.DataFrame) else native_frame(X)  # polars, pyarrow
        frame = native if isinstance(native, pd.DataFrame) else None
        checked = frame if frame is not None else X
        if isinstance(y, str) and y == "no_validation":
            out = validate_data(self, checked, reset=reset, ensure_all_finite="allow-nan",
                                dtype=None)
            return frame if frame is not None else out
        out = validate_data(self, checked, reset=reset, ensure_all_finite="allow-nan",
                            ensure_min_samples=2, dtype=None)
        native = native_frame(y)  # polars, pyarrow
        if native is not None:
            y = native
        elif not isinstance(y, (pd.DataFrame, pd.Series)):
            y = np.asarray(y)
        if self._kind == "regression":
            y = y.astype(float)
        if np.ndim(y) not in (1, 2) or (np.ndim(y) == 2 and np.shape(y)[1] == 0):
            raise ValueError(
                f"y must be 1-D or 2-D with at least one column, got shape {np.shape(y)}")
        check_consistent_length(out, y)
        return (frame if frame is not None else out), y

    def _targets(self, y) -> pd.DataFrame:
        """``y`` as one column per task, NaN/None = unknown label; a frame keeps its names."""
        self._y_1d = np.ndim(y) == 1
        if isinstance(y, pd.DataFrame):
            return y.reset_index(drop=True).set_axis([str(c) for c in y.columns], axis=1)
        if isinstance(y, pd.Series):
            return pd.DataFrame({"y0": y.reset_index(drop=True)})
        arr = np.asarray(y)
        arr = arr.reshape(len(arr), -1)
        return pd.DataFrame({f"y{i}": pd.Series(arr[:, i]).infer_objects()
                             for i in range(arr.shape[1])})

    def _fit(self, X, Y: pd.DataFrame, sample_weight, task_kinds) -> None:
        tasks = [Task(col, kind=kind) for col, kind in zip(Y.columns, task_kinds, strict=True)]
        if isinstance(X, pd.DataFrame):
            Y = Y.set_axis(X.index)
        self.booster_ = self._booster(tasks).fit(X, Y, sample_weight=sample_weight)

    def _predict_frame(self, X) -> pd.DataFrame:
        check_is_fitted(self, "booster_")
        X = self._validate(X, reset=False)
        return self.booster_.predict(X)

    def save(self, path) -> None:
        """Save the fitted model (see :meth:`gbmtl.MultiTaskBooster.save`). ``gbmtl.load(path)``
        gives back the :class:`~gbmtl.MultiTaskBooster`, whose ``predict`` returns one column per
        output of ``y`` (named after ``y``'s columns, else ``y0``, ``y1`` ...)."""
        check_is_fitted(self, "booster_")
        self.booster_.save(path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.target_tags.multi_output = True
        return tags


class MultiTaskClassifier(ClassifierMixin, _MultiTaskBase):
    __doc__ = (
        "Multi-output classifier: one boosted task per column of ``y`` (binary or multiclass).\n"
        + _DOC_PARAMS
        + """    classes_ : ndarray (1-D ``y``) or list of ndarray (2-D ``y``)
    """
    )
    _kind = "classification"

    def fit(self, X, y, sample_weight=None) -> MultiTaskClassifier:
        """Fit one task per column of ``y`` (binary or multiclass; NaN or None = unknown).

        ``X`` may be a pandas or polars frame with text, categorical and missing values, or an
        array. Returns ``self``."""
        X, y = self._validate(X, y)
        Y = self._targets(y)
        kinds = []
        for i, col in enumerate(Y.columns):
            labelled = Y[col].dropna()
            check_classification_targets(labelled.to_numpy())
            n_classes = labelled.nunique()
            if n_classes < 2:
                raise ValueError(
                    f"MultiTaskClassifier: output {i} ({col!r}) has {n_classes} class among its "
                    "labelled rows; at least 2 are needed"
                )
            kinds.append("binary" if n_classes == 2 else "multiclass")
        self._fit(X, Y, sample_weight, kinds)
        classes = [self.booster_.classes_[t.name] for t in self.booster_.tasks_]
        self.classes_ = classes[0] if self._y_1d else classes
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted labels: shape (n,) for a 1-D ``y``, else (n, n_outputs)."""
        out = self._predict_frame(X).to_numpy()
        return out[:, 0] if self._y_1d else out

    def predict_proba(self, X):
        """Class probabilities: one (n, n_classes) array for a 1-D ``y``, else a list of them."""
        check_is_fitted(self, "booster_")
        X = self._validate(X, reset=False)
        proba = self.booster_.predict_proba(X)
        out = [proba[t.name] for t in self.booster_.tasks_]
        return out[0] if self._y_1d else out


class MultiTaskRegressor(RegressorMixin, _MultiTaskBase):
    __doc__ = "Multi-output regressor: one boosted task per column of ``y``.\n" + _DOC_PARAMS
    _kind = "regression"

    def fit(self, X, y, sample_weight=None) -> MultiTaskRegressor:
        """Fit one regression task per column of ``y`` (NaN = unknown). ``X`` as for
        :meth:`MultiTaskClassifier.fit`. Returns ``self``."""
        X, y = self._validate(X, y)
        Y = self._targets(y)
        self._fit(X, Y, sample_weight, ["regression"] * Y.shape[1])
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted values: shape (n,) for a 1-D ``y``, else (n, n_outputs)."""
        out = self._predict_frame(X).to_numpy(dtype=float)
        return out[:, 0] if self._y_1d else out
