"""Task metrics by name, and the common scale used by ``score`` and the tuner.

Every metric takes ``(y_true, y_pred, sample_weight=None)`` where, for a task of kind

- ``binary``: ``y_true`` is 0/1 and ``y_pred`` the probability of the positive class, shape ``(n,)``;
- ``multiclass``: ``y_true`` holds class indices ``0..k-1`` and ``y_pred`` the probabilities ``(n, k)``;
- ``regression``: both are real values, shape ``(n,)``.

The *common scale* (:func:`task_score`) makes tasks of different kinds comparable in one weighted
objective, higher is better: ROC AUC for binary tasks, macro one-vs-rest ROC AUC for multiclass tasks,
and the skill score ``1 - RMSE / std(y)`` for regression (0 = predicting the mean, 1 = perfect).

Binary finance metrics (fraud, credit scoring) are public functions as well as registered names:
:func:`ks`, :func:`gini`, :func:`pr_auc`, :func:`recall_at_fpr` (registered as
``recall_at_1pct_fpr``), :func:`precision_at_k` (registered as ``precision_at_top_1pct``),
:func:`brier` and :func:`ece`. :func:`make_recall_at_fpr` and :func:`make_precision_at_k` register
other operating points, and :func:`finance_report` tabulates them all for a notebook.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn import metrics as skm

__all__ = [
    "Metric",
    "get_metric",
    "register_metric",
    "available_metrics",
    "default_metric",
    "task_score",
    "COMMON_SCALE",
    "ks",
    "gini",
    "pr_auc",
    "recall_at_fpr",
    "precision_at_k",
    "brier",
    "ece",
    "make_recall_at_fpr",
    "make_precision_at_k",
    "finance_report",
    "FINANCE_METRICS",
]

KINDS = ("binary", "multiclass", "regression")


@dataclass(frozen=True)
class Metric:
    """A named metric with its direction and the task kinds it applies to."""

    name: str
    func: Callable[..., float]
    greater_is_better: bool
    kinds: tuple[str, ...]

    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        return float(self.func(np.asarray(y_true), np.asarray(y_pred), sample_weight))

    def loss(self, y_true, y_pred, sample_weight=None) -> float:
        """The metric oriented so that lower is better (for comparisons and minimisers)."""
        value = self(y_true, y_pred, sample_weight)
        return -value if self.greater_is_better else value


_REGISTRY: dict[str, Metric] = {}


def register_metric(
    name: str,
    func: Callable[..., float],
    *,
    greater_is_better: bool,
    kinds: tuple[str, ...] | list[str],
) -> Metric:
    """Register ``func`` under ``name`` so that tasks can refer to it as ``Task(metric=name)``."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"register_metric: unknown task kinds {sorted(unknown)}; expected {KINDS}")
    metric = Metric(name, func, greater_is_better, tuple(kinds))
    _REGISTRY[name] = metric
    return metric


def available_metrics(kind: str | None = None) -> list[str]:
    """Names of the registered metrics, optionally only those for one task kind."""
    return sorted(n for n, m in _REGISTRY.items() if kind is None or kind in m.kinds)


def get_metric(name: str | Metric, kind: str | None = None) -> Metric:
    """Look a metric up by name, checking it fits the task kind when one is given."""
    if isinstance(name, Metric):
        metric = name
    else:
        try:
            metric = _REGISTRY[name]
        except KeyError:
            raise ValueError(
                f"Unknown metric {name!r}; available: {', '.join(available_metrics(kind))}"
            ) from None
    if kind is not None and kind not in metric.kinds:
        raise ValueError(
            f"Metric {metric.name!r} does not apply to {kind} tasks; "
            f"use one of: {', '.join(available_metrics(kind))}"
        )
    return metric


_DEFAULTS = {"binary": "auc", "multiclass": "mlogloss", "regression": "rmse"}
COMMON_SCALE = {"binary": "auc", "multiclass": "auc_ovr", "regression": "skill"}


def default_metric(kind: str) -> str:
    """The metric a task of ``kind`` reports when it names none."""
    return _DEFAULTS[kind]


def task_score(kind: str, y_true, y_pred, sample_weight=None) -> float:
    """Score one task on the common scale (higher is better); see the module docstring."""
    return get_metric(COMMON_SCALE[kind])(y_true, y_pred, sample_weight)


# -- the metrics themselves -------------------------------------------------------------------------


def _auc(y, p, w=None):
    if np.unique(y).size < 2:
        return float("nan")
    return skm.roc_auc_score(y, p, sample_weight=w)


