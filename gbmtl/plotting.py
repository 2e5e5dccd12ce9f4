"""Plots for fitted multi-task models and binary scores: task affinity, importance, calibration, KS, lift.

matplotlib is an optional dependency (``pip install "gbmtl[viz]"``), imported only when a plot is
drawn. Every function takes ``ax=None`` (a new figure when omitted) and returns the Axes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gbmtl.metrics import _check_binary, ece

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "plot_task_affinity",
    "plot_task_affinity_by_metric",
    "plot_feature_importance",
    "plot_calibration_curve",
    "plot_lift_ks",
    "plot_lift",
]


def _axes(ax):
    """The given Axes, or a new figure's; fails with the extra to install if matplotlib is missing."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(
            'gbmtl plotting needs matplotlib; install it with: pip install "gbmtl[viz]"'
        ) from err
    if ax is None:
        _, ax = plt.subplots()
    return ax


def plot_task_affinity(
    affinity: pd.DataFrame | Any, ax: Axes | None = None, *, annotate: bool = True,
    cmap: str = "RdBu_r",
) -> Axes:
    """Heatmap of how much each sibling's predictions help each task.

    Parameters
    ----------
    affinity : DataFrame or fitted estimator
        Tasks (rows) x siblings (columns), or an object with a ``task_affinity_`` DataFrame.
        Missing values (a task is not its own sibling) are left blank.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.
    annotate : bool, default=True
        Write each value in its cell.
    cmap : str, default="RdBu_r"
        A diverging colormap, centred on zero (no effect).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import pandas as pd
    >>> aff = pd.DataFrame({"a": [None, 0.02], "b": [0.01, None]}, index=["a", "b"])
    >>> ax = plot_task_affinity(aff)  # doctest: +SKIP
    """
    if not isinstance(affinity, pd.DataFrame):
        found = getattr(affinity, "task_affinity_", None)
        if not isinstance(found, pd.DataFrame):
            raise TypeError(
                "plot_task_affinity: expected a DataFrame of tasks x siblings or an object with a "
                f"task_affinity_ DataFrame; got {type(affinity).__name__}"
            )
        affinity = found
    ax = _axes(ax)
    values = affinity.to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    vmax = float(np.abs(finite).max()) if finite.size and np.abs(finite).max() > 0 else 1.0
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=-vmax, vmax=vmax,
                      aspect="auto")
    ax.figure.colorbar(image, ax=ax, label="affinity")
    ax.set_xticks(range(values.shape[1]), [str(c) for c in affinity.columns], rotation=45,
                  ha="right")
    ax.set_yticks(range(values.shape[0]), [str(i) for i in affinity.index])
    if annotate:
        for (row, col), value in np.ndenumerate(values):
            if np.isfinite(value):
                color = "white" if abs(value) > 0.6 * vmax else "black"  # readable on dark cells
                ax.text(col, row, f"{value:.3g}", ha="center", va="center", fontsize=8,
                        color=color)
    ax.set_xlabel("sibling")
    ax.set_ylabel("task")
    ax.set_title("Task affinity")
    return ax


def plot_task_affinity_by_metric(model, *, annotate: bool = True, cmap: str = "RdBu_r"):
    """One affinity heatmap per task metric, side by side.

    Affinities are in each task's own metric units (AUC, RMSE in currency, ...), so one shared
    colour scale would let a regression task drown out the others.

    Parameters
    ----------
    model : fitted MultiTaskBooster
        Anything with ``tasks_`` (each with a ``metric``) and ``task_affinity_``.
    annotate, cmap
        As in :func:`plot_task_affinity`.

    Returns
    -------
    matplotlib Figure
    """
    metric = pd.Series({t.name: str(t.metric) for t in model.tasks_})
    groups = [(m, list(metric.index[metric == m])) for m in dict.fromkeys(metric)]
    fig = _axes(None).figure
    fig.clear()
    fig.set_size_inches(5.5 * len(groups), 3.6)
    axes = fig.subplots(1, len(groups), squeeze=False)[0]
    for ax, (m, names) in zip(axes, groups, strict=True):
        plot_task_affinity(model.task_affinity_.loc[names], ax=ax, annotate=annotate, cmap=cmap)
        ax.set_title(f"Task affinity, tasks scored by {m}")
    fig.tight_layout()
    return fig


