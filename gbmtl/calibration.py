"""Probability calibration of binary tasks, fit on predictions for rows the model never trained on.

A model's predictions on its own training rows are over-confident, so calibrating on them would
undo little. gbmtl calibrates on out-of-fold predictions where the final model is the plain one
(the fold models share its configuration), and on the early-stopping validation part otherwise.
Calibrators are stored as plain numbers (JSON), never pickled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

METHODS = ("sigmoid", "isotonic")
_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


@dataclass
class Calibrator:
    """A fitted monotone map from a raw probability to a calibrated one."""

    method: str
    params: dict = field(default_factory=dict)
    source: str = ""  # which held-out predictions it was fit on
    n_rows: int = 0

    def __call__(self, p: np.ndarray) -> np.ndarray:
        if self.method == "sigmoid":
            z = self.params["a"] * _logit(p) + self.params["b"]
            return 1.0 / (1.0 + np.exp(-z))
        return np.interp(p, self.params["x"], self.params["y"])

    def to_dict(self) -> dict:
        return {"method": self.method, "params": self.params, "source": self.source,
                "n_rows": self.n_rows}

    @classmethod
    def from_dict(cls, data: dict) -> Calibrator:
        return cls(**data)


def fit_calibrator(method: str, p: np.ndarray, y: np.ndarray, weight=None, source: str = ""
                   ) -> Calibrator:
    """Fit a Platt (``"sigmoid"``) or isotonic calibrator of probabilities ``p`` to labels ``y``."""
    if method == "sigmoid":
        # Platt scaling on the log-odds; a large C leaves the two numbers unpenalised.
        lr = LogisticRegression(C=1e6).fit(_logit(p).reshape(-1, 1), y, sample_weight=weight)
        params = {"a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}
    elif method == "isotonic":
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        iso.fit(p, y, sample_weight=weight)
        params = {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
    else:
        raise ValueError(f"calibration: unknown method {method!r}; expected one of {METHODS}")
    return Calibrator(method, params, source, int(len(p)))


def resolve_calibration(calibration, tasks) -> dict[str, str]:
    """Map each task to its calibration method from the estimator's ``calibration`` parameter."""
    if calibration is None:
        return {}
    kinds = {t.name: t.kind for t in tasks}
    if isinstance(calibration, str):
        if calibration not in METHODS:
            raise ValueError(
                f"calibration: expected None, {METHODS} or a dict task -> method, "
                f"got {calibration!r}"
            )
        return {name: calibration for name, kind in kinds.items() if kind == "binary"}
    if not isinstance(calibration, dict):
        raise ValueError("calibration: expected None, a method name or a dict task -> method")
    out = {}
    for name, method in calibration.items():
        if name not in kinds:
            raise ValueError(f"calibration: unknown task {name!r}; tasks are {list(kinds)}")
        if kinds[name] != "binary":
            raise ValueError(
                f"calibration: task {name!r} is {kinds[name]}; only binary tasks are calibrated"
            )
        if method not in METHODS:
            raise ValueError(f"calibration[{name!r}]: unknown method {method!r}; expected {METHODS}")
        out[name] = method
    return out
