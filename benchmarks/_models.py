"""Model adapters for the benchmark: one small class per model family, one interface.

Each adapter says whether it applies to a task set (``not_applicable`` returns a reason or
None), fits on ``(X, Y)`` with NaN marking unknown labels, and predicts what the metrics need:
the positive-class probability for binary tasks, ``(n, k)`` probabilities plus the classes for
multiclass tasks, values for regression. Every model runs with its library's or its own
documented defaults; nothing is tuned. Libraries are imported when a model is fitted.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd

__all__ = ["MODELS", "NEURAL", "make_adapter"]

NEURAL = {
    "single_mlp": "single",
    "shared_bottom": "shared_bottom",
    "cross_stitch": "cross_stitch",
    "mmoe": "mmoe",
    "ple": "ple",
}
MODELS = ("gbmtl", "gbmtl_none", "lightgbm", "lightgbm_libdefaults", "gbmtl_offset",
          "gbmtl_stacking", "gbmtl_shared_trees", "autogluon", "chain", "xgb_multi", *NEURAL)

#: Boosting rounds / epochs of ``--quick`` runs (a smoke test, not a result).
QUICK_ROUNDS = 30
QUICK_EPOCHS = 3


class Adapter:
    """Fit/predict in the benchmark's terms; subclasses fill in ``fit`` and ``predict``."""

    name = ""

    def __init__(self, seed: int, n_jobs: int = 1, quick: bool = False):
        self.seed = seed
        self.n_jobs = n_jobs
        self.quick = quick
        self.classes: dict[str, np.ndarray] = {}
        self.notes: list[str] = []

    def not_applicable(self, kinds: dict[str, str], Y: pd.DataFrame) -> str | None:
        return None

    def fit(self, X: pd.DataFrame, Y: pd.DataFrame, kinds: dict[str, str]) -> None:
        raise NotImplementedError

    def predict(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        raise NotImplementedError


def _outputs(model, X, kinds) -> dict[str, np.ndarray]:
    """Binary: P(class 1); multiclass: (n, k); regression: values (gbmtl and neural layout)."""
    proba = model.predict_proba(X)
    out = {}
    for task, kind in kinds.items():
        if kind == "binary":
            out[task] = proba[task][:, 1]
        elif kind == "multiclass":
            out[task] = proba[task]
    if any(k == "regression" for k in kinds.values()):
        pred = model.predict(X)
        for task, kind in kinds.items():
            if kind == "regression":
                out[task] = pred[task].to_numpy(dtype=float)
    return out


class GBMTL(Adapter):
    """``MultiTaskBooster`` with one sharing setting (see :data:`GBMTL_VARIANTS`)."""

    def __init__(self, name: str, **kw):
        super().__init__(**kw)
        self.name = name

    def fit(self, X, Y, kinds):
        from gbmtl import MultiTaskBooster

        params = dict(GBMTL_VARIANTS[self.name])
        extra = params.pop("params", None)
        if self.quick:
            extra = {**(extra or {}), "n_estimators": QUICK_ROUNDS}
        self.model = MultiTaskBooster(
            tasks=dict(kinds), params=extra, random_state=self.seed, n_jobs=self.n_jobs, **params,
        ).fit(X, Y)
        self.classes = dict(self.model.classes_)
        report = self.model.sharing_report_
        self.notes.append("mechanisms: " + "; ".join(
            f"{t} <- {m}" for t, m in report["mechanism"].items()))

    def predict(self, X):
        return _outputs(self.model, X, self.kinds_of_model())

    def kinds_of_model(self):
        return {t.name: t.kind for t in self.model.tasks_}


#: gbmtl variants: the default, sharing off (bagging still on where gbmtl bags), one plain
#: early-stopped LightGBM per task with gbmtl's default parameters (the independent baseline),
#: the same with LightGBM's own defaults, and each mechanism forced on (the ablation).
GBMTL_VARIANTS: dict[str, dict] = {
    "gbmtl": {},
    "gbmtl_none": {"sharing": "none"},
    "lightgbm": {"sharing": "none", "bagging": False},
    "lightgbm_libdefaults": {"sharing": "none", "bagging": False,
                             "params": {"learning_rate": 0.1, "num_leaves": 31,
                                        "min_child_samples": 20, "lambda_l2": 0.0}},
    "gbmtl_offset": {"sharing": "offset"},
    "gbmtl_stacking": {"sharing": "stacking"},
    "gbmtl_shared_trees": {"sharing": "shared_trees"},
}


class Neural(Adapter):
    """``gbmtl.baselines.NeuralMultiTask`` with its default hyperparameters."""

    def __init__(self, name: str, **kw):
        super().__init__(**kw)
        self.name = name

    def not_applicable(self, kinds, Y):
        if importlib.util.find_spec("torch") is None:
            return 'skipped: PyTorch is not installed (pip install "gbmtl[bench]")'
        return None

    def fit(self, X, Y, kinds):
        from gbmtl.baselines import NeuralMultiTask

        extra = {"max_epochs": QUICK_EPOCHS} if self.quick else {}
        self.kinds = dict(kinds)
        self.model = NeuralMultiTask(
            NEURAL[self.name], tasks=dict(kinds), device="cpu", random_state=self.seed, **extra
        ).fit(X, Y)
        self.classes = dict(self.model.classes_)
        self.notes.append(f"epochs run: {self.model.n_epochs_}")

    def predict(self, X):
        return _outputs(self.model, X, self.kinds)


def _numeric(X: pd.DataFrame, fill: float | None) -> pd.DataFrame:
    """Category columns as integer codes (-1 = missing); optionally fill missing numbers."""
    out = X.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].cat.codes.astype("float64")
            if fill is None:
                out.loc[out[col] < 0, col] = np.nan
        elif not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = pd.factorize(out[col])[0].astype("float64")
    out = out.astype("float64")
    return out.fillna(fill) if fill is not None else out


