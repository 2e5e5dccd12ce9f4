"""Per-task label encoding: classes to ``0..k-1`` and back, NaN kept as 'unknown'."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class EncodedTask:
    """A task's labels as the backends see them."""

    y: np.ndarray  # float, NaN where unlabelled; class indices for classification
    labelled: np.ndarray  # indices of labelled rows
    classes: np.ndarray | None  # sorted class values, None for regression


def encode_labels(y: pd.Series, kind: str) -> EncodedTask:
    mask = y.notna().to_numpy()
    labelled = np.flatnonzero(mask)
    if kind == "regression":
        values = np.full(len(y), np.nan)
        values[mask] = y[mask].to_numpy(dtype=float)
        return EncodedTask(values, labelled, None)
    observed = y[mask]
    classes = np.array(sorted(observed.unique().tolist()))
    codes = np.full(len(y), np.nan)
    codes[mask] = np.searchsorted(classes, observed.to_numpy())
    return EncodedTask(codes, labelled, classes)


def encode_with_classes(y: pd.Series, classes: np.ndarray | None, task: str) -> np.ndarray:
    """Encode new labels with the classes learned at fit; unseen classes are an error."""
    mask = y.notna().to_numpy()
    out = np.full(len(y), np.nan)
    if classes is None:
        try:
            values = y[mask].to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise ValueError(
                f"Task {task!r}: regression labels must be numbers, got dtype {y.dtype}"
            ) from None
        if np.isinf(values).any():
            raise ValueError(f"Task {task!r}: labels contain inf; use NaN for unknown labels")
        out[mask] = values
        return out
    values = y[mask].to_numpy()
    try:
        pos = np.searchsorted(classes, values)
    except TypeError:
        raise ValueError(
            f"Task {task!r}: labels of type {y.dtype} cannot be matched with the classes seen at "
            f"fit {classes.tolist()[:5]}"
        ) from None
    pos_clipped = np.clip(pos, 0, len(classes) - 1)
    unseen = classes[pos_clipped] != values
    if unseen.any():
        raise ValueError(
            f"Task {task!r}: labels {sorted(set(values[unseen].tolist()))[:5]} were not seen at fit; "
            f"known classes are {classes.tolist()}"
        )
    out[mask] = pos_clipped
    return out
