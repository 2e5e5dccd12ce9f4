"""Thin scikit-learn estimators over MultiTaskBooster for all-classification or all-regression y."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, check_is_fitted, validate_data

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
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        if isinstance(y, str) and y == "no_validation":
            return validate_data(self, X, reset=reset, ensure_all_finite="allow-nan")
        X = validate_data(self, X, reset=reset, ensure_all_finite="allow-nan",
                          ensure_min_samples=2)
        # scikit-learn's multi-output y check rejects NaN, which here means "label unknown".
        y = np.asarray(y, dtype=float if self._kind == "regression" else None)
        if y.ndim not in (1, 2) or (y.ndim == 2 and y.shape[1] == 0):
            raise ValueError(f"y must be 1-D or 2-D with at least one column, got shape {y.shape}")
        check_consistent_length(X, y)
        return X, y

    def _fit(self, X, y, sample_weight, task_kinds) -> None:
        self._y_1d = np.ndim(y) == 1
        Y = np.asarray(y).reshape(len(y), -1)
        frame = pd.DataFrame({f"y{i}": Y[:, i] for i in range(Y.shape[1])})
        tasks = [Task(col, kind=kind) for col, kind in zip(frame.columns, task_kinds, strict=True)]
        self.booster_ = self._booster(tasks).fit(X, frame, sample_weight=sample_weight)

    def _predict_frame(self, X) -> pd.DataFrame:
        check_is_fitted(self, "booster_")
        X = self._validate(X, reset=False)
        return self.booster_.predict(X)

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
        X, y = self._validate(X, y)
        Y = np.asarray(y).reshape(len(y), -1)
        labelled = pd.DataFrame(Y).stack().to_numpy()
        check_classification_targets(labelled)
        kinds = []
        for i in range(Y.shape[1]):
            n_classes = pd.Series(Y[:, i]).dropna().nunique()
            if n_classes < 2:
                raise ValueError(
                    f"MultiTaskClassifier: output {i} has {n_classes} class; at least 2 are needed"
                )
            kinds.append("binary" if n_classes == 2 else "multiclass")
        self._fit(X, y, sample_weight, kinds)
        classes = [self.booster_.classes_[f"y{i}"] for i in range(Y.shape[1])]
        self.classes_ = classes[0] if self._y_1d else classes
        return self

    def predict(self, X) -> np.ndarray:
        out = self._predict_frame(X).to_numpy()
        return out[:, 0] if self._y_1d else out

    def predict_proba(self, X):
        check_is_fitted(self, "booster_")
        X = self._validate(X, reset=False)
        proba = self.booster_.predict_proba(X)
        out = [proba[t.name] for t in self.booster_.tasks_]
        return out[0] if self._y_1d else out


class MultiTaskRegressor(RegressorMixin, _MultiTaskBase):
    __doc__ = "Multi-output regressor: one boosted task per column of ``y``.\n" + _DOC_PARAMS
    _kind = "regression"

    def fit(self, X, y, sample_weight=None) -> MultiTaskRegressor:
        X, y = self._validate(X, y)
        n_outputs = 1 if np.ndim(y) == 1 else np.shape(y)[1]
        self._fit(X, y, sample_weight, ["regression"] * n_outputs)
        return self

    def predict(self, X) -> np.ndarray:
        out = self._predict_frame(X).to_numpy(dtype=float)
        return out[:, 0] if self._y_1d else out
