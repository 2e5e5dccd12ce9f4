"""A small regularised GLM on the siblings' raw scores: the offset a task's trees boost from.

Inputs are each sibling's raw scores: log-odds of binary siblings, per-class margins of
multiclass siblings (centred per row, as only their differences matter), values of regression
siblings; each column standardised on the GLM's training rows, missing ones (rows a
time-ordered split never predicted) set to the mean. The output is in the task's raw-score
space: log-odds (logistic regression), per-class margins (multinomial) or values (ridge). The
strength of the L2 penalty is chosen by 3-fold cross-validation on the same rows. Stored as plain
numbers, never pickled.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV, RidgeCV
from sklearn.model_selection import KFold, StratifiedKFold

from gbmtl.sharing._siblings import SiblingInputs

#: Inverse penalties tried for logistic GLMs and penalties tried for ridge GLMs.
CS = (0.01, 0.1, 1.0, 10.0)
ALPHAS = (0.1, 1.0, 10.0, 100.0)
#: A GLM with a handful of coefficients needs no more rows than this (seeded subsample above it).
MAX_ROWS = 100_000
# scikit-learn 1.8 changed LogisticRegressionCV's fitted attributes and warns until one opts in
# to the new ones (a scalar ``C_``); older releases have neither argument.
_LRCV_NEW = ({"l1_ratios": (0.0,), "use_legacy_attributes": False}
             if "use_legacy_attributes" in inspect.signature(LogisticRegressionCV).parameters
             else {})


def _design(inputs: SiblingInputs, siblings: list[str]) -> tuple[np.ndarray, list[str]]:
    """Raw sibling columns and the sibling each belongs to."""
    cols, owner = [], []
    for s in siblings:
        raw = np.asarray(inputs.raw[s], dtype=float).reshape(len(inputs.raw[s]), -1)
        if inputs.kinds[s] == "multiclass":
            raw = raw - raw.mean(axis=1, keepdims=True)
        cols.append(raw)
        owner += [s] * raw.shape[1]
    return np.hstack(cols), owner


class SiblingGLM:
    """Fitted coefficients of the offset; ``margin`` gives raw scores ``(n, outputs)``."""

    def __init__(self, kind: str, siblings: list[str], owner: list[str], mean, scale, coef,
                 intercept, penalty: float):
        self.kind = kind
        self.siblings = list(siblings)
        self.owner = list(owner)  # the sibling of each input column
        self.mean = np.asarray(mean, dtype=float)
        self.scale = np.asarray(scale, dtype=float)
        self.coef = np.asarray(coef, dtype=float).reshape(-1, len(self.mean))  # outputs x inputs
        self.intercept = np.asarray(intercept, dtype=float).reshape(-1)
        self.penalty = float(penalty)

    @classmethod
    def fit(cls, kind: str, inputs: SiblingInputs, siblings: list[str], rows: np.ndarray,
            y: np.ndarray, weight: np.ndarray | None, n_classes: int, seed: int) -> SiblingGLM:
        if len(rows) > MAX_ROWS:
            rows = np.sort(np.random.default_rng(seed).choice(rows, MAX_ROWS, replace=False))
        Z, owner = _design(inputs.rows(rows), siblings)
        seen = np.isfinite(Z)
        count = seen.sum(axis=0)
        # Column means and deviations over the rows that have a score (a time-ordered split can
        # leave a sibling without any on these rows: mean 0, scale 1, the column then adds 0).
        mean = np.where(seen, Z, 0.0).sum(axis=0) / np.maximum(count, 1)
        var = np.where(seen, (Z - mean) ** 2, 0.0).sum(axis=0) / np.maximum(count, 1)
        scale = np.where(var > 0, np.sqrt(var), 1.0)
        Z = np.nan_to_num((Z - mean) / scale, nan=0.0)
        yr = y[rows]
        w = None if weight is None else weight[rows]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if kind == "regression":
                cv = KFold(3, shuffle=True, random_state=seed) if len(rows) >= 6 else None
                m = RidgeCV(alphas=ALPHAS, cv=cv).fit(Z, yr, sample_weight=w)
                coef, intercept, penalty = m.coef_[None, :], [m.intercept_], m.alpha_
            else:
                codes = yr.astype(int)
                counts = np.bincount(codes, minlength=n_classes)
                folds = int(min(3, counts[counts > 0].min()))
                cv = StratifiedKFold(max(folds, 2), shuffle=True, random_state=seed)
                if folds < 2:  # too few rows of some class to cross-validate: a middle penalty
                    m = LogisticRegression(C=1.0, max_iter=500).fit(Z, codes, sample_weight=w)
                    penalty = 1.0
                else:
                    m = LogisticRegressionCV(Cs=list(CS), cv=cv, scoring="neg_log_loss",
                                             max_iter=500, **_LRCV_NEW)
                    m.fit(Z, codes, sample_weight=w)
                    penalty = float(np.ravel(m.C_)[0])
                coef, intercept = m.coef_, m.intercept_
                if kind == "multiclass" and coef.shape[0] != n_classes:
                    raise ValueError("offset GLM: a class is absent from the GLM's rows")
        return cls(kind, siblings, owner, mean, scale, coef, intercept, penalty)

    def standardised(self, inputs: SiblingInputs) -> np.ndarray:
        Z, _ = _design(inputs, self.siblings)
        return np.nan_to_num((Z - self.mean) / self.scale, nan=0.0)

    def margin(self, inputs: SiblingInputs) -> np.ndarray:
        return self.standardised(inputs) @ self.coef.T + self.intercept

    def parts(self, inputs: SiblingInputs) -> dict[str, np.ndarray]:
        """Each sibling's share of the margin ``(n, outputs)``; with the intercept they add up
        to :meth:`margin`."""
        Z = self.standardised(inputs)
        owner = np.asarray(self.owner)
        return {s: Z[:, owner == s] @ self.coef[:, owner == s].T for s in self.siblings}

    def to_dict(self) -> dict:
        return {"kind": self.kind, "siblings": self.siblings, "owner": self.owner,
                "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "coef": self.coef.tolist(),
                "intercept": self.intercept.tolist(), "penalty": self.penalty}

    @classmethod
    def from_dict(cls, d: dict) -> SiblingGLM:
        return cls(d["kind"], d["siblings"], d["owner"], d["mean"], d["scale"], d["coef"],
                   d["intercept"], d["penalty"])



def sibling_glm(ctx, plan, inputs: SiblingInputs, fold: int | None) -> SiblingGLM:
    """The task's sibling GLM on its fitting rows (``fold`` None) or on a fold's training rows,
    fit once per fit and shared by the offset mechanism and the choice."""
    key = (plan.name, fold)
    if key not in ctx.glms:
        rows = plan.fit_rows if fold is None else plan.folds[fold][0]
        ctx.glms[key] = SiblingGLM.fit(plan.kind, inputs, plan.siblings, rows, plan.enc.y,
                                       plan.weight, plan.n_classes,
                                       ctx.seed_for(plan.index, "offset", fold))
    return ctx.glms[key]


def sibling_information(ctx, plan, inputs: SiblingInputs) -> tuple[np.ndarray, np.ndarray]:
    """Held-out raw scores of the siblings' GLM alone, and their rows: out of fold for a task
    decided out of fold (each fold's GLM never saw its rows), else on the validation rows."""
    if plan.out_of_fold:
        raw = np.full((len(ctx.X), plan.width), np.nan)
        for k, (_, te) in enumerate(plan.folds):
            fold = None if ctx.aligned and k == 0 else k
            raw[te] = sibling_glm(ctx, plan, inputs, fold).margin(inputs.rows(te))
        rows = plan.enc.labelled
        rows = rows[np.isfinite(raw[rows]).all(axis=1)]
        return rows, raw[rows]
    rows = plan.val_rows
    return rows, sibling_glm(ctx, plan, inputs, None).margin(inputs.rows(rows))