def _auc_ovr(y, proba, w=None):
    # Classes absent from y_true are left out of the macro average instead of failing the whole
    # evaluation: a small validation fold of a 35-class task rarely holds every class.
    y = y.astype(int)
    scores, weights = [], []
    for k in range(proba.shape[1]):
        pos = y == k
        if pos.all() or not pos.any():
            continue
        scores.append(skm.roc_auc_score(pos, proba[:, k], sample_weight=w))
        weights.append(1.0)
    return float(np.average(scores, weights=weights)) if scores else float("nan")


def _logloss(y, p, w=None):
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return skm.log_loss(y, p, sample_weight=w, labels=[0, 1])


def _mlogloss(y, proba, w=None):
    # Renormalise: float32 probabilities (XGBoost) miss scikit-learn's sum-to-one tolerance.
    proba = np.asarray(proba, dtype=float)
    proba = proba / proba.sum(axis=1, keepdims=True)
    return skm.log_loss(y.astype(int), proba, sample_weight=w, labels=np.arange(proba.shape[1]))


def _accuracy_binary(y, p, w=None):
    return skm.accuracy_score(y, (p >= 0.5).astype(int), sample_weight=w)


def _accuracy_multi(y, proba, w=None):
    return skm.accuracy_score(y.astype(int), proba.argmax(axis=1), sample_weight=w)


def _accuracy(y, p, w=None):
    return _accuracy_multi(y, p, w) if p.ndim == 2 else _accuracy_binary(y, p, w)


def _rmse(y, p, w=None):
    return float(np.sqrt(skm.mean_squared_error(y, p, sample_weight=w)))


def _skill(y, p, w=None):
    std = float(np.sqrt(np.cov(y, aweights=w))) if y.size > 1 else 0.0
    if std == 0.0:
        return float("nan")
    return 1.0 - _rmse(y, p, w) / std


register_metric("auc", _auc, greater_is_better=True, kinds=("binary",))
register_metric("auc_ovr", _auc_ovr, greater_is_better=True, kinds=("multiclass",))
register_metric("logloss", _logloss, greater_is_better=False, kinds=("binary",))
register_metric("mlogloss", _mlogloss, greater_is_better=False, kinds=("multiclass",))
register_metric("accuracy", _accuracy, greater_is_better=True, kinds=("binary", "multiclass"))
register_metric("rmse", _rmse, greater_is_better=False, kinds=("regression",))
register_metric(
    "mae",
    lambda y, p, w=None: skm.mean_absolute_error(y, p, sample_weight=w),
    greater_is_better=False,
    kinds=("regression",),
)
register_metric(
    "r2", lambda y, p, w=None: skm.r2_score(y, p, sample_weight=w), greater_is_better=True,
    kinds=("regression",),
)
register_metric("skill", _skill, greater_is_better=True, kinds=("regression",))


# -- binary finance metrics ---------------------------------------------------------------------------


def _check_binary(name: str, y_true, y_score, sample_weight=None, *, probability: bool = False):
    """Validate one binary task's inputs once, so every finance metric fails with the same message."""
    y = np.asarray(y_true)
    p = np.asarray(y_score, dtype=float)
    if y.ndim != 1 or p.ndim != 1:
        raise ValueError(
            f"{name}: y_true and y_score must be 1-D; got shapes {y.shape} and {p.shape}"
        )
    if y.shape[0] != p.shape[0]:
        raise ValueError(f"{name}: y_true has {y.shape[0]} rows but y_score has {p.shape[0]}")
    if y.shape[0] == 0:
        raise ValueError(f"{name}: got empty inputs")
    if y.dtype == bool:
        y = y.astype(int)
    values = pd.unique(y)
    if not set(values.tolist()) <= {0, 1}:
        raise ValueError(f"{name}: y_true must hold 0/1 labels; got values {sorted(values.tolist())[:5]}")
    y = y.astype(int)
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name}: y_score holds NaN or infinite values")
    if probability and (p.min() < 0.0 or p.max() > 1.0):
        raise ValueError(f"{name}: y_score must be probabilities in [0, 1]")
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=float)
        if w.shape != y.shape:
            raise ValueError(f"{name}: sample_weight has shape {w.shape}, expected {y.shape}")
        if np.any(w < 0) or not np.all(np.isfinite(w)):
            raise ValueError(f"{name}: sample_weight must be finite and non-negative")
    return y, p, w


def _one_class(y: np.ndarray) -> bool:
    return np.unique(y).size < 2


