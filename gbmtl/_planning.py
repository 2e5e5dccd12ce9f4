"""The fit plan: which mechanisms each task compares, its splits, bagging and parameters.

Built once before any model trains, so that a task too small for its folds fails at once and by
name, and the number of models is known in advance (the progress bar's total).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gbmtl._context import (
    OUT_OF_FOLD_MAX_ROWS,
    FitContext,
    TaskPlan,
    aligned_folds,
    fold_splits,
    model_seed,
    validation_split,
)
from gbmtl._defaults import task_params
from gbmtl._labels import EncodedTask
from gbmtl._params import check_params, for_backend
from gbmtl.backends._base import pop_rounds
from gbmtl.sharing import CHOICES, SIBLING_MECHANISMS
from gbmtl.tasks import Task

#: ``sharing="auto"`` compares shared trees only on tables of at most this many rows: one
#: XGBoost ensemble with a Python objective per fold costs several single-task fits.
SHARED_TREES_AUTO_MAX_ROWS = 200_000
#: Folds of a task decided on its validation part (more than 20,000 labelled rows), with the
#: default folds: its fold models only give the out-of-fold sibling inputs, and on a large task
#: two fold models on 60 % of the rows each give them as well as four on 80 % at half the cost.
LARGE_TASK_FOLDS = 3
SHARING_CHOICES = ("auto", "none", *CHOICES)


def parse_sharing(value, where: str = "sharing") -> tuple[str, list[str]]:
    """``("auto", [])``, ``("none", [])``, ``("forced", [name])`` or ``("choose", names)``."""
    if isinstance(value, str):
        if value in ("auto", "none"):
            return value, []
        if value == "independent":
            return "none", []
        if value in CHOICES:
            return "forced", [value]
    elif isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        names = [v for v in value if v != "independent"]
        unknown = [v for v in names if v not in CHOICES]
        if not unknown:
            return ("choose", list(dict.fromkeys(names))) if names else ("none", [])
    raise ValueError(
        f"{where}: expected 'auto', 'none', one of {list(CHOICES)} or a list of them "
        f"to choose among, got {value!r}"
    )


def _bagging_ok(bagging) -> bool:
    return bagging in ("auto", True, False)


def plan_fit(
    X: pd.DataFrame, tasks: list[Task], encoded: dict[str, EncodedTask],
    weights: dict[str, np.ndarray] | None, groups: np.ndarray | None, *,
    params: dict[str, Any] | None, sharing, siblings: dict[str, list[str]] | None,
    bagging, n_folds: int, cv, early_stopping_rounds: int | None, seed: int, executor,
    sharing_params: dict[str, dict[str, Any]] | None,
) -> FitContext:
    """The fit context with every task's plan (see the module docstring)."""
    if not _bagging_ok(bagging):
        raise ValueError(f"bagging: expected 'auto', True or False, got {bagging!r}")
    names = [t.name for t in tasks]
    aligned = cv is None and bool(early_stopping_rounds) and n_folds >= 3
    plans = []
    for i, t in enumerate(tasks):
        enc = encoded[t.name]
        n_lab = len(enc.labelled)
        mode, chosen = parse_sharing(t.sharing if t.sharing is not None else sharing,
                                     f"Task {t.name!r}: sharing" if t.sharing is not None
                                     else "sharing")
        sibs = ([n for n in names if n != t.name] if siblings is None or t.name not in siblings
                else [n for n in siblings[t.name] if n != t.name])
        if not early_stopping_rounds and mode in ("forced", "choose"):
            raise ValueError(
                f"sharing={chosen!r} needs a validation part to early-stop and compare on: "
                "set early_stopping_rounds, or sharing='none'"
            )
        small = n_lab <= OUT_OF_FOLD_MAX_ROWS
        if not early_stopping_rounds or not sibs:
            mode = "none"
        candidates, forced = [], None
        # Every mechanism costs about one more fit of the task. Tasks decided on their validation
        # part (more than 20,000 labelled rows) compare stacking alone: with that many labels the
        # offset and shared trees rarely beat the independent model (see the ablation in
        # benchmarks/RESULTS.md) and the blend is taken out of fold only.
        automatic = list(SIBLING_MECHANISMS) if small else ["stacking"]
        if small and len(X) <= SHARED_TREES_AUTO_MAX_ROWS:
            automatic.append("shared_trees")
        if mode == "auto":
            candidates = automatic + (["blend"] if small else [])
        elif mode == "choose":
            candidates = chosen
        elif mode == "forced":
            forced = chosen[0]
            if forced == "blend":  # the blend of what "auto" would fit
                candidates = automatic
        mechanisms = list(dict.fromkeys([*candidates, *([forced] if forced else [])]))
        bagged = aligned and (bagging is True or (bagging == "auto" and small))
        out_of_fold = bool(early_stopping_rounds) and (
            bagged or (bool(mechanisms) and small) or "shared_trees" in mechanisms)
        task_p, rounds = _params(t, n_lab, params, early_stopping_rounds)
        plans.append(TaskPlan(
            task=t, index=i, enc=enc, weight=None if weights is None else weights[t.name],
            params=task_p, max_rounds=rounds, fit_rows=enc.labelled, val_rows=None,
            out_of_fold=out_of_fold, bagged=bagged, siblings=sibs, candidates=candidates,
            forced=forced,
        ))
    # Every task is a potential sibling input, so every task needs out-of-fold scores as soon as
    # one task reads its siblings', or the choice asks whether its siblings are informative.
    siblings_read = any(set(p.mechanisms) & set(SIBLING_MECHANISMS)
                        or (p.candidates and not p.forced) for p in plans)
    for p in plans:
        _split(p, groups, seed, early_stopping_rounds, aligned, n_folds, cv,
               need_folds=siblings_read or p.out_of_fold)
    return FitContext(X=X, plans=plans, groups=groups, seed=seed,
                      early_stopping_rounds=early_stopping_rounds, aligned=aligned,
                      n_folds=n_folds, cv=cv, executor=executor,
                      sharing_params={k: dict(v) for k, v in (sharing_params or {}).items()},
                      params=dict(params or {}))


