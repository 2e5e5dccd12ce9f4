"""Per-row explanations of a task's predictions, and reason codes for credit decisions.

Contributions are in the task's raw score space (log-odds for binary tasks): per row, the columns
add up to the raw prediction. They come from the task's final mechanism: the backends' native
SHAP values (TreeSHAP) for its trees, averaged over fold models where the task is bagged; the
sibling offset split by sibling (coefficient times standardised input) with its intercept in the
bias; stacking's sibling columns summed per sibling; path attributions for shared vector-leaf
trees (XGBoost has no SHAP values for them). The part that rests on other tasks' models shows in
one column per sibling (``"sibling:<task>"``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gbmtl.sharing._siblings import SIBLING_LABEL

__all__ = ["explain", "reason_codes", "SIBLING_LABEL"]


def explain(model, X, task: str, class_index: int | None = None) -> pd.DataFrame:
    """Feature contributions of ``task``'s final model for each row of ``X``.

    Parameters
    ----------
    model : fitted MultiTaskBooster
    X : DataFrame
    task : str
    class_index : int, optional
        For multiclass tasks, the class (index into ``model.classes_[task]``) to explain.

    Returns
    -------
    DataFrame indexed like ``X``: one column per feature, one ``"sibling:<task>"`` column per
    sibling the task's mechanism reads, and ``"bias"`` (the expected raw score).
    """
    F, index = model._features(X)
    res = model._result(task)
    t = model._task(task)
    n_classes = len(model.classes_[task]) if t.kind == "multiclass" else 0
    if t.kind == "multiclass":
        if class_index is None:
            raise ValueError(
                f"explain: task {task!r} is multiclass; pass class_index (0..{n_classes - 1})"
            )
        if not 0 <= class_index < n_classes:
            raise ValueError(f"explain: class_index must be in 0..{n_classes - 1}")
    elif class_index is not None:
        raise ValueError(f"explain: class_index applies to multiclass tasks only; {task!r} is "
                         f"{t.kind}")
    inputs = model._sibling_inputs(F, res.final.siblings)
    names, contrib = res.final.contributions(F, inputs)
    contrib = contrib[:, class_index or 0, :]
    user = dict(zip(F.columns, model.shared_.columns_, strict=True))  # internal -> the user's
    return pd.DataFrame(contrib, columns=[user.get(n, n) for n in names] + ["bias"], index=index)


def reason_codes(model, X, task: str, k: int = 4, include_siblings: bool = False,
                 class_index: int | None = None) -> pd.DataFrame:
    """The ``k`` features that push each row's score up the most (e.g. toward default).

    Adverse-action notices must name the applicant's own characteristics, so sibling-task
    predictions are left out by default (``include_siblings=False``); their share stays visible in
    :func:`explain`.

    Returns
    -------
    DataFrame indexed like ``X`` with columns ``reason_1..k`` (feature names, None where fewer
    than ``k`` features push the score up) and ``contribution_1..k``.
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"reason_codes: k must be a positive integer, got {k!r}")
    contrib = explain(model, X, task, class_index).drop(columns="bias")
    if not include_siblings:
        contrib = contrib[[c for c in contrib.columns if not c.startswith(SIBLING_LABEL)]]
    values = contrib.to_numpy()
    names = np.asarray(contrib.columns, dtype=object)
    order = np.argsort(-values, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(values, order, axis=1)
    out = {}
    for j in range(order.shape[1]):
        positive = top[:, j] > 0
        out[f"reason_{j + 1}"] = np.where(positive, names[order[:, j]], None)
        out[f"contribution_{j + 1}"] = np.where(positive, top[:, j], 0.0)
    return pd.DataFrame(out, index=contrib.index)
