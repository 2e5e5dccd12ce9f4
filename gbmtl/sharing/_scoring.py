"""A task's metric on raw scores, paired gains of candidates over a base with a max-T critical
value, and the per-sibling permutation gain (task affinity)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gbmtl._bootstrap import bootstrap_metric_draws
from gbmtl._context import TaskPlan
from gbmtl._links import link
from gbmtl.metrics import get_metric

#: Bootstrap resamples of the joint comparison (its critical value is a tail quantile).
N_JOINT_BOOTSTRAP = 100
#: Comparisons use at most this many rows (a seeded subsample): a large task's validation part
#: measures small gains well with 50,000 rows, and the bootstrap's cost grows with rows.
MAX_COMPARED_ROWS = 50_000


def score(plan: TaskPlan, rows: np.ndarray, raw: np.ndarray) -> float:
    """The task's metric on ``rows`` from their raw scores ``raw``, signed so higher is better."""
    metric = get_metric(plan.task.metric, plan.kind)
    w = None if plan.weight is None else plan.weight[rows]
    value = metric(plan.enc.y[rows], _as_metric_input(plan, raw), w)
    return float(value if metric.greater_is_better else -value)


def permutation_gains(plan: TaskPlan, rows: np.ndarray, base_raw: np.ndarray,
                      siblings: list[str], permuted: Callable[[str, np.ndarray], np.ndarray],
                      seed: int) -> dict[str, float]:
    """Each sibling's permutation gain: the metric's drop on ``rows`` when that sibling's inputs
    are shuffled across them (``permuted(sibling, order)`` gives the raw scores then)."""
    if rows is None or len(rows) == 0:
        return dict.fromkeys(siblings, float("nan"))
    base = score(plan, rows, base_raw)
    rng = np.random.default_rng(seed + 1)
    return {s: float(base - score(plan, rows, permuted(s, rng.permutation(len(rows)))))
            for s in siblings}


def _as_metric_input(plan: TaskPlan, raw: np.ndarray) -> np.ndarray:
    return link(plan.kind, raw)


def joint_gains(plan: TaskPlan, rows: np.ndarray, base_raw: np.ndarray,
                candidates: dict[str, np.ndarray], seed: int, rate: float
                ) -> tuple[dict[str, float], dict[str, float], float]:
    """Each candidate's gain over the base on ``rows``, its paired bootstrap standard error,
    and the critical value ``z`` of a max-T comparison at family-wise rate ``rate``.

    All candidates are drawn on the same resamples; ``z`` is the ``1 - rate`` quantile over
    resamples of ``max_c (gain*_c - gain_c) / se_c``: the largest standardised gain that noise
    alone gives the best of these candidates. Where candidates are strongly correlated (they
    often are: all start from the same sibling inputs), it is smaller than a Bonferroni bound.
    """
    metric = get_metric(plan.task.metric, plan.kind)
    sign = 1.0 if metric.greater_is_better else -1.0
    if len(rows) > MAX_COMPARED_ROWS:
        keep = np.sort(np.random.default_rng(seed).choice(len(rows), MAX_COMPARED_ROWS, False))
        rows, base_raw = rows[keep], base_raw[keep]
        candidates = {k: v[keep] for k, v in candidates.items()}
    y = plan.enc.y[rows]
    w = None if plan.weight is None else plan.weight[rows]
    preds = {"__base__": _as_metric_input(plan, base_raw)}
    preds.update({k: _as_metric_input(plan, v) for k, v in candidates.items()})
    point = {k: score(plan, rows, v) for k, v in candidates.items()}
    base = score(plan, rows, base_raw)
    draws = bootstrap_metric_draws(metric, y, preds, w, N_JOINT_BOOTSTRAP,
                                   np.random.default_rng(seed))
    gains, ses, t = {}, {}, []
    for k in candidates:
        d = sign * (draws[k] - draws["__base__"])
        ok = np.isfinite(d)
        gains[k] = float(point[k] - base)
        ses[k] = float(d[ok].std(ddof=1)) if ok.sum() > 2 else float("inf")
        t.append((d - gains[k]) / ses[k] if ses[k] > 0 else np.zeros_like(d))
    t_max = np.nanmax(np.vstack(t), axis=0)
    z = float(np.quantile(t_max[np.isfinite(t_max)], 1 - rate)) if np.isfinite(t_max).any() \
        else float("inf")
    return gains, ses, z


def information_gain(plan: TaskPlan, rows: np.ndarray, raw: np.ndarray, seed: int
                     ) -> tuple[float, float]:
    """How far ``raw`` beats a constant (no-information) prediction on ``rows``, with its
    bootstrap standard error: whether the siblings tell anything about this task at all."""
    y = plan.enc.y[rows]
    if plan.kind == "regression":
        const = np.full((len(rows), 1), np.nanmean(y))
    else:
        freq = np.bincount(y.astype(int), minlength=plan.width) + 1.0
        logf = np.log(freq / freq.sum())
        const = np.tile(logf[-1:] - logf[:1] if plan.kind == "binary" else logf,
                        (len(rows), 1))
    gains, ses, _ = joint_gains(plan, rows, const, {"siblings": raw}, seed, 0.5)
    return gains["siblings"], ses["siblings"]