class _JointTargets(Adapter):
    """Models with one multi-output target matrix: all-binary or all-regression, no NaN."""

    library = ""

    def not_applicable(self, kinds, Y):
        kset = set(kinds.values())
        if kset not in ({"binary"}, {"regression"}):
            return (f"not applicable: {self.library} needs all-binary or all-regression tasks, "
                    f"got {sorted(kset)}")
        if Y.notna().all(axis=1).sum() < 50:
            return "not applicable: fewer than 50 training rows have every label"
        return None

    def _rows(self, Y):
        rows = Y.notna().all(axis=1).to_numpy()
        if not rows.all():
            self.notes.append(f"dropped {int((~rows).sum())} training rows with a missing label")
        return rows


class Chain(_JointTargets):
    """scikit-learn ``ClassifierChain`` / ``RegressorChain`` around default LightGBM models."""

    name = "chain"
    library = "ClassifierChain/RegressorChain"

    def fit(self, X, Y, kinds):
        from lightgbm import LGBMClassifier, LGBMRegressor
        from sklearn.multioutput import ClassifierChain, RegressorChain

        rows = self._rows(Y)
        self.tasks = list(Y.columns)
        self.binary = set(kinds.values()) == {"binary"}
        extra = {"n_estimators": QUICK_ROUNDS} if self.quick else {}
        base = dict(random_state=self.seed, n_jobs=self.n_jobs, verbose=-1, **extra)
        # scikit-learn validates X as a finite numeric array: categories become codes and
        # missing numbers a sentinel, which trees split off like LightGBM's own NaN handling.
        Xn = _numeric(X, fill=-1e9)[rows]
        Yn = Y[rows].to_numpy(dtype="float64")
        if self.binary:
            self.model = ClassifierChain(LGBMClassifier(**base), random_state=self.seed)
            self.model.fit(Xn, Yn.astype(int))
            self.classes = {t: np.array([0, 1]) for t in self.tasks}
        else:
            self.model = RegressorChain(LGBMRegressor(**base), random_state=self.seed)
            self.model.fit(Xn, Yn)

    def predict(self, X):
        Xn = _numeric(X, fill=-1e9)
        pred = self.model.predict_proba(Xn) if self.binary else self.model.predict(Xn)
        return {t: np.asarray(pred[:, i], dtype=float) for i, t in enumerate(self.tasks)}


class XGBMulti(_JointTargets):
    """One XGBoost model whose trees have a vector leaf per task (``multi_output_tree``)."""

    name = "xgb_multi"
    library = "XGBoost multi_output_tree"

    def fit(self, X, Y, kinds):
        from xgboost import XGBClassifier, XGBRegressor

        rows = self._rows(Y)
        self.tasks = list(Y.columns)
        self.binary = set(kinds.values()) == {"binary"}
        extra = {"n_estimators": QUICK_ROUNDS} if self.quick else {}
        # multi_output_tree does not support categorical splits: categories become codes.
        kw = dict(multi_strategy="multi_output_tree", tree_method="hist",
                  random_state=self.seed, n_jobs=self.n_jobs, **extra)
        Xn = _numeric(X, fill=None)[rows]
        Yn = Y[rows].to_numpy(dtype="float64")
        if self.binary:
            self.model = XGBClassifier(**kw).fit(Xn, Yn.astype(int))
            self.classes = {t: np.array([0, 1]) for t in self.tasks}
        else:
            self.model = XGBRegressor(**kw).fit(Xn, Yn)

    def predict(self, X):
        Xn = _numeric(X, fill=None)
        pred = self.model.predict_proba(Xn) if self.binary else self.model.predict(Xn)
        pred = np.asarray(pred, dtype=float).reshape(len(Xn), -1)
        return {t: pred[:, i] for i, t in enumerate(self.tasks)}


def make_adapter(name: str, seed: int, n_jobs: int = 1, quick: bool = False,
                 main_task: str | None = None) -> Adapter:
    """The adapter of model ``name`` (one of :data:`MODELS`); AutoGluon fits ``main_task``
    alone (its time budget per task would dominate every run)."""
    kw = dict(seed=seed, n_jobs=n_jobs, quick=quick)
    if name in GBMTL_VARIANTS:
        return GBMTL(name, **kw)
    if name == "autogluon":
        from benchmarks._autogluon import AutoGluon

        return AutoGluon(tasks=None if main_task is None else [main_task], **kw)
    if name == "chain":
        return Chain(**kw)
    if name == "xgb_multi":
        return XGBMulti(**kw)
    if name in NEURAL:
        return Neural(name, **kw)
    raise ValueError(f"unknown model {name!r}; expected one of {', '.join(MODELS)}")
