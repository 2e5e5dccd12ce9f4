"""What a sharing mechanism is: it fits from the context into one fitted model per task.

A mechanism (``Mechanism``) trains, for the tasks that use it, a fitted model
(``SharingModel``) that owns its raw-score prediction, its contributions and its manifest entry,
together with the out-of-fold or validation raw scores the per-task choice compares. Adding a
mechanism is one module with both classes plus a registry entry in :mod:`gbmtl.sharing`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from gbmtl._context import FitContext, TaskPlan
from gbmtl.sharing._siblings import SiblingInputs


class SharingModel(Protocol):
    """The fitted part of one mechanism for one task: all that prediction needs."""

    mechanism: str
    siblings: list[str]  # tasks whose stage-1 scores it reads at predict time

    @property
    def rounds(self) -> int: ...

    @property
    def n_models(self) -> int: ...

    def predict_raw(self, F: pd.DataFrame, inputs: SiblingInputs) -> np.ndarray:
        """Raw scores ``(n, outputs)`` of the rows of ``F`` (siblings' scores in ``inputs``)."""

    def contributions(self, F: pd.DataFrame, inputs: SiblingInputs) -> tuple[list[str], np.ndarray]:
        """Column names (features, then ``"sibling:<task>"``) and contributions
        ``(n, outputs, len(names) + 1)`` whose last column is the bias; per row and output
        they add up to the raw score."""

    def feature_importance(self, features: list[str]) -> pd.Series:
        """Total gain per feature (and per sibling, as ``"sibling:<task>"``)."""

    def to_manifest(self, store, stem: str) -> dict:
        """A JSON-able entry; booster files go through ``store.put(bytes, name)``."""


@dataclass
class MechanismFit:
    """One mechanism fitted for one task, with the held-out raw scores the choice compares."""

    model: SharingModel
    oof: np.ndarray | None  # (table rows, outputs) out-of-fold raw scores, NaN where none
    val: np.ndarray | None  # raw scores of the task's validation rows
    affinity: dict[str, float] = field(default_factory=dict)  # per-sibling permutation gain


class Mechanism(Protocol):
    name: str
    uses_siblings: bool

    def fit(self, ctx: FitContext, plans: list[TaskPlan],
            inputs: SiblingInputs | None) -> dict[str, MechanismFit]:
        """Fit the tasks of ``plans``; ``inputs`` are every task's out-of-fold raw scores."""
