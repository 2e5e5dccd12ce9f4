"""Per-task tree models shared by the independent, offset and stacking mechanisms.

Each of these mechanisms trains, per task, one model on the fitting rows (early-stopped on the
validation part, which fixes the number of rounds) and, where the task needs out-of-fold scores,
one model per remaining fold at that number of rounds. :class:`TreeStack` is the fitted result:
one model, or the fold models whose raw scores are averaged (bagging).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from gbmtl._context import FitContext, TaskPlan
from gbmtl._executor import ModelJob
from gbmtl.backends import FittedModel, get_backend

TableOf = Callable[[TaskPlan], "pd.DataFrame | None"]
InitOf = Callable[[TaskPlan, "int | None"], "np.ndarray | None"]


def _matrix_path(models: list) -> bool:
    return all(getattr(m, "as_matrix", None) is not None for m in models)


#: Rows converted and predicted at a time: the float copy of a large table is made block by
#: block, so predicting a million rows does not hold a second copy of the table in memory.
PREDICT_BLOCK = 65_536


def predict_raw(models: list[FittedModel], X: pd.DataFrame) -> np.ndarray:
    """Mean raw score of ``models`` on ``X``; LightGBM models share one float conversion of it
    (cheaper than the library's own conversion on every call, see ``LightGBMModel.as_matrix``)."""
    if len(X) > PREDICT_BLOCK:
        return np.concatenate([predict_raw(models, X.iloc[i:i + PREDICT_BLOCK])
                               for i in range(0, len(X), PREDICT_BLOCK)])
    if _matrix_path(models):
        M = models[0].as_matrix(X)
        raw = [m.predict_raw_matrix(M) for m in models]
    else:
        raw = [m.predict_raw(X) for m in models]
    return raw[0] if len(raw) == 1 else np.mean(raw, axis=0)


def predict_rows(model: FittedModel, X: pd.DataFrame, rows: np.ndarray,
                 permute: list[str] | None = None, order: np.ndarray | None = None) -> np.ndarray:
    """``model``'s raw scores for ``rows`` of ``X``, optionally with the columns ``permute``
    shuffled across those rows by ``order`` (permutation importance)."""
    if not permute and len(rows) > PREDICT_BLOCK:
        return np.concatenate([predict_rows(model, X, rows[i:i + PREDICT_BLOCK])
                               for i in range(0, len(rows), PREDICT_BLOCK)])
    part = X.iloc[rows]
    if not _matrix_path([model]):
        if permute:
            part = part.copy()
            part[permute] = part[permute].to_numpy()[order]
        return model.predict_raw(part)
    M = model.as_matrix(part)
    if permute:
        M = np.array(M)  # writable: the conversion may be a read-only view of ``X``
        idx = [X.columns.get_loc(c) for c in permute]
        M[:, idx] = M[np.ix_(order, idx)]
    return model.predict_raw_matrix(M)


class TreeStack:
    """One task's trees for one mechanism: a single model, or fold models averaged (bagging)."""

    def __init__(self, models: list[FittedModel], backend: str):
        self.models = list(models)
        self.backend = backend

    @property
    def rounds(self) -> int:
        return int(self.models[0].best_iteration)

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        return predict_raw(self.models, X)

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        """``(n, outputs, columns + 1)``: the fold models' mean SHAP values still add up to
        the mean raw score, as SHAP values are linear in the model."""
        c = [m.contributions(X) for m in self.models]
        return c[0] if len(c) == 1 else np.mean(c, axis=0)

    def feature_importance(self) -> np.ndarray:
        return np.mean([m.feature_importance() for m in self.models], axis=0)

    def to_manifest(self, store, stem: str) -> dict:
        suffix = get_backend(self.backend).file_suffix
        files = [store.put(m.to_bytes(), f"{stem}_{i}{suffix}") for i, m in enumerate(self.models)]
        return {"backend": self.backend, "models": files}

    @classmethod
    def from_manifest(cls, entry: dict, store, *, n_outputs: int, offset: bool) -> TreeStack:
        backend = get_backend(entry["backend"])
        models = [backend.load(store.get(f), n_outputs=n_outputs, offset=offset)
                  for f in entry["models"]]
        return cls(models, entry["backend"])


class TreeFit:
    """What training one mechanism's trees for one task gives: the model on the fitting rows,
    the fold models, and the raw scores they give rows they never trained on."""

    def __init__(self, plan: TaskPlan, n_rows: int):
        self.plan = plan
        self.main: FittedModel | None = None
        self.folds: dict[int, FittedModel] = {}
        self.val: np.ndarray | None = None  # raw scores of the validation rows (main model)
        self.oof = np.full((n_rows, plan.width), np.nan)  # raw out-of-fold scores

    @property
    def rounds(self) -> int:
        return 0 if self.main is None else int(self.main.best_iteration)

    def stack(self, aligned: bool) -> TreeStack | None:
        """The fitted trees prediction uses: every fold model where the task is bagged (with
        aligned folds the main model is the first one), else the main model."""
        if self.main is None:
            return None
        backend = self.plan.task.backend
        if self.plan.bagged and self.folds:
            first = [self.main] if aligned else []
            return TreeStack(first + [self.folds[k] for k in sorted(self.folds)], backend)
        return TreeStack([self.main], backend)


def _table(ctx: FitContext, table_of: TableOf | None, plan: TaskPlan) -> pd.DataFrame:
    t = None if table_of is None else table_of(plan)
    return ctx.X if t is None else t


def _init(init_of: InitOf | None, plan: TaskPlan, fold: int | None) -> np.ndarray | None:
    return None if init_of is None else init_of(plan, fold)


def train_main(ctx: FitContext, role: str, plans: list[TaskPlan], *,
               table_of: TableOf | None = None, init_of: InitOf | None = None
               ) -> dict[str, TreeFit]:
    """The early-stopped model on each task's fitting rows, and its validation-row scores."""
    n = len(ctx.X)
    jobs = [ModelJob(role, p.name, None, p.fit_rows, p.val_rows, p.max_rounds,
                     ctx.seed_for(p.index, role, None), _init(init_of, p, None),
                     None if table_of is None else table_of(p)) for p in plans]
    models = ctx.executor.run(ctx, jobs)
    fits = {}
    for p, model in zip(plans, models, strict=True):
        fit = fits[p.name] = TreeFit(p, n)
        fit.main = model
        if p.val_rows is not None and len(p.val_rows):
            fit.val = predict_rows(model, _table(ctx, table_of, p), p.val_rows)
    return fits


def train_folds(ctx: FitContext, role: str, fits: dict[str, TreeFit], *,
                table_of: TableOf | None = None, init_of: InitOf | None = None) -> None:
    """Fold models of every task with folds, at its main model's number of rounds, and the
    out-of-fold raw scores (init score included) of its labelled rows."""
    jobs, where = [], []
    for fit in fits.values():
        p = fit.plan
        if not p.folds:
            continue
        if ctx.aligned and fit.val is not None:  # the first fold is the validation part
            init = _init(init_of, p, None)
            fit.oof[p.val_rows] = fit.val + (0 if init is None else init[p.val_rows])
        if fit.rounds == 0:  # nothing to train: the init score alone (zero extra rounds)
            for k, (_, te) in ctx.folds_to_train(p):
                init = _init(init_of, p, k)
                fit.oof[te] = init[te]
            ctx.executor.skip(len(ctx.folds_to_train(p)))
            continue
        for k, (tr, te) in ctx.folds_to_train(p):
            jobs.append(ModelJob(role, p.name, k, tr, None, fit.rounds,
                                 ctx.seed_for(p.index, role, k), _init(init_of, p, k),
                                 None if table_of is None else table_of(p)))
            where.append((fit, k, te))
    models = ctx.executor.run(ctx, jobs)
    for (fit, k, te), model in zip(where, models, strict=True):
        fit.folds[k] = model
        if len(te):
            init = _init(init_of, fit.plan, k)
            raw = predict_rows(model, _table(ctx, table_of, fit.plan), te)
            fit.oof[te] = raw + (0 if init is None else init[te])