def ks(y_true, y_score, sample_weight=None) -> float:
    """Kolmogorov-Smirnov statistic between the score distributions of positives and negatives.

    Credit scoring's usual separation measure: the largest vertical gap between the cumulative score
    distributions of the two classes, ``max |TPR - FPR|`` over all thresholds. 0 means the scores do
    not separate the classes, 1 means a threshold separates them perfectly.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels.
    y_score : array-like of shape (n,)
        Scores or probabilities; higher means more likely positive.
    sample_weight : array-like of shape (n,), optional
        Row weights.

    Returns
    -------
    float
        The KS statistic in ``[0, 1]``; NaN when ``y_true`` holds a single class.

    Examples
    --------
    >>> ks([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    1.0
    """
    y, p, w = _check_binary("ks", y_true, y_score, sample_weight)
    if _one_class(y):
        return float("nan")
    fpr, tpr, _ = skm.roc_curve(y, p, sample_weight=w, drop_intermediate=False)
    return float(np.max(np.abs(tpr - fpr)))


def gini(y_true, y_score, sample_weight=None) -> float:
    """Gini coefficient ``2 * AUC - 1``, the credit-scoring name for rank separation.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels.
    y_score : array-like of shape (n,)
        Scores or probabilities.
    sample_weight : array-like of shape (n,), optional
        Row weights.

    Returns
    -------
    float
        In ``[-1, 1]``; NaN when ``y_true`` holds a single class.

    Examples
    --------
    >>> gini([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    1.0
    """
    y, p, w = _check_binary("gini", y_true, y_score, sample_weight)
    if _one_class(y):
        return float("nan")
    return float(2.0 * skm.roc_auc_score(y, p, sample_weight=w) - 1.0)


def pr_auc(y_true, y_score, sample_weight=None) -> float:
    """Area under the precision-recall curve, as average precision.

    Preferred to ROC AUC for rare positives (fraud), where ROC AUC is dominated by easy negatives.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels.
    y_score : array-like of shape (n,)
        Scores or probabilities.
    sample_weight : array-like of shape (n,), optional
        Row weights.

    Returns
    -------
    float
        Average precision in ``[0, 1]``; NaN when ``y_true`` holds no positive.

    Examples
    --------
    >>> pr_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    1.0
    """
    y, p, w = _check_binary("pr_auc", y_true, y_score, sample_weight)
    if not y.any():
        return float("nan")
    return float(skm.average_precision_score(y, p, sample_weight=w))


def _check_fpr(fpr) -> float:
    if isinstance(fpr, bool) or not isinstance(fpr, Real) or not 0.0 < float(fpr) < 1.0:
        raise ValueError(f"recall_at_fpr: fpr must be a number strictly between 0 and 1; got {fpr!r}")
    return float(fpr)


def recall_at_fpr(y_true, y_score, fpr: float = 0.01, *, sample_weight=None) -> float:
    """Recall (true-positive rate) at the best threshold whose false-positive rate is at most ``fpr``.

    Fraud teams fix how many good customers they may bother (the false-positive rate) and ask how
    much fraud they then catch. Only thresholds actually reachable on the data count: there is no
    interpolation between points of the ROC curve.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels.
    y_score : array-like of shape (n,)
        Scores or probabilities; rows scoring at or above the threshold are flagged.
    fpr : float, default=0.01
        The largest false-positive rate allowed, strictly between 0 and 1.
    sample_weight : array-like of shape (n,), optional
        Row weights.

    Returns
    -------
    float
        Recall in ``[0, 1]``; NaN when ``y_true`` holds a single class.

    Examples
    --------
    >>> recall_at_fpr([0, 0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.7, 0.6, 0.9], fpr=0.25)
    1.0
    """
    fpr = _check_fpr(fpr)
    y, p, w = _check_binary("recall_at_fpr", y_true, y_score, sample_weight)
    if _one_class(y):
        return float("nan")
    fprs, tprs, _ = skm.roc_curve(y, p, sample_weight=w, drop_intermediate=False)
    # roc_curve starts at (0, 0), so at least one point always qualifies.
    return float(tprs[fprs <= fpr + 1e-12].max())


def _top_count(k, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, Real):
        raise ValueError(f"precision_at_k: k must be a count or a fraction; got {k!r}")
    if isinstance(k, Integral):
        if not 1 <= k <= n:
            raise ValueError(f"precision_at_k: k={k} rows must be between 1 and n={n}")
        return int(k)
    if not 0.0 < k <= 1.0:
        raise ValueError(f"precision_at_k: a fractional k must be in (0, 1]; got {k!r}")
    return max(1, math.ceil(k * n - 1e-9))


