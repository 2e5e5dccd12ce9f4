"""Sibling offsets: a task's trees boost from a start learned from its siblings.

Soft parameter sharing for trees. A small regularised GLM (:class:`SiblingGLM`) on the siblings'
out-of-fold raw scores, fit on the task's own labelled training rows, gives a starting raw score;
the task's trees then boost from it (LightGBM ``init_score``, XGBoost ``base_margin``),
early-stopped on the validation part. When the trees do not improve the validation loss of the
offset alone, the task keeps zero rounds: the GLM is the model.

Out-of-fold scores refit the GLM within each fold (on that fold's training rows only), so the
compared scores of a row never come from a GLM that saw its label.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gbmtl._context import FitContext, TaskPlan
from gbmtl._links import link
from gbmtl.sharing._base import MechanismFit
from gbmtl.sharing._glm import SiblingGLM, sibling_glm
from gbmtl.sharing._scoring import permutation_gains
from gbmtl.sharing._siblings import SIBLING_LABEL, SiblingInputs
from gbmtl.sharing._trees import TreeStack, train_folds, train_main


def training_loss(kind: str, y: np.ndarray, raw: np.ndarray, weight: np.ndarray | None) -> float:
    """The boosting objective's loss (log loss or squared error): what early stopping watches."""
    out = link(kind, raw)
    if kind == "regression":
        per_row = (y - out) ** 2
    else:
        p = out if kind == "multiclass" else np.column_stack([1 - out, out])
        per_row = -np.log(np.clip(p[np.arange(len(y)), y.astype(int)], 1e-15, 1.0))
    return float(np.average(per_row, weights=weight))


class OffsetModel:
    mechanism = "offset"

    def __init__(self, glm: SiblingGLM, trees: TreeStack | None):
        self.glm = glm
        self.trees = trees
        self.siblings = list(glm.siblings)

    @property
    def rounds(self) -> int:
        return 0 if self.trees is None else self.trees.rounds

    @property
    def n_models(self) -> int:
        return 0 if self.trees is None else len(self.trees.models)

    def predict_raw(self, F: pd.DataFrame, inputs: SiblingInputs) -> np.ndarray:
        raw = self.glm.margin(inputs)
        return raw if self.trees is None else raw + self.trees.predict_raw(F)

    def contributions(self, F: pd.DataFrame, inputs: SiblingInputs):
        parts = self.glm.parts(inputs)
        width = len(self.glm.intercept)
        if self.trees is None:
            c = np.zeros((len(F), width, F.shape[1] + 1))
        else:
            c = np.array(self.trees.contributions(F))
        c[:, :, -1] += self.glm.intercept
        sib = np.stack([parts[s] for s in self.siblings], axis=2)
        names = list(F.columns) + [f"{SIBLING_LABEL}{s}" for s in self.siblings]
        return names, np.concatenate([c[:, :, :-1], sib, c[:, :, -1:]], axis=2)

    def feature_importance(self, features: list[str]) -> pd.Series:
        imp = (np.zeros(len(features)) if self.trees is None
               else self.trees.feature_importance())
        return pd.Series(imp, index=features)

    def to_manifest(self, store, stem: str) -> dict:
        return {"glm": self.glm.to_dict(),
                "trees": None if self.trees is None else self.trees.to_manifest(store, stem)}

    @classmethod
    def from_manifest(cls, entry: dict, store, *, n_outputs: int, **_) -> OffsetModel:
        trees = (None if entry["trees"] is None else
                 TreeStack.from_manifest(entry["trees"], store, n_outputs=n_outputs, offset=True))
        return cls(SiblingGLM.from_dict(entry["glm"]), trees)


class Offset:
    name = "offset"
    uses_siblings = True

    def fit(self, ctx: FitContext, plans: list[TaskPlan],
            inputs: SiblingInputs) -> dict[str, MechanismFit]:
        inits: dict[tuple[str, int | None], np.ndarray] = {}

        def glm_of(p: TaskPlan, fold: int | None) -> SiblingGLM:
            return sibling_glm(ctx, p, inputs, fold)

        def init_of(p: TaskPlan, fold: int | None) -> np.ndarray:
            key = (p.name, fold)
            if key not in inits:
                inits[key] = glm_of(p, fold).margin(inputs)
            return inits[key]

        fits = train_main(ctx, self.name, plans, init_of=init_of)
        for fit in fits.values():
            p = fit.plan
            if fit.val is None:
                continue
            start = init_of(p, None)[p.val_rows]
            y, w = p.enc.y[p.val_rows], None if p.weight is None else p.weight[p.val_rows]
            if training_loss(p.kind, y, start + fit.val, w) >= training_loss(p.kind, y, start, w):
                fit.main, fit.val = None, np.zeros_like(fit.val)  # zero extra rounds
        train_folds(ctx, self.name, {n: f for n, f in fits.items() if f.plan.out_of_fold},
                    init_of=init_of)
        out = {}
        for name, fit in fits.items():
            p = fit.plan
            glm = glm_of(p, None)
            val = None if fit.val is None else init_of(p, None)[p.val_rows] + fit.val
            affinity = permutation_gains(
                p, p.val_rows, val, p.siblings,
                lambda s, order, p=p, glm=glm, fit=fit: self._permuted(glm, inputs, p, s, order,
                                                                      fit.val),
                ctx.seed)
            model = OffsetModel(glm, fit.stack(ctx.aligned))
            out[name] = MechanismFit(model, fit.oof if p.out_of_fold else None, val, affinity)
            for key in [k for k in inits if k[0] == name]:
                del inits[key]  # free each task's init scores once its models are trained
        return out

    @staticmethod
    def _permuted(glm: SiblingGLM, inputs: SiblingInputs, p: TaskPlan, sibling: str,
                  order: np.ndarray, trees_val: np.ndarray) -> np.ndarray:
        part = inputs.rows(p.val_rows)
        part.raw[sibling] = part.raw[sibling][order]
        return glm.margin(part) + trees_val
