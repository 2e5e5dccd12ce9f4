"""Benchmark data: the datasets, their task sets, the train/test splits and the label-scarce protocol.

Every dataset name maps to a loader returning one or more :class:`Split` objects (``synthetic``
gives one per task correlation). Only census-income has a split of its own (a seeded split of the
UCI test file, recorded in ``protocol``); the others get a seeded stratified split here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

__all__ = ["DATASETS", "MAIN_TASK", "Split", "load_splits", "label_scarce"]

#: The task whose labels the label-scarce protocol thins out, per dataset.
MAIN_TASK = {
    "census_income": "income_50k",
    "census_income_edu": "education_college",
    "taiwan_credit": "default",
    "lending_club": "bad",
    "vehicle_fraud": "fraud",
    "synthetic": "y0",
}
DATASETS = tuple(MAIN_TASK)

#: Task correlations of the synthetic data (MMoE's experiment); quick runs use the middle one.
SYNTHETIC_CORRELATIONS = (0.2, 0.5, 0.9)
_TEST_SIZE = 0.3
_QUICK_TRAIN, _QUICK_TEST = 2000, 1000


@dataclass
class Split:
    """One train/test split of one task set."""

    dataset: str
    protocol: str
    X_train: pd.DataFrame
    Y_train: pd.DataFrame
    X_test: pd.DataFrame
    Y_test: pd.DataFrame
    kinds: dict[str, str]
    main_task: str
    notes: list[str] = field(default_factory=list)


def _stratified(X, Y, stratify_on: str, seed: int, name: str, kinds, main: str) -> Split:
    """Seeded stratified split on the main task (the usual protocol where none is given)."""
    Xtr, Xte, Ytr, Yte = train_test_split(
        X, Y, test_size=_TEST_SIZE, stratify=Y[stratify_on], random_state=seed
    )
    protocol = f"stratified-split(seed={seed}, test_size={_TEST_SIZE})"
    return Split(name, protocol, Xtr, Ytr, Xte, Yte, dict(kinds), main)


def _census(name: str, tasks: list[str], seed: int, data_home) -> list[Split]:
    from gbmtl.datasets import load_census_income

    # Each task set keeps as features the columns that are not its own targets (the
    # published protocol): education is a feature of the income set, income of the other.
    kw = dict(random_state=seed, data_home=data_home, download_if_missing=False,
              targets=tuple(tasks))
    Xtr, Ytr = load_census_income(subset="train", **kw)
    Xte, Yte = load_census_income(subset="test", **kw)
    kinds = {t: "binary" for t in tasks}
    protocol = f"{Xtr.attrs['protocol']}; features: all but {', '.join(tasks)}'s sources"
    return [Split(name, protocol, Xtr, Ytr[tasks], Xte, Yte[tasks], kinds, MAIN_TASK[name])]


def _taiwan(seed: int, data_home) -> list[Split]:
    from gbmtl.datasets import load_credit_default_taiwan

    X, Y = load_credit_default_taiwan(siblings=True, data_home=data_home,
                                      download_if_missing=False)
    return [_stratified(X, Y, "default", seed, "taiwan_credit", Y.attrs["task_kinds"], "default")]


def _lending(seed: int, data_home) -> list[Split]:
    from gbmtl.datasets import load_lending_club

    X, Y = load_lending_club(data_home=data_home, download_if_missing=False)
    return [_stratified(X, Y, "bad", seed, "lending_club", Y.attrs["task_kinds"], "bad")]


def _fraud(seed: int, data_home) -> list[Split]:
    from gbmtl.datasets import load_vehicle_fraud

    X, Y = load_vehicle_fraud(siblings=True, data_home=data_home, download_if_missing=False)
    return [_stratified(X, Y, "fraud", seed, "vehicle_fraud", Y.attrs["task_kinds"], "fraud")]


def _synthetic(seed: int, quick: bool) -> list[Split]:
    from gbmtl.datasets import make_correlated_tasks

    correlations = (0.5,) if quick else SYNTHETIC_CORRELATIONS
    splits = []
    for p in correlations:
        # The data are drawn once per correlation (random_state=0) so that seeds vary the
        # split and the models, as for the real data sets.
        X, Y = make_correlated_tasks(
            20_000, 20, n_informative=10, task_correlation=p, n_categories=10, random_state=0
        )
        Xtr, Xte, Ytr, Yte = train_test_split(X, Y, test_size=_TEST_SIZE, random_state=seed)
        protocol = (f"make_correlated_tasks(20000, 20, n_informative=10, p={p}, n_categories=10, "
                    f"random_state=0); random-split(seed={seed}, test_size={_TEST_SIZE})")
        splits.append(Split(f"synthetic_p{p}", protocol, Xtr, Ytr, Xte, Yte,
                            dict(Y.attrs["task_kinds"]), "y0"))
    return splits


def load_splits(dataset: str, seed: int, *, quick: bool = False, data_home=None) -> list[Split]:
    """The train/test splits of ``dataset`` for ``seed``; quick runs keep 2,000/1,000 rows."""
    if dataset == "census_income":
        splits = _census(dataset, ["income_50k", "never_married"], seed, data_home)
    elif dataset == "census_income_edu":
        splits = _census(dataset, ["education_college", "never_married"], seed, data_home)
    elif dataset == "taiwan_credit":
        splits = _taiwan(seed, data_home)
    elif dataset == "lending_club":
        splits = _lending(seed, data_home)
    elif dataset == "vehicle_fraud":
        splits = _fraud(seed, data_home)
    elif dataset == "synthetic":
        splits = _synthetic(seed, quick)
    else:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    if quick:
        for s in splits:
            rng = np.random.default_rng(seed)
            tr = np.sort(rng.permutation(len(s.X_train))[:_QUICK_TRAIN])
            te = np.sort(rng.permutation(len(s.X_test))[:_QUICK_TEST])
            s.X_train, s.Y_train = s.X_train.iloc[tr], s.Y_train.iloc[tr]
            s.X_test, s.Y_test = s.X_test.iloc[te], s.Y_test.iloc[te]
            s.protocol += f"; quick({len(tr)} train, {len(te)} test rows)"
            _unlabel_rare_classes(s)
    return splits


def _unlabel_rare_classes(split: Split, min_rows: int = 5) -> None:
    """Set multiclass labels of classes with fewer than ``min_rows`` training rows to unknown.

    Only quick runs need it: 2,000 rows of a 35-class task leave some classes with one row,
    which the boosters refuse (they need two per class for their validation split).
    """
    for task, kind in split.kinds.items():
        if kind != "multiclass":
            continue
        y = split.Y_train[task]
        counts = y.value_counts()
        rare = counts.index[(counts > 0) & (counts < min_rows)]
        if len(rare):
            split.Y_train = split.Y_train.copy()
            split.Y_train.loc[y.isin(rare), task] = np.nan
            split.protocol += f"; {task} classes with < {min_rows} rows unlabelled"


def label_scarce(split: Split, fraction: float, seed: int) -> Split:
    """Keep the main task's labels on ``fraction`` of the training rows (seeded); others as is.

    The kept rows are drawn stratified on the main task's class for classification tasks, so
    that a 2 % sample of a rare positive class still holds some positives. Test labels are kept.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"labelled fraction must be in (0, 1], got {fraction!r}")
    if fraction == 1.0:
        return split
    main = split.main_task
    y = split.Y_train[main]
    rng = np.random.default_rng([seed, int(round(fraction * 1e6))])
    keep = np.zeros(len(y), bool)
    groups = [np.arange(len(y))]
    if split.kinds[main] != "regression":
        codes = pd.factorize(y)[0]
        groups = [np.flatnonzero(codes == c) for c in np.unique(codes)]
    for rows in groups:
        n = max(1, int(round(fraction * len(rows))))
        keep[rng.choice(rows, size=n, replace=False)] = True
    Y = split.Y_train.copy()
    Y[main] = Y[main].astype("float64") if split.kinds[main] != "multiclass" else Y[main]
    Y.loc[~keep, main] = np.nan
    protocol = f"{split.protocol}; label-scarce({main} on {fraction:g} of training rows)"
    return Split(split.dataset, protocol, split.X_train, Y, split.X_test, split.Y_test,
                 split.kinds, main, list(split.notes))