def precision_at_k(y_true, y_score, k: float = 0.01, *, sample_weight=None) -> float:
    """Share of positives among the ``k`` highest-scored rows.

    What an investigation team with capacity for ``k`` cases per period actually gets.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels.
    y_score : array-like of shape (n,)
        Scores or probabilities.
    k : int or float, default=0.01
        An int is a number of rows (``1 <= k <= n``); a float in ``(0, 1]`` a share of the rows,
        rounded up to at least one row.
    sample_weight : array-like of shape (n,), optional
        Row weights: the precision is the weighted share of positives among the top ``k`` rows
        (``k`` still counts rows, not weight).

    Returns
    -------
    float
        Precision in ``[0, 1]``. Rows tied with the ``k``-th score share the remaining places
        equally, so the result does not depend on row order (the expected precision under random
        tie-breaking).

    Examples
    --------
    >>> precision_at_k([0, 1, 0, 1], [0.1, 0.9, 0.8, 0.2], k=2)
    0.5
    """
    y, p, w = _check_binary("precision_at_k", y_true, y_score, sample_weight)
    count = _top_count(k, y.shape[0])
    w = np.ones_like(p) if w is None else w
    # Hand-written: scikit-learn has top_k_accuracy_score but no precision among the top-k scores.
    cutoff = np.sort(p)[::-1][count - 1]
    above, tied = p > cutoff, p == cutoff
    share = (count - above.sum()) / tied.sum()
    weight = w[above].sum() + share * w[tied].sum()
    if weight == 0:
        return float("nan")
    return float(((w * y)[above].sum() + share * (w * y)[tied].sum()) / weight)


def brier(y_true, y_prob, sample_weight=None) -> float:
    """Brier score, the mean squared error of predicted probabilities (lower is better).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels.
    y_prob : array-like of shape (n,)
        Probabilities of the positive class, in ``[0, 1]``.
    sample_weight : array-like of shape (n,), optional
        Row weights.

    Returns
    -------
    float
        In ``[0, 1]``; 0 is perfect.

    Examples
    --------
    >>> brier([0, 1], [0.0, 1.0])
    0.0
    """
    y, p, w = _check_binary("brier", y_true, y_prob, sample_weight, probability=True)
    return float(skm.brier_score_loss(y, p, sample_weight=w, pos_label=1))


