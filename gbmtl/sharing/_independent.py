"""Independent models: one booster per task on its own labelled rows (no sharing).

Every fit trains them: they are the baseline every mechanism must beat, and their out-of-fold
scores are the sibling inputs of the other mechanisms.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gbmtl._context import FitContext, TaskPlan
from gbmtl.sharing._base import MechanismFit
from gbmtl.sharing._siblings import SiblingInputs
from gbmtl.sharing._trees import TreeStack, train_folds, train_main


class IndependentModel:
    mechanism = "independent"

    def __init__(self, trees: TreeStack):
        self.trees = trees
        self.siblings: list[str] = []

    @property
    def rounds(self) -> int:
        return self.trees.rounds

    @property
    def n_models(self) -> int:
        return len(self.trees.models)

    def predict_raw(self, F: pd.DataFrame, inputs: SiblingInputs | None = None) -> np.ndarray:
        return self.trees.predict_raw(F)

    def contributions(self, F: pd.DataFrame, inputs: SiblingInputs | None = None):
        return list(F.columns), self.trees.contributions(F)

    def feature_importance(self, features: list[str]) -> pd.Series:
        return pd.Series(self.trees.feature_importance(), index=features)

    def to_manifest(self, store, stem: str) -> dict:
        return {"trees": self.trees.to_manifest(store, stem)}

    @classmethod
    def from_manifest(cls, entry: dict, store, *, n_outputs: int, **_) -> IndependentModel:
        return cls(TreeStack.from_manifest(entry["trees"], store, n_outputs=n_outputs,
                                           offset=False))


class Independent:
    name = "independent"
    uses_siblings = False

    def fit(self, ctx: FitContext, plans: list[TaskPlan],
            inputs: SiblingInputs | None = None) -> dict[str, MechanismFit]:
        fits = train_main(ctx, self.name, plans)
        train_folds(ctx, self.name, fits)
        return {
            name: MechanismFit(IndependentModel(fit.stack(ctx.aligned)),
                               fit.oof if fit.plan.folds else None, fit.val)
            for name, fit in fits.items()
        }
