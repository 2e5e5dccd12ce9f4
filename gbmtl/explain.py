"""Per-row explanations of a task's predictions, and reason codes for credit decisions.

Contributions are the backends' native SHAP values (TreeSHAP), in the model's raw score space
(log-odds for binary tasks): per row, the columns add up to the raw prediction. For a stacked task,
the part that comes from sibling-task predictions is shown in one column per sibling
(``"sibling:<task>"``), so a reader sees how much of a decision rests on other tasks' models.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gbmtl._stacking import SIBLING_PREFIX

SIBLING_LABEL = "sibling:"


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
    sibling the task uses, and ``"bias"`` (the expected raw score).
    """
    F, index = model._features(X)
    tf = model._fit_of(task)
    if tf.siblings:
        blocks = [model._sibling_block(F, s) for s in tf.siblings]
        F = pd.concat([F] + blocks, axis=1)
    contrib = tf.final.contributions(F)
    if tf.task.kind == "multiclass":
        if class_index is None:
            raise ValueError(
                f"explain: task {task!r} is multiclass; pass class_index (0..{tf.n_classes - 1})"
            )
        if not 0 <= class_index < tf.n_classes:
            raise ValueError(f"explain: class_index must be in 0..{tf.n_classes - 1}")
        contrib = contrib[:, class_index, :]
    elif class_index is not None:
        raise ValueError(f"explain: class_index applies to multiclass tasks only; {task!r} is "
                         f"{tf.task.kind}")
    frame = pd.DataFrame(contrib, columns=list(F.columns) + ["bias"], index=index)
    for sib in tf.siblings:
        cols = [c for c in frame.columns if c in model._sibling_cols(sib)]
        frame[f"{SIBLING_LABEL}{sib}"] = frame[cols].sum(axis=1)
        frame = frame.drop(columns=cols)
    leftover = [c for c in frame.columns if c.startswith(SIBLING_PREFIX)]
    assert not leftover, leftover
    bias = frame.pop("bias")
    frame["bias"] = bias
    return frame


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
