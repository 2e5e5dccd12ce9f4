"""Plots of a tuning run: optimisation history, per-task scores, Pareto front, importances.

Each function takes a fitted :class:`~gbmtl.tuning.MultiTaskTuner` (or its ``study_`` where
noted), draws on ``ax`` (a new figure when None) and returns the Axes. matplotlib is imported
only when a plot is drawn.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

__all__ = [
    "plot_optimization_history",
    "plot_task_scores",
    "plot_pareto_front",
    "plot_param_importances",
]


def _axes(ax):
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'gbmtl[viz]'") from None
    _, ax = plt.subplots()
    return ax


def _scores(tuner) -> pd.DataFrame:
    """Complete trials with their weighted and per-task scores, in trial order."""
    import optuna

    if not hasattr(tuner, "study_"):
        raise ValueError("this MultiTaskTuner is not fitted yet; call fit first")
    names = [t.name for t in tuner.tasks_]
    rows = []
    for t in tuner.study_.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        row = {"number": t.number, "weighted_score": t.user_attrs.get("weighted_score")}
        row.update({n: t.user_attrs.get(f"score_{n}") for n in names})
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["number", "weighted_score", *names])
    return frame.astype(float).sort_values("number", ignore_index=True)


def plot_optimization_history(tuner, ax=None):
    """Weighted CV score per complete trial and the best so far.

    Parameters
    ----------
    tuner : MultiTaskTuner
        Fitted.
    ax : matplotlib Axes or None

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    frame = _scores(tuner)
    ax.scatter(frame["number"], frame["weighted_score"], s=14, alpha=0.6, label="trial")
    ax.plot(frame["number"], frame["weighted_score"].cummax(), color="C1", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("weighted CV score")
    ax.set_title("Optimisation history")
    ax.legend(loc="lower right")
    return ax


def plot_task_scores(tuner, top: int = 10, ax=None):
    """Per-task CV scores of the ``top`` trials by weighted score (grouped bars).

    Why: a good weighted score can hide a task that got worse; this shows each task.

    Parameters
    ----------
    tuner : MultiTaskTuner
        Fitted.
    top : int, default 10
    ax : matplotlib Axes or None

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    frame = _scores(tuner).nlargest(top, "weighted_score")
    names = [t.name for t in tuner.tasks_]
    width = 0.8 / max(len(names), 1)
    x = np.arange(len(frame))
    for i, name in enumerate(names):
        ax.bar(x + i * width, frame[name], width=width, label=name)
    ax.set_xticks(x + width * (len(names) - 1) / 2)
    ax.set_xticklabels([f"#{int(n)}" for n in frame["number"]], rotation=45)
    ax.set_xlabel("trial (best weighted score first)")
    ax.set_ylabel("CV score (common scale)")
    low = np.nanmin(frame[names].to_numpy()) if len(frame) else 0.0
    ax.set_ylim(bottom=min(0.0, low) if low < 0.5 else low - 0.05)
    ax.set_title("Per-task scores of the best trials")
    ax.legend(loc="lower right")
    return ax


def plot_pareto_front(tuner, tasks: tuple[str, str] | None = None, ax=None):
    """Two tasks' CV scores for every complete trial, Pareto-optimal trials highlighted.

    Parameters
    ----------
    tuner : MultiTaskTuner
        Fitted (either objective; the front is computed on the two tasks shown).
    tasks : pair of task names or None
        The first two tasks when None.
    ax : matplotlib Axes or None

    Returns
    -------
    matplotlib Axes
    """
    names = [t.name for t in tuner.tasks_] if hasattr(tuner, "tasks_") else []
    if tasks is None:
        if len(names) < 2:
            raise ValueError("plot_pareto_front needs at least two tasks")
        tasks = (names[0], names[1])
    unknown = [t for t in tasks if t not in names]
    if unknown:
        raise ValueError(f"plot_pareto_front: unknown tasks {unknown}; tasks are {names}")
    ax = _axes(ax)
    a, b = tasks
    frame = _scores(tuner).dropna(subset=[a, b])
    points = frame[[a, b]].to_numpy()
    optimal = np.array([
        not np.any(np.all(points >= p, axis=1) & np.any(points > p, axis=1)) for p in points
    ], dtype=bool)
    ax.scatter(points[~optimal, 0], points[~optimal, 1], s=14, alpha=0.5, color="C0",
               label="trial")
    front = points[optimal][np.argsort(points[optimal, 0])]
    ax.plot(front[:, 0], front[:, 1], "o-", color="C3", label="Pareto front")
    if hasattr(tuner, "best_trial_"):
        best = frame.loc[frame["number"] == tuner.best_trial_.number, [a, b]].to_numpy()
        if len(best):
            ax.scatter(best[:, 0], best[:, 1], marker="*", s=160, color="C1", label="best_params_")
    ax.set_xlabel(f"{a} CV score")
    ax.set_ylabel(f"{b} CV score")
    ax.set_title("Pareto front")
    ax.legend(loc="lower left")
    return ax


def plot_param_importances(tuner, top: int = 15, ax=None):
    """Importance of each parameter for the weighted score (Optuna's default evaluator).

    Parameters
    ----------
    tuner : MultiTaskTuner
        Fitted, with at least two complete trials.
    top : int, default 15
    ax : matplotlib Axes or None

    Returns
    -------
    matplotlib Axes
    """
    import optuna

    if not hasattr(tuner, "study_"):
        raise ValueError("this MultiTaskTuner is not fitted yet; call fit first")

    def target(trial):
        # Optuna's evaluator ranks parameters for *low* target values: negate the score.
        value = trial.user_attrs.get("weighted_score")
        return float("nan") if value is None else -float(value)

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*importances of params to achieve low")
        importances = optuna.importance.get_param_importances(tuner.study_, target=target)
    items = list(importances.items())[:top][::-1]
    ax = _axes(ax)
    ax.barh([k for k, _ in items], [v for _, v in items], color="C0")
    ax.set_xlabel("importance for the weighted score")
    ax.set_title("Parameter importance")
    return ax