def _importance_table(importances) -> pd.DataFrame:
    """Importances as a features x tasks DataFrame, whatever form they came in."""
    if isinstance(importances, pd.DataFrame):
        return importances
    if isinstance(importances, pd.Series):
        return importances.to_frame(importances.name if importances.name is not None else "importance")
    found = getattr(importances, "feature_importances_", None)
    if found is None:
        raise TypeError(
            "plot_feature_importance: expected a DataFrame of features x tasks or an object with "
            f"feature_importances_; got {type(importances).__name__}"
        )
    if isinstance(found, pd.DataFrame | pd.Series):
        return _importance_table(found)
    found = np.asarray(found, dtype=float)
    names = getattr(importances, "feature_names_in_", None)
    names = list(names) if names is not None else [f"x{i}" for i in range(found.shape[0])]
    return pd.DataFrame(found.reshape(len(names), -1), index=names).rename(
        columns={0: "importance"} if found.ndim == 1 else {}
    )


def plot_feature_importance(
    importances: pd.DataFrame | Any, task: str | None = None, top: int = 20, ax: Axes | None = None
) -> Axes:
    """Horizontal bars of the most important features, for one task or averaged over tasks.

    Parameters
    ----------
    importances : DataFrame, Series or fitted estimator
        Features (rows) x tasks (columns), or an object with ``feature_importances_``.
    task : str, optional
        The task (column) to show; by default the only column, or the mean over all tasks.
    top : int, default=20
        How many features to show, most important on top.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import pandas as pd
    >>> imp = pd.DataFrame({"fraud": [3.0, 1.0], "chargeback": [2.0, 4.0]}, index=["amt", "age"])
    >>> ax = plot_feature_importance(imp, task="fraud")  # doctest: +SKIP
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"plot_feature_importance: top must be a positive integer; got {top!r}")
    table = _importance_table(importances)
    if task is not None:
        if task not in table.columns:
            raise KeyError(
                f"plot_feature_importance: unknown task {task!r}; available: {list(table.columns)}"
            )
        values, title = table[task], f"Feature importance: {task}"
    elif table.shape[1] == 1:
        values, title = table.iloc[:, 0], "Feature importance"
    else:
        values, title = table.mean(axis=1), "Feature importance (mean over tasks)"
    values = values.astype(float).sort_values(ascending=False).head(top)[::-1]
    ax = _axes(ax)
    ax.barh([str(i) for i in values.index], values.to_numpy())
    ax.set_xlabel("importance")
    ax.set_title(title)
    return ax


def plot_calibration_curve(
    y_true, y_prob, n_bins: int = 10, ax: Axes | None = None, label: str | None = None,
    *, strategy: str = "uniform",
) -> Axes:
    """Reliability diagram: observed positive rate against mean predicted probability per bin.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels.
    y_prob : array-like of shape (n,)
        Probabilities of the positive class.
    n_bins : int, default=10
        Number of bins.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted. Calling again on the same Axes adds a curve.
    label : str, optional
        Legend label; defaults to ``"model"``. The unweighted ECE (uniform bins) is appended.
    strategy : {"uniform", "quantile"}, default="uniform"
        Passed to :func:`sklearn.calibration.calibration_curve`.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> ax = plot_calibration_curve([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9])  # doctest: +SKIP
    """
    from sklearn.calibration import calibration_curve

    y, p, _ = _check_binary("plot_calibration_curve", y_true, y_prob, probability=True)
    frac_pos, mean_pred = calibration_curve(y, p, n_bins=n_bins, strategy=strategy)
    ax = _axes(ax)
    if not any(line.get_gid() == "perfect" for line in ax.get_lines()):
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated",
                gid="perfect")
    ax.plot(mean_pred, frac_pos, marker="o",
            label=f"{label or 'model'} (ECE={ece(y, p, n_bins=n_bins):.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("fraction of positives")
    ax.set_title("Calibration curve")
    ax.legend(loc="upper left")
    return ax


def _cumulative_by_score(y, p, w):
    """Unique scores ascending, with the cumulative weight of negatives and positives up to each."""
    w = np.ones_like(p) if w is None else w
    scores, inverse = np.unique(p, return_inverse=True)
    pos = np.bincount(inverse, weights=w * y, minlength=scores.size)
    neg = np.bincount(inverse, weights=w * (1 - y), minlength=scores.size)
    return scores, np.cumsum(neg), np.cumsum(pos)


def plot_lift_ks(y_true, y_score, ax: Axes | None = None, *, sample_weight=None) -> Axes:
    """KS chart: cumulative score distributions of negatives and positives, with the KS gap marked.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels; both classes must be present.
    y_score : array-like of shape (n,)
        Scores or probabilities.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.
    sample_weight : array-like of shape (n,), optional
        Row weights.

    Returns
    -------
    matplotlib Axes
        With three lines: the two cumulative distributions and the KS gap (equal to
        :func:`gbmtl.metrics.ks`).

    Examples
    --------
    >>> ax = plot_lift_ks([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])  # doctest: +SKIP
    """
    y, p, w = _check_binary("plot_lift_ks", y_true, y_score, sample_weight)
    scores, neg, pos = _cumulative_by_score(y, p, w)
    if neg[-1] == 0 or pos[-1] == 0:
        raise ValueError("plot_lift_ks: y_true must hold both positives and negatives")
    cdf_neg, cdf_pos = neg / neg[-1], pos / pos[-1]
    gap = np.abs(cdf_neg - cdf_pos)
    best = int(np.argmax(gap))
    ax = _axes(ax)
    start = scores[0] - 0.02 * max(scores[-1] - scores[0], 1e-12)
    x = np.r_[start, scores]
    ax.step(x, np.r_[0.0, cdf_neg], where="post", label="negatives")
    ax.step(x, np.r_[0.0, cdf_pos], where="post", label="positives")
    ax.plot([scores[best]] * 2, [cdf_pos[best], cdf_neg[best]], color="black", linestyle="--",
            marker="_", label=f"KS = {gap[best]:.3f}")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("score")
    ax.set_ylabel("cumulative share")
    ax.set_title(f"KS chart (KS = {gap[best]:.3f})")
    ax.legend(loc="lower right")
    return ax


def plot_lift(
    y_true, y_score, ax: Axes | None = None, *, kind: str = "gains", sample_weight=None
) -> Axes:
    """Cumulative gains or lift chart: what targeting the top-scored share of rows captures.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels; at least one positive.
    y_score : array-like of shape (n,)
        Scores or probabilities.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.
    kind : {"gains", "lift"}, default="gains"
        ``"gains"``: share of all positives captured against share of rows targeted, with the
        random diagonal. ``"lift"``: that share divided by the share targeted, with the line at 1.
    sample_weight : array-like of shape (n,), optional
        Row weights.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> ax = plot_lift([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], kind="lift")  # doctest: +SKIP
    """
    if kind not in ("gains", "lift"):
        raise ValueError(f"plot_lift: kind must be 'gains' or 'lift'; got {kind!r}")
    y, p, w = _check_binary("plot_lift", y_true, y_score, sample_weight)
    # Tied scores are taken together, so the curve does not depend on row order.
    _, neg, pos = _cumulative_by_score(y, -p, w)  # ascending -p = descending scores
    total = neg + pos
    if pos[-1] == 0:
        raise ValueError("plot_lift: y_true holds no positive")
    targeted, captured = total / total[-1], pos / pos[-1]
    ax = _axes(ax)
    if kind == "gains":
        ax.plot(np.r_[0.0, targeted], np.r_[0.0, captured], label="model")
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
        ax.set_ylabel("share of positives captured")
        ax.set_title("Cumulative gains")
    else:
        ax.plot(targeted, captured / targeted, label="model")
        ax.axhline(1.0, linestyle="--", color="grey", label="random")
        ax.set_ylabel("lift")
        ax.set_title("Lift chart")
    ax.set_xlabel("share of rows targeted (highest scores first)")
    ax.legend(loc="best")
    return ax
