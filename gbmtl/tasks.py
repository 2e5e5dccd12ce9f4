"""Task specifications: what one target column is, and how its kind is inferred."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from gbmtl.metrics import KINDS, default_metric, get_metric

__all__ = ["Task", "infer_kind", "resolve_tasks"]

#: An integer-valued column with at most this many distinct values is taken as multiclass.
MAX_INFERRED_CLASSES = 20


@dataclass
class Task:
    """One target of a multi-task model.

    Parameters
    ----------
    name : str
        The target column in ``Y``.
    kind : {"binary", "multiclass", "regression"} or None
        Inferred from the column when None (see :func:`infer_kind`).
    weight : float, default 1.0
        Weight of this task in the joint objective (``score`` and the tuner).
    metric : str or None
        Metric reported by ``evaluate`` and used for sibling selection; a name from
        :mod:`gbmtl.metrics`. Defaults to AUC (binary), multi-class log loss, RMSE (regression).
    params : dict or None
        Backend parameters for this task only; they override the estimator-wide ``params``.
    backend : {"lightgbm", "xgboost"} or None
        Backend for this task; the estimator's ``backend`` when None.
    sharing : str, list of str or None
        How this task may learn from its siblings, as the estimator's ``sharing`` (which it
        overrides for this task when given).
    """

    name: str
    kind: str | None = None
    weight: float = 1.0
    metric: str | None = None
    params: dict[str, Any] | None = field(default=None)
    backend: str | None = None
    sharing: str | list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        return cls(**data)


def infer_kind(y: pd.Series) -> str:
    """Infer a task kind from its labelled values.

    Two distinct labels -> binary; text, boolean or category values, or integers with at most
    ``MAX_INFERRED_CLASSES`` distinct values -> multiclass; any other number -> regression
    (two distinct numbers that are not whole, such as 1.5 and 2.7, are a regression target).
    """
    values = y.dropna()
    n_unique = values.nunique()
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if n_unique == 2 and not (numeric and not np.all(np.mod(values.to_numpy(dtype=float), 1) == 0)):
        return "binary"
    if not (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)):
        return "multiclass"
    as_float = values.to_numpy(dtype=float)
    as_float = as_float[np.isfinite(as_float)]
    if np.all(np.mod(as_float, 1) == 0) and n_unique <= MAX_INFERRED_CLASSES:
        return "multiclass"
    return "regression"


def _as_task_list(tasks, columns: list[str]) -> list[Task]:
    if tasks is None:
        return [Task(str(c)) for c in columns]
    if isinstance(tasks, dict):
        return [Task(str(name), kind=kind) for name, kind in tasks.items()]
    if isinstance(tasks, (list, tuple)):
        out = []
        for t in tasks:
            if isinstance(t, Task):
                out.append(replace(t, params=dict(t.params) if t.params else None))
            elif isinstance(t, str):
                out.append(Task(t))
            else:
                raise TypeError(
                    f"tasks: expected Task objects or column names, got {type(t).__name__}"
                )
        return out
    raise TypeError(
        f"tasks: expected None, a list of Task or a dict name -> kind, got {type(tasks).__name__}"
    )


def resolve_tasks(tasks, Y: pd.DataFrame, backend: str) -> list[Task]:
    """Check task specs against ``Y`` and fill in kind, metric and backend.

    Raises a ValueError naming the task for every problem a fit would otherwise hit deep inside
    a backend: unknown kind, task without a column, empty column, single-class binary task,
    text or infinite regression targets.
    """
    columns = [str(c) for c in Y.columns]
    resolved = _as_task_list(tasks, columns)
    names = [t.name for t in resolved]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"tasks: duplicate task names {dupes}")
    missing = [n for n in names if n not in columns]
    if missing:
        raise ValueError(f"tasks {missing} have no column in Y; Y has columns {columns}")
    if not resolved:
        raise ValueError("tasks: at least one task is needed")
    out = []
    for task in resolved:
        y = Y[task.name]
        labelled = y.dropna()
        if labelled.empty:
            raise ValueError(f"Task {task.name!r}: every label is missing (NaN); nothing to learn")
        kind = task.kind if task.kind is not None else infer_kind(y)
        if kind not in KINDS:
            raise ValueError(f"Task {task.name!r}: unknown kind {kind!r}; expected one of {KINDS}")
        n_unique = labelled.nunique()
        if kind in ("binary", "multiclass") and n_unique < 2:
            raise ValueError(
                f"Task {task.name!r}: a {kind} task needs at least two classes among its "
                f"labelled rows, found only {labelled.unique().tolist()}"
            )
        if kind == "binary" and n_unique > 2:
            raise ValueError(
                f"Task {task.name!r}: declared binary but has {n_unique} classes; "
                "use kind='multiclass'"
            )
        if kind == "regression":
            if not pd.api.types.is_numeric_dtype(labelled) or pd.api.types.is_bool_dtype(
                labelled
            ):
                raise ValueError(
                    f"Task {task.name!r}: regression targets must be numeric, "
                    f"got dtype {labelled.dtype}"
                )
        if pd.api.types.is_numeric_dtype(labelled) and not pd.api.types.is_bool_dtype(labelled):
            if np.isinf(labelled.to_numpy(dtype=float)).any():
                raise ValueError(
                    f"Task {task.name!r}: targets contain inf; use NaN for unknown labels"
                )
        if kind in ("binary", "multiclass"):
            kinds_of_values = {type(v).__name__ for v in labelled.unique().tolist()
                               if not isinstance(v, bool)}
            if ({"str"} & kinds_of_values) and len(kinds_of_values) > 1:
                raise ValueError(
                    f"Task {task.name!r}: labels mix text and numbers ({sorted(kinds_of_values)}); "
                    "give every label the same type (e.g. Y[task].astype(str))"
                )
        task_backend = task.backend or backend
        if task_backend not in ("lightgbm", "xgboost"):
            raise ValueError(
                f"Task {task.name!r}: unknown backend {task_backend!r}; "
                "expected 'lightgbm' or 'xgboost'"
            )
        metric = task.metric if task.metric is not None else default_metric(kind)
        get_metric(metric, kind)  # validates the name and its fit to the kind
        if (isinstance(task.weight, (bool, str)) or not isinstance(task.weight, (int, float, np.number))
                or not np.isfinite(task.weight) or task.weight < 0):
            raise ValueError(
                f"Task {task.name!r}: weight must be a finite number >= 0, got {task.weight!r}"
            )
        out.append(replace(task, kind=kind, metric=metric, backend=task_backend))
    return out
