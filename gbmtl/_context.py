"""The fit context: what every model of one fit shares, built once before any model trains.

It holds the feature table, each task's encoded labels and weights, its split plan (the
early-stopping validation part and the folds), which sharing mechanisms it compares, whether it
predicts with its fold models (bagging), and the seeds. Mechanisms read it; none of them splits
rows or resolves parameters again, so that every mechanism of a task sees the same rows.

With the default folds, the early-stopping validation part is itself one of the K folds, and its
fold model is the model trained on the fitting rows (used at the number of rounds every fold model
gets): each mechanism trains K - 1 fold models instead of K.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    ShuffleSplit,
    StratifiedGroupKFold,
    StratifiedKFold,
    StratifiedShuffleSplit,
)

from gbmtl._labels import EncodedTask
from gbmtl.backends import n_outputs
from gbmtl.tasks import Task

#: Share of a task's labelled rows held out for early stopping and, for large tasks, the choice.
VALIDATION_FRACTION = 0.2
#: Tasks with at most this many labelled rows train fold models for every mechanism they
#: compare, decide on out-of-fold predictions of all their labelled rows (a 20 % validation part
#: of a label-scarce task is too small to show a real gain beyond noise), and predict with the
#: average of their fold models (bagging), as AutoML tools do: on small tables the variance of a
#: single model is the largest error, and the fold models exist anyway. Above it, the extra fits
#: and the K-fold prediction cost buy little, and the validation part is large enough to decide on.
OUT_OF_FOLD_MAX_ROWS = 20_000


@dataclass
class TaskPlan:
    """One task's share of the context."""

    task: Task
    index: int
    enc: EncodedTask
    weight: np.ndarray | None
    params: dict[str, Any]
    max_rounds: int
    fit_rows: np.ndarray
    val_rows: np.ndarray | None
    folds: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    out_of_fold: bool = False  # fold models for every mechanism; choice on all labelled rows
    bagged: bool = False  # predict with the average of the fold models
    siblings: list[str] = field(default_factory=list)  # sibling tasks it may learn from
    candidates: list[str] = field(default_factory=list)  # sharing mechanisms to compare
    forced: str | None = None  # a mechanism forced on, without comparison
    unskilled: list[str] = field(default_factory=list)  # siblings dropped: no skill of their own

    @property
    def name(self) -> str:
        return self.task.name

    @property
    def kind(self) -> str:
        return self.task.kind

    @property
    def n_classes(self) -> int:
        return len(self.enc.classes) if self.enc.classes is not None else 0

    @property
    def width(self) -> int:
        """Raw-score columns of the task (one per class for multiclass tasks)."""
        return n_outputs(self.kind, self.n_classes)

    @property
    def mechanisms(self) -> list[str]:
        """Every sharing mechanism (or blend) this task fits: its candidates and the forced one."""
        return list(dict.fromkeys([*self.candidates, *([self.forced] if self.forced else [])]))


@dataclass
class FitContext:
    """Everything the models of one fit share."""

    X: pd.DataFrame
    plans: list[TaskPlan]
    groups: np.ndarray | None
    seed: int
    early_stopping_rounds: int | None
    aligned: bool
    n_folds: int
    cv: Any
    executor: Any
    sharing_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)  # the estimator-wide backend params
    cache: dict = field(default_factory=dict)  # the backends' binned tables
    glms: dict = field(default_factory=dict)  # sibling GLMs by (task, fold), fit once

    def plan(self, name: str) -> TaskPlan:
        for p in self.plans:
            if p.name == name:
                return p
        raise KeyError(name)

    def seed_for(self, index: int, role: str, fold: int | None) -> int:
        """A distinct, reproducible seed per task, role and fold."""
        return model_seed(self.seed, index, -1 if fold is None else fold, _ROLE_SEEDS[role])

    def folds_to_train(self, plan: TaskPlan) -> list[tuple[int, tuple[np.ndarray, np.ndarray]]]:
        """The task's numbered folds that need a model of their own: with aligned folds, the
        first fold's model is the one trained on the fitting rows."""
        return list(enumerate(plan.folds))[1 if self.aligned else 0:]

    def forget(self, table: pd.DataFrame) -> None:
        """Free the binned forms of ``table`` (cache keys start with the backend and the table's
        id), so that its memory goes, and a later table with the same id is binned anew."""
        for key in [k for k in self.cache if k[1] == id(table)]:
            del self.cache[key]

    def release(self) -> None:
        """Free the binned tables and GLMs once no model needs them."""
        self.cache.clear()
        self.glms.clear()


