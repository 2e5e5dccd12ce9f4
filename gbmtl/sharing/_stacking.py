"""Stacking: a task's trees also see its siblings' predictions as extra columns.

At fit time those columns hold the siblings' out-of-fold predictions, so no row's sibling
feature was produced by a model that saw that row's label; at predict time they hold the
siblings' stage-1 predictions. Soft sharing through the inputs: the trees decide where a
sibling's prediction helps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gbmtl._context import FitContext, TaskPlan
from gbmtl.sharing._base import MechanismFit
from gbmtl.sharing._scoring import MAX_COMPARED_ROWS, permutation_gains
from gbmtl.sharing._siblings import SIBLING_LABEL, SiblingInputs, stacking_block
from gbmtl.sharing._trees import TreeStack, predict_rows, train_folds, train_main


class StackingModel:
    mechanism = "stacking"

    def __init__(self, trees: TreeStack, siblings: list[str], widths: dict[str, int]):
        self.trees = trees
        self.siblings = list(siblings)
        self.widths = {s: int(widths[s]) for s in self.siblings}  # stacking columns per sibling

    @property
    def rounds(self) -> int:
        return self.trees.rounds

    @property
    def n_models(self) -> int:
        return len(self.trees.models)

    def table(self, F: pd.DataFrame, inputs: SiblingInputs) -> pd.DataFrame:
        block = stacking_block(inputs, self.siblings).set_axis(F.index, axis=0)
        return pd.concat([F, block], axis=1)

    def predict_raw(self, F: pd.DataFrame, inputs: SiblingInputs) -> np.ndarray:
        return self.trees.predict_raw(self.table(F, inputs))

    def contributions(self, F: pd.DataFrame, inputs: SiblingInputs):
        table = self.table(F, inputs)
        c = self.trees.contributions(table)
        n_feat = F.shape[1]
        owner = self._column_siblings(table.shape[1] - n_feat)
        parts = [c[:, :, :n_feat]]
        for s in self.siblings:
            idx = [n_feat + i for i, o in enumerate(owner) if o == s]
            parts.append(c[:, :, idx].sum(axis=2, keepdims=True))
        parts.append(c[:, :, -1:])
        names = list(F.columns) + [f"{SIBLING_LABEL}{s}" for s in self.siblings]
        return names, np.concatenate(parts, axis=2)

    def feature_importance(self, features: list[str]) -> pd.Series:
        imp = self.trees.feature_importance()
        n = len(features)
        out = pd.Series(imp[:n], index=features)
        owner = [f"{SIBLING_LABEL}{s}" for s in self._column_siblings(len(imp) - n)]
        sib = pd.Series(imp[n:], index=owner).groupby(level=0, sort=False).sum()
        return pd.concat([out, sib])

    def _column_siblings(self, n_extra: int) -> list[str]:
        """The sibling of each stacking column, in table order."""
        owners = [s for s in self.siblings for _ in range(self.widths[s])]
        assert len(owners) == n_extra, (owners, n_extra)
        return owners

    def to_manifest(self, store, stem: str) -> dict:
        return {"trees": self.trees.to_manifest(store, stem), "siblings": self.siblings,
                "widths": self.widths}

    @classmethod
    def from_manifest(cls, entry: dict, store, *, n_outputs: int, **_) -> StackingModel:
        trees = TreeStack.from_manifest(entry["trees"], store, n_outputs=n_outputs, offset=False)
        return cls(trees, entry["siblings"], entry["widths"])


class Stacking:
    name = "stacking"
    uses_siblings = True

    def fit(self, ctx: FitContext, plans: list[TaskPlan],
            inputs: SiblingInputs) -> dict[str, MechanismFit]:
        out = {}
        # One task at a time: each stacking table is a copy of the feature table plus columns.
        n_feat = ctx.X.shape[1]
        for p in plans:
            table = pd.concat([ctx.X, stacking_block(inputs, p.siblings)], axis=1)

            def table_of(_p, table=table):
                return table

            fits = train_main(ctx, self.name, [p], table_of=table_of)
            if p.out_of_fold:
                train_folds(ctx, self.name, fits, table_of=table_of)
            fit = fits[p.name]
            widths = {s: 1 if inputs.kinds[s] != "multiclass" else inputs.raw[s].shape[1]
                      for s in p.siblings}
            model = StackingModel(fit.stack(ctx.aligned), p.siblings, widths)
            owner = model._column_siblings(table.shape[1] - n_feat)

            # Affinity on at most MAX_COMPARED_ROWS validation rows: one prediction per sibling.
            pick = np.arange(len(p.val_rows))
            if len(pick) > MAX_COMPARED_ROWS:
                pick = np.sort(np.random.default_rng(ctx.seed).choice(
                    len(pick), MAX_COMPARED_ROWS, replace=False))
            rows = p.val_rows[pick]

            def permuted(s, order, fit=fit, table=table, owner=owner, rows=rows):
                cols = [c for c, o in zip(table.columns[n_feat:], owner, strict=True) if o == s]
                return predict_rows(fit.main, table, rows, permute=cols, order=order)

            affinity = permutation_gains(p, rows, fit.val[pick], p.siblings, permuted, ctx.seed)
            out[p.name] = MechanismFit(model, fit.oof if p.out_of_fold else None, fit.val,
                                       affinity)
            ctx.forget(table)
        return out
