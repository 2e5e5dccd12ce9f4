"""The blend: the equal-weight average of a task's independent model and its mechanisms.

Not a mechanism that trains anything: it averages, in raw-score space, the models a task already
fitted. Each mechanism's error differs (the offset leans on a GLM, stacking on the trees' use of
sibling columns, shared trees on a partition learned from every task), so their average has less
variance than any of them, the same reason bagging pays. The weights are equal, not fit on the
held-out scores, so the blend's held-out scores are as honest as its members'.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gbmtl.sharing._base import MechanismFit
from gbmtl.sharing._siblings import SIBLING_LABEL, SiblingInputs

NAME = "blend"


class BlendModel:
    mechanism = NAME

    def __init__(self, members: list):
        self.members = list(members)
        self.siblings = list(dict.fromkeys(s for m in self.members for s in m.siblings))

    @property
    def rounds(self) -> int:
        return max(m.rounds for m in self.members)

    @property
    def n_models(self) -> int:
        return sum(m.n_models for m in self.members)

    @property
    def ensemble(self):
        """The shared-trees ensemble a member uses, if any (saved once with the model)."""
        return next((m.ensemble for m in self.members if hasattr(m, "ensemble")), None)

    def predict_raw(self, F: pd.DataFrame, inputs: SiblingInputs) -> np.ndarray:
        return np.mean([m.predict_raw(F, inputs) for m in self.members], axis=0)

    def contributions(self, F: pd.DataFrame, inputs: SiblingInputs):
        names = list(F.columns) + [f"{SIBLING_LABEL}{s}" for s in self.siblings]
        where = {n: i for i, n in enumerate(names)}
        total = None
        for m in self.members:
            member_names, c = m.contributions(F, inputs)
            if total is None:
                total = np.zeros((c.shape[0], c.shape[1], len(names) + 1))
            idx = [where[n] for n in member_names]
            total[:, :, idx] += c[:, :, :-1]
            total[:, :, -1] += c[:, :, -1]
        return names, total / len(self.members)

    def feature_importance(self, features: list[str]) -> pd.Series:
        parts = [m.feature_importance(features) for m in self.members]
        return pd.concat(parts, axis=1).fillna(0.0).mean(axis=1)

    def to_manifest(self, store, stem: str) -> dict:
        return {"members": [{"mechanism": m.mechanism, **m.to_manifest(store, f"{stem}_{i}")}
                            for i, m in enumerate(self.members)]}

    @classmethod
    def from_manifest(cls, entry: dict, store, **kw) -> BlendModel:
        from gbmtl.sharing import FITTED

        return cls([FITTED[e["mechanism"]].from_manifest(e, store, **kw)
                    for e in entry["members"]])


def blend(fits: dict[str, MechanismFit], names: list[str]) -> MechanismFit | None:
    """The blend of the fits ``names`` (the independent model first), or None when fewer than
    two of them have held-out scores on the same basis."""
    members = [fits[n] for n in names if n in fits]
    if len(members) < 3:  # the independent model and at least two mechanisms
        return None
    oof = val = None
    if all(f.oof is not None for f in members):
        oof = np.mean([f.oof for f in members], axis=0)
    if all(f.val is not None for f in members):
        val = np.mean([f.val for f in members], axis=0)
    if oof is None and val is None:
        return None
    return MechanismFit(BlendModel([f.model for f in members]), oof, val)