def _params(task: Task, n_labelled: int, params: dict | None,
            early_stopping_rounds: int | None) -> tuple[dict[str, Any], int]:
    shared = for_backend("params", task.backend, dict(params or {}))
    merged = task_params(task.backend, n_labelled, shared, task.params)
    check_params(f"Task {task.name!r}", task.kind, task.backend, merged)
    rounds = pop_rounds(merged, 1000 if early_stopping_rounds else 100)
    return merged, rounds


def _split(p: TaskPlan, groups, seed: int, early_stopping_rounds, aligned: bool, n_folds: int,
           cv, need_folds: bool) -> None:
    """The task's validation part and (when needed) its folds."""
    try:
        if early_stopping_rounds:
            p.fit_rows, p.val_rows = validation_split(p.enc, p.kind, groups,
                                                      model_seed(seed, p.index, -1))
        if not need_folds:
            return
        fold_seed = model_seed(seed, p.index, 99)
        y = p.enc.y
        if aligned:
            k = n_folds if p.out_of_fold else min(n_folds, LARGE_TASK_FOLDS)
            p.folds = aligned_folds(p.fit_rows, p.val_rows, y, p.kind, k, groups, fold_seed)
        else:
            rows = p.enc.labelled
            p.folds = fold_splits(rows, y[rows], p.kind, n_folds, cv, groups, fold_seed)
            check_user_folds(p.folds, rows, p.name)
    except ValueError as exc:
        raise ValueError(
            f"Task {p.name!r}: cannot split its {len(p.enc.labelled)} labelled rows into an "
            f"early-stopping part and folds ({exc}). Use fewer folds (n_folds or cv), more "
            "groups, or sharing='none'."
        ) from exc


def check_user_folds(folds: list, rows: np.ndarray, task: str) -> None:
    """A user's splitter must give folds whose test rows it never trains on (else out-of-fold
    predictions would see their own labels), with no empty test part."""
    if not folds:
        raise ValueError(f"cv gave no folds for task {task!r}")
    for k, (tr, te) in enumerate(folds):
        if len(te) == 0:
            raise ValueError(f"cv fold {k} of task {task!r} has no test rows")
        overlap = np.intersect1d(tr, te)
        if len(overlap):
            raise ValueError(
                f"cv fold {k} of task {task!r} trains on {len(overlap)} of the rows it tests; "
                "out-of-fold predictions would see their own labels"
            )


def planned_jobs(ctx: FitContext) -> int:
    """How many models the fit will train (fewer where an offset keeps zero rounds)."""
    n_fold_models = {p.name: len(ctx.folds_to_train(p)) for p in ctx.plans}
    total = sum(1 + n_fold_models[p.name] * bool(p.folds) for p in ctx.plans)
    shared = False
    for p in ctx.plans:
        for m in p.mechanisms:
            if m == "shared_trees":
                shared = True
            elif m != "blend":
                total += 1 + (n_fold_models[p.name] if p.out_of_fold else 0)
    if shared:
        total += ctx.n_folds if ctx.aligned else 1 + (
            ctx.cv.get_n_splits() if hasattr(ctx.cv, "get_n_splits") else ctx.n_folds)
    return total
