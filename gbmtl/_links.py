"""From raw scores (margins) to what a task predicts: probabilities or values.

Every model and mechanism works in raw-score space, where contributions add up and an offset can
be added to trees; the link is applied once, at the end.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit


def link(kind: str, raw: np.ndarray) -> np.ndarray:
    """Binary: P(class 1) ``(n,)``; multiclass: class probabilities ``(n, k)``; regression:
    values ``(n,)``. ``raw`` is ``(n, outputs)``."""
    raw = np.asarray(raw, dtype=float).reshape(len(raw), -1)
    if kind == "binary":
        return expit(raw[:, 0])
    if kind == "multiclass":
        # scipy.special.softmax's own steps; its array-API dispatch costs more than the sum on
        # the one-row inputs of RowScorer.
        e = np.exp(raw - np.max(raw, axis=1, keepdims=True))
        return e / np.sum(e, axis=1, keepdims=True)
    return raw[:, 0]
