"""From raw scores (margins) to what a task predicts: probabilities or values.

Every model and mechanism works in raw-score space, where contributions add up and an offset can
be added to trees; the link is applied once, at the end.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, softmax


def link(kind: str, raw: np.ndarray) -> np.ndarray:
    """Binary: P(class 1) ``(n,)``; multiclass: class probabilities ``(n, k)``; regression:
    values ``(n,)``. ``raw`` is ``(n, outputs)``."""
    raw = np.asarray(raw, dtype=float).reshape(len(raw), -1)
    if kind == "binary":
        return expit(raw[:, 0])
    if kind == "multiclass":
        return softmax(raw, axis=1)
    return raw[:, 0]
