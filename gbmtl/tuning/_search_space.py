"""Search spaces: the namespaced parameter names the tuner samples, and how they reach an estimator.

A search space maps parameter names to Optuna distributions (or fixed values). Names follow one
convention:

- ``"<task>/<param>"``: a backend parameter of one task (``"income/num_leaves"``), written into
  that task's ``Task.params``;
- ``"*/<param>"``: the same parameter sampled separately for every task (expanded to
  ``"<task>/<param>"`` once the tasks are known);
- ``"<task>/sharing"``: the task's sharing mechanism (``Task.sharing``: ``"none"``,
  ``"offset"``, ``"stacking"``, ``"shared_trees"`` or ``"auto"``);
- ``"<task>/use_siblings"``: a boolean; ``False`` gives the task no siblings (no sharing
  mechanism reads other tasks for it), ``True`` keeps the estimator's siblings for it;
- ``"<mechanism>:<param>"``: a setting of a sharing mechanism, written into the estimator's
  ``sharing_params`` (``"shared_trees:max_depth"``);
- a name without ``/`` that is a constructor parameter of the estimator (``"sharing"``,
  ``"n_folds"``, ``"early_stopping_rounds"``) sets that parameter;
- any other name without ``/`` is a backend parameter shared by all tasks, merged into the
  estimator's ``params`` (task parameters still override it).

Instead of a dict, a search space may be a callable ``(trial, tasks) -> dict`` that suggests values
itself and returns a dict of the same names (with values, not distributions).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from gbmtl.tasks import Task

__all__ = ["default_search_space", "expand_search_space", "suggest", "build_estimator",
           "effective_params"]

USE_SIBLINGS = "use_siblings"
SHARING = "sharing"
#: Mechanisms a trial chooses among per task in the default space. "auto" would rerun the
#: comparison inside every trial; the tuner compares mechanisms by the trials' scores instead.
SHARING_CHOICES = ["none", "offset", "stacking", "shared_trees"]
WILDCARD = "*"
#: Estimator parameters the tuner builds itself from namespaced names; never set directly.
_BUILT = ("tasks", "params", "siblings", "sharing_params")


def default_search_space(backend: str = "lightgbm", n_tasks: int = 2) -> dict[str, Any]:
    """The search space the tuner uses when given none.

    Why: a small, robust space (learning rate, tree size, leaf size, column sampling, L2) per
    task, plus each task's sharing mechanism when there is more than one task.

    Parameters
    ----------
    backend : {"lightgbm", "xgboost"}
        The backend whose parameter names the space uses.
    n_tasks : int, default 2
        With one task, the sharing choice is left out (it would do nothing).

    Returns
    -------
    dict
        Names (with ``*/`` wildcards) mapped to Optuna distributions.

    Examples
    --------
    >>> space = default_search_space("lightgbm")
    >>> sorted(space)[:2]
    ['*/feature_fraction', '*/lambda_l2']
    """
    if backend == "lightgbm":
        space: dict[str, Any] = {
            "*/learning_rate": FloatDistribution(0.01, 0.3, log=True),
            "*/num_leaves": IntDistribution(7, 127, log=True),
            "*/min_child_samples": IntDistribution(5, 200, log=True),
            "*/feature_fraction": FloatDistribution(0.5, 1.0),
            "*/lambda_l2": FloatDistribution(1e-3, 10.0, log=True),
        }
    elif backend == "xgboost":
        space = {
            "*/eta": FloatDistribution(0.01, 0.3, log=True),
            "*/max_depth": IntDistribution(2, 10),
            "*/min_child_weight": FloatDistribution(0.5, 50.0, log=True),
            "*/colsample_bytree": FloatDistribution(0.5, 1.0),
            "*/lambda": FloatDistribution(1e-3, 10.0, log=True),
        }
    else:
        raise ValueError(
            f"default_search_space: unknown backend {backend!r}; expected 'lightgbm' or 'xgboost'"
        )
    if n_tasks > 1:
        space[f"*/{SHARING}"] = CategoricalDistribution(SHARING_CHOICES)
    return space


def split_name(name: str) -> tuple[str | None, str]:
    """``"task/param"`` -> ``("task", "param")``; ``"param"`` -> ``(None, "param")``."""
    if "/" not in name:
        return None, name
    task, param = name.rsplit("/", 1)
    return task, param


def check_names(names, task_names: list[str], where: str = "search_space") -> None:
    """Raise a ValueError naming every key whose namespace is not a task (or ``*``)."""
    known = set(task_names)
    bad = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{where}: keys must be strings, got {name!r}")
        task, param = split_name(name)
        if not param or (task is not None and task != WILDCARD and task not in known):
            bad.append(name)
    if bad:
        raise ValueError(
            f"{where}: {bad} name unknown tasks; use '<task>/<param>' with a task among "
            f"{task_names}, '*/<param>' for every task, or '<param>' for a shared parameter"
        )


def expand_search_space(space: Mapping[str, Any], tasks: list[Task]) -> dict[str, Any]:
    """Replace ``*/param`` entries by one ``task/param`` entry per task (explicit ones win).

    Why: the wildcard form keeps the default space independent of the task names.
    """
    names = [t.name for t in tasks]
    check_names(space, names)
    out: dict[str, Any] = {}
    for name, dist in space.items():
        task, param = split_name(name)
        if task == WILDCARD:
            if param in (USE_SIBLINGS, SHARING) and len(tasks) < 2:
                continue
            for t in names:
                out.setdefault(f"{t}/{param}", dist)
        else:
            out[name] = dist
    # An explicit "task/param" given after a wildcard still overrides the wildcard entry.
    out.update({k: v for k, v in space.items() if split_name(k)[0] not in (WILDCARD,)})
    return out


def _suggest_one(trial, name: str, dist: Any) -> Any:
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, list(dist.choices))
    if isinstance(dist, BaseDistribution):
        raise TypeError(f"search_space[{name!r}]: unsupported distribution {dist!r}")
    return dist  # a fixed value


def suggest(
    trial, space: Mapping[str, Any] | Callable[..., Mapping[str, Any]], tasks: list[Task]
) -> dict[str, Any]:
    """Sample one set of namespaced parameters for ``trial``.

    Parameters
    ----------
    trial : optuna.trial.Trial
        The trial that records the suggestions.
    space : dict or callable
        An expanded dict of distributions (see :func:`expand_search_space`), or a callable
        ``(trial, tasks) -> dict`` returning the values itself.
    tasks : list of Task
        The resolved tasks (passed to a callable space).

    Returns
    -------
    dict
        Namespaced names mapped to values, ready for :func:`build_estimator`.
    """
    if callable(space):
        values = space(trial, tasks)
        if not isinstance(values, Mapping):
            raise TypeError(
                f"search_space callable must return a dict of parameters, got {type(values).__name__}"
            )
        values = dict(values)
        check_names(values, [t.name for t in tasks], where="search_space callable")
        return values
    return {name: _suggest_one(trial, name, dist) for name, dist in space.items()}


def build_estimator(estimator, tasks: list[Task], params: Mapping[str, Any]):
    """A clone of ``estimator`` with namespaced ``params`` applied (see the module docstring).

    Parameters
    ----------
    estimator : MultiTaskBooster
        The template; it is not modified.
    tasks : list of Task
        The resolved tasks (kinds known) the parameters refer to.
    params : dict
        Namespaced names mapped to values (no wildcards).

    Returns
    -------
    MultiTaskBooster
        An unfitted estimator.
    """
    from sklearn.base import clone

    est = clone(estimator)
    own = est.get_params(deep=False)
    names = [t.name for t in tasks]
    check_names(params, names, where="params")
    task_params: dict[str, dict[str, Any]] = {n: {} for n in names}
    use_siblings: dict[str, bool] = {}
    task_sharing: dict[str, Any] = {}
    mechanism_params: dict[str, dict[str, Any]] = {}
    shared: dict[str, Any] = {}
    updates: dict[str, Any] = {}
    for name, value in params.items():
        task, param = split_name(name)
        if task == WILDCARD:
            raise ValueError(f"params: {name!r} is a wildcard; expand the search space first")
        if task is not None:
            if param == USE_SIBLINGS:
                use_siblings[task] = bool(value)
            elif param == SHARING:
                task_sharing[task] = value
            else:
                task_params[task][param] = value
        elif ":" in param:
            mechanism, setting = param.split(":", 1)
            mechanism_params.setdefault(mechanism, {})[setting] = value
        elif param in own and param not in _BUILT:
            updates[param] = value
        else:
            shared[param] = value
    new_tasks = [
        replace(t, params={**(t.params or {}), **task_params[t.name]} or None,
                sharing=task_sharing.get(t.name, t.sharing)) for t in tasks
    ]
    updates["tasks"] = new_tasks
    if mechanism_params:
        given = {k: dict(v) for k, v in (own.get("sharing_params") or {}).items()}
        for mechanism, settings in mechanism_params.items():
            given.setdefault(mechanism, {}).update(settings)
        updates["sharing_params"] = given
    if shared:
        updates["params"] = {**(own.get("params") or {}), **shared}
    if use_siblings:
        given = own.get("siblings") or {}
        updates["siblings"] = {
            n: (list(given.get(n, [m for m in names if m != n])) if use_siblings.get(n, True) else [])
            for n in names
        }
    return est.set_params(**updates)


def effective_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` without the entries that had no effect, so a report does not contradict itself.

    A task whose sharing is ``"none"`` reads no siblings, so its ``use_siblings`` is dropped; a
    task with ``use_siblings=False`` has nothing to share with, so its sharing is reported as
    ``"none"`` (and the flag dropped). The estimator that :func:`build_estimator` makes from the
    result predicts as the one made from ``params``.
    """
    out = dict(params)
    for name, value in params.items():
        task, param = split_name(name)
        if task is None or param != USE_SIBLINGS:
            continue
        sharing = f"{task}/{SHARING}"
        if not value:
            del out[name]
            out[sharing] = "none"
        elif out.get(sharing) == "none":
            del out[name]
    return out