def ece(y_true, y_prob, n_bins: int = 10, *, sample_weight=None) -> float:
    """Expected calibration error over equal-width probability bins (lower is better).

    Checks that a predicted 3% default rate means 3% of those borrowers default, which rank
    metrics such as AUC ignore. ECE is the bin-weight average of ``|mean(y) - mean(p)|`` per bin;
    bins are those of :func:`sklearn.calibration.calibration_curve` (``strategy="uniform"``).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels.
    y_prob : array-like of shape (n,)
        Probabilities of the positive class, in ``[0, 1]``.
    n_bins : int, default=10
        Number of equal-width bins on ``[0, 1]``.
    sample_weight : array-like of shape (n,), optional
        Row weights, used both for the bin means and for the weight of each bin.

    Returns
    -------
    float
        In ``[0, 1]``; 0 when every bin's mean probability equals its positive rate.

    Examples
    --------
    >>> ece([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])
    0.0
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, Integral) or n_bins < 1:
        raise ValueError(f"ece: n_bins must be a positive integer; got {n_bins!r}")
    y, p, w = _check_binary("ece", y_true, y_prob, sample_weight, probability=True)
    w = np.ones_like(p) if w is None else w
    if w.sum() == 0:
        return float("nan")
    # Hand-written: scikit-learn gives the per-bin curve (calibration_curve) but not its summary.
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], p)  # same binning as calibration_curve
    bin_w = np.bincount(bins, weights=w, minlength=n_bins)
    bin_y = np.bincount(bins, weights=w * y, minlength=n_bins)
    bin_p = np.bincount(bins, weights=w * p, minlength=n_bins)
    filled = bin_w > 0
    gaps = np.abs(bin_y[filled] - bin_p[filled]) / bin_w[filled]
    return float(np.sum(gaps * bin_w[filled]) / w.sum())


def _percent(x: float) -> str:
    return f"{x * 100:g}pct"


def make_recall_at_fpr(fpr: float, *, name: str | None = None, register: bool = True) -> Metric:
    """Build (and by default register) the metric :func:`recall_at_fpr` at one false-positive rate.

    Parameters
    ----------
    fpr : float
        The false-positive rate, strictly between 0 and 1.
    name : str, optional
        Registry name; defaults to ``"recall_at_<fpr in percent>pct_fpr"``.
    register : bool, default=True
        Whether to add the metric to the registry so ``Task(metric=name)`` finds it.

    Returns
    -------
    Metric

    Examples
    --------
    >>> make_recall_at_fpr(0.005).name
    'recall_at_0.5pct_fpr'
    """
    fpr = _check_fpr(fpr)
    name = name or f"recall_at_{_percent(fpr)}_fpr"

    def func(y, p, w=None):
        return recall_at_fpr(y, p, fpr, sample_weight=w)

    if register:
        return register_metric(name, func, greater_is_better=True, kinds=("binary",))
    return Metric(name, func, True, ("binary",))


def make_precision_at_k(k: float, *, name: str | None = None, register: bool = True) -> Metric:
    """Build (and by default register) the metric :func:`precision_at_k` for one ``k``.

    Parameters
    ----------
    k : int or float
        A number of rows, or a share of the rows in ``(0, 1]``.
    name : str, optional
        Registry name; defaults to ``"precision_at_top_<k>"`` (``"precision_at_top_1pct"`` for 0.01).
    register : bool, default=True
        Whether to add the metric to the registry so ``Task(metric=name)`` finds it.

    Returns
    -------
    Metric

    Examples
    --------
    >>> make_precision_at_k(100).name
    'precision_at_top_100'
    """
    if isinstance(k, bool) or not isinstance(k, Real) or k <= 0 or (
        not isinstance(k, Integral) and k > 1
    ):
        raise ValueError(f"make_precision_at_k: k must be a positive count or a share in (0, 1]; got {k!r}")
    name = name or f"precision_at_top_{k if isinstance(k, Integral) else _percent(k)}"

    def func(y, p, w=None):
        return precision_at_k(y, p, k, sample_weight=w)

    if register:
        return register_metric(name, func, greater_is_better=True, kinds=("binary",))
    return Metric(name, func, True, ("binary",))


register_metric("ks", ks, greater_is_better=True, kinds=("binary",))
register_metric("gini", gini, greater_is_better=True, kinds=("binary",))
register_metric("pr_auc", pr_auc, greater_is_better=True, kinds=("binary",))
make_recall_at_fpr(0.01)
make_precision_at_k(0.01)
register_metric("brier", brier, greater_is_better=False, kinds=("binary",))
register_metric(
    "ece", lambda y, p, w=None: ece(y, p, sample_weight=w), greater_is_better=False,
    kinds=("binary",),
)

#: The metrics :func:`finance_report` shows by default, in order.
FINANCE_METRICS = (
    "auc", "gini", "ks", "pr_auc", "recall_at_1pct_fpr", "precision_at_top_1pct", "brier", "ece",
    "logloss",
)


def finance_report(
    y_true, y_prob, sample_weight=None, *, metrics: tuple[str, ...] | list[str] | None = None
) -> pd.Series | pd.DataFrame:
    """All binary finance metrics of one task, or of several, as a table for a notebook.

    Parameters
    ----------
    y_true : array-like of shape (n,) or DataFrame of shape (n, tasks)
        0/1 labels. A DataFrame scores each column (task) against the same-named column of
        ``y_prob``, leaving out rows where that task's label is missing.
    y_prob : array-like of shape (n,) or DataFrame of shape (n, tasks)
        Probabilities of the positive class.
    sample_weight : array-like of shape (n,), optional
        Row weights.
    metrics : sequence of str, optional
        Registered binary metric names; defaults to :data:`FINANCE_METRICS`.

    Returns
    -------
    Series or DataFrame
        A Series indexed by metric name, or for DataFrame inputs a DataFrame of metrics x tasks.

    Examples
    --------
    >>> finance_report([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])["ks"]
    np.float64(1.0)
    """
    names = list(FINANCE_METRICS if metrics is None else metrics)
    found = [get_metric(n, "binary") for n in names]
    if isinstance(y_true, pd.DataFrame):
        if not isinstance(y_prob, pd.DataFrame):
            raise ValueError("finance_report: y_prob must be a DataFrame when y_true is one")
        missing = [c for c in y_true.columns if c not in y_prob.columns]
        if missing:
            raise ValueError(f"finance_report: y_prob lacks the task columns {missing}")
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        columns = {}
        for task in y_true.columns:
            keep = y_true[task].notna().to_numpy()
            columns[task] = finance_report(
                y_true[task].to_numpy()[keep], y_prob[task].to_numpy()[keep],
                None if w is None else w[keep], metrics=names,
            )
        return pd.DataFrame(columns)
    y, p = np.asarray(y_true), np.asarray(y_prob)
    values = [m(y, p, sample_weight) for m in found]
    return pd.Series(values, index=pd.Index(names, name="metric"), dtype=float)