_ROLE_SEEDS = {"independent": 0, "stacking": 100, "offset": 300, "shared_trees": 500}


def model_seed(base: int, task_index: int, fold: int, role_offset: int = 0) -> int:
    return int((base + 7919 * task_index + 104729 * (fold + 1 + role_offset)) % (2**31 - 1))


def is_classification(kind: str) -> bool:
    return kind in ("binary", "multiclass")


def validation_split(
    enc: EncodedTask, kind: str, groups: np.ndarray | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split a task's labelled rows into a fitting part and an early-stopping part."""
    rows = enc.labelled
    y = enc.y[rows]
    if groups is not None:
        splitter = GroupShuffleSplit(1, test_size=VALIDATION_FRACTION, random_state=seed)
        fit, val = next(splitter.split(rows, y, groups[rows]))
    elif is_classification(kind) and np.bincount(y.astype(int)).min() >= 2:
        splitter = StratifiedShuffleSplit(1, test_size=VALIDATION_FRACTION, random_state=seed)
        fit, val = next(splitter.split(rows, y))
    else:
        splitter = ShuffleSplit(1, test_size=VALIDATION_FRACTION, random_state=seed)
        fit, val = next(splitter.split(rows))
    return rows[fit], rows[val]


def _kfold(kind: str, n_folds: int, grouped: bool, seed: int):
    if is_classification(kind):
        return (StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed) if grouped
                else StratifiedKFold(n_folds, shuffle=True, random_state=seed))
    return GroupKFold(n_folds) if grouped else KFold(n_folds, shuffle=True, random_state=seed)


def fold_splits(
    rows: np.ndarray, y: np.ndarray | None, kind: str, n_folds: int, cv,
    groups: np.ndarray | None, seed: int,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds over ``rows`` (with labels ``y``), as row indices into the full table."""
    g = groups[rows] if groups is not None else None
    user = cv is not None
    if cv is None:
        cv = _kfold(kind, n_folds, g is not None, seed)
    with warnings.catch_warnings():
        # gbmtl warns about thin classes itself, naming the task and its folds.
        warnings.filterwarnings("ignore", message="The least populated class")
        splits = list(cv.split(np.zeros((len(rows), 1)), y, g))
    out = []
    for tr, te in splits:
        tr, te = np.asarray(tr), np.asarray(te)
        if user and ((tr.size and (tr.min() < 0 or tr.max() >= len(rows)))
                     or (te.size and (te.min() < 0 or te.max() >= len(rows)))):
            raise ValueError(
                f"cv returned row positions outside 0..{len(rows) - 1} (a task's labelled rows "
                "are numbered from 0 within the task)"
            )
        out.append((rows[tr], rows[te]))
    return out


def aligned_folds(
    fit_rows: np.ndarray, val_rows: np.ndarray, y: np.ndarray | None, kind: str, n_folds: int,
    groups: np.ndarray | None, seed: int,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """K folds whose first is the validation part; the other K - 1 split the fitting part.

    The first fold's training rows are the fitting rows, so the model trained on them is that
    fold's model. The validation split is group-disjoint when ``groups`` is given, so the folds
    are too.
    """
    yf = None if y is None else y[fit_rows]
    rest = fold_splits(fit_rows, yf, kind, n_folds - 1, None, groups, seed)
    return [(fit_rows, val_rows)] + [
        (np.sort(np.concatenate([val_rows, tr])), te) for tr, te in rest
    ]
