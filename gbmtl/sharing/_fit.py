"""Fit every mechanism each task compares, then choose per task.

Order: the independent models of every task first (their out-of-fold scores are the sibling
inputs), then each sharing mechanism for the tasks that compare it, then the choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from gbmtl._context import FitContext
from gbmtl._planning import planned_jobs
from gbmtl.sharing import MECHANISMS, SIBLING_MECHANISMS
from gbmtl.sharing._base import MechanismFit, SharingModel
from gbmtl.sharing._blend import NAME as BLEND
from gbmtl.sharing._blend import blend
from gbmtl.sharing._choice import FALSE_PICK_RATE, Decision, decide
from gbmtl.sharing._glm import sibling_information
from gbmtl.sharing._scoring import information_gain
from gbmtl.sharing._siblings import SiblingInputs
from gbmtl.sharing._trees import predict_raw

#: The skill of a sibling is judged on at most this many of its labelled rows (plenty for a
#: test against a constant, and it keeps the bootstrap small on large tables).
SKILL_MAX_ROWS = 5_000


@dataclass
class TaskResult:
    """What a fit keeps of one task: its stage-1 (independent) model, the chosen model, why."""

    name: str
    stage1: SharingModel
    final: SharingModel
    decision: Decision
    affinity: dict[str, float] = field(default_factory=dict)
    oof: np.ndarray | None = None  # independent out-of-fold raw scores of every row
    # Rows the final model's scores were held out on, those scores, and what they are.
    heldout: tuple[np.ndarray, np.ndarray, str] | None = None


def _fill_unlabelled(ctx: FitContext, name: str, fit: MechanismFit) -> np.ndarray:
    """Out-of-fold scores of every row: rows the task never labels come from its model on the
    fitting rows, which by construction never saw them (one model, like the fold models that
    give the labelled rows' scores, and K times cheaper than a bagged task's average)."""
    p = ctx.plan(name)
    oof = fit.oof
    if oof is None:
        oof = np.full((len(ctx.X), p.width), np.nan)
    unlabelled = np.ones(len(ctx.X), bool)
    unlabelled[p.enc.labelled] = False
    rows = np.flatnonzero(unlabelled)
    if len(rows):
        oof[rows] = predict_raw(fit.model.trees.models[:1], ctx.X.iloc[rows])
    return oof


def _heldout(ctx: FitContext, name: str, fit: MechanismFit):
    p = ctx.plan(name)
    if fit.oof is not None:
        rows = p.enc.labelled
        rows = rows[np.isfinite(fit.oof[rows]).all(axis=1)]
        return rows, fit.oof[rows], "out-of-fold predictions"
    if fit.val is not None and p.val_rows is not None and len(p.val_rows):
        return p.val_rows, fit.val, "early-stopping validation rows"
    return None


def _skilled(ctx: FitContext, name: str, oof: np.ndarray | None) -> bool:
    """Whether task ``name``'s out-of-fold predictions beat a constant on its own labels beyond
    noise (one-sided, at the choice's false-pick rate; on at most 5,000 of its rows)."""
    if oof is None:
        return False
    p = ctx.plan(name)
    rows = p.enc.labelled
    rows = rows[np.isfinite(oof[rows]).all(axis=1)]
    if len(rows) > SKILL_MAX_ROWS:
        rows = np.sort(np.random.default_rng(ctx.seed).choice(rows, SKILL_MAX_ROWS, False))
    if len(rows) < 2:
        return False
    try:
        gain, se = information_gain(p, rows, oof[rows], ctx.seed + 11)
    except ValueError:
        return False
    return bool(np.isfinite(gain) and gain > NormalDist().inv_cdf(1 - FALSE_PICK_RATE) * se)


def _drop_unskilled_siblings(ctx: FitContext, oof: dict) -> None:
    """A sibling whose model cannot predict its own labels has nothing to pass on: tasks that
    choose (not forced) lose it as a sibling, and compare nothing when none is left."""
    choosing = [p for p in ctx.plans if p.candidates and not p.forced]
    if not choosing:
        return
    before = planned_jobs(ctx)
    skilled = {p.name: _skilled(ctx, p.name, oof[p.name]) for p in ctx.plans}
    for p in choosing:
        p.unskilled = [s for s in p.siblings if not skilled[s]]
        p.siblings = [s for s in p.siblings if skilled[s]]
        if not p.siblings:
            p.candidates = []
    ctx.executor.skip(before - planned_jobs(ctx))  # models no longer needed


def fit_all(ctx: FitContext) -> list[TaskResult]:
    """Train, compare and choose (see the module docstring)."""
    fits: dict[str, dict[str, MechanismFit]] = {p.name: {} for p in ctx.plans}
    for name, fit in MECHANISMS["independent"]().fit(ctx, ctx.plans).items():
        fits[name]["independent"] = fit
    oof = {p.name: _fill_unlabelled(ctx, p.name, fits[p.name]["independent"])
           if p.folds else None for p in ctx.plans}
    inputs = SiblingInputs({k: v for k, v in oof.items() if v is not None},
                           {p.name: p.kind for p in ctx.plans})
    _drop_unskilled_siblings(ctx, oof)
    for mech, cls in MECHANISMS.items():
        plans = [p for p in ctx.plans if mech in p.mechanisms]
        if mech == "independent" or not plans:
            continue
        for name, fit in cls().fit(ctx, plans, inputs).items():
            fits[name][mech] = fit
    ctx.cache.clear()  # no model trains from here on
    results = []
    for p in ctx.plans:
        if BLEND in p.mechanisms:
            members = ["independent"] + [m for m in p.mechanisms if m in fits[p.name]]
            mixed = blend(fits[p.name], members)
            if mixed is not None:
                fits[p.name][BLEND] = mixed
        information = None
        if p.candidates and not p.forced and p.siblings and inputs.raw:
            information = sibling_information(ctx, p, inputs)
        decision = decide(p, fits[p.name], ctx.seed, information)
        chosen = fits[p.name][decision.mechanism]
        affinity = chosen.affinity or next(
            (fits[p.name][m].affinity for m in SIBLING_MECHANISMS
             if m in fits[p.name] and fits[p.name][m].affinity), {})
        results.append(TaskResult(
            name=p.name, stage1=fits[p.name]["independent"].model, final=chosen.model,
            decision=decision, affinity=dict(affinity), oof=oof[p.name],
            heldout=_heldout(ctx, p.name, chosen),
        ))
    ctx.release()
    return results
