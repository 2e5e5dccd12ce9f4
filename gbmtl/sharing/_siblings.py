"""Sibling inputs: the stage-1 raw scores of other tasks that a task's mechanism learns from.

At fit time they are out-of-fold scores (no row's input was produced by a model that saw that
row's label); at predict time they are the stage-1 models' scores for the new rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gbmtl._links import link

#: Prefix of the sibling columns of stacking tables (features are ``f0, f1, ...`` there).
SIBLING_PREFIX = "s"
#: Prefix of the per-sibling columns of explanations.
SIBLING_LABEL = "sibling:"


@dataclass
class SiblingInputs:
    """Raw scores ``(n, outputs)`` of each task that can serve as a sibling, and its kind."""

    raw: dict[str, np.ndarray]
    kinds: dict[str, str]

    def rows(self, rows: np.ndarray) -> SiblingInputs:
        return SiblingInputs({k: v[rows] for k, v in self.raw.items()}, self.kinds)


def sibling_columns(siblings: list[str], kinds: dict[str, str],
                    widths: dict[str, int]) -> list[tuple[str, str, int]]:
    """The stacking columns of ``siblings``: (column name, sibling, output index) each.

    A multiclass sibling gives one column per class. Columns are numbered (``s0, s1, ...``)
    rather than named after tasks, whose names may be anything; which sibling a column belongs
    to is kept here, never parsed back from a name.
    """
    out = []
    for s in siblings:
        for j in range(widths[s] if kinds[s] == "multiclass" else 1):
            out.append((f"{SIBLING_PREFIX}{len(out)}", s, j))
    return out


def stacking_values(inputs: SiblingInputs, siblings: list[str]) -> tuple[list[str], np.ndarray]:
    """The stacking columns' names and values ``(n, columns)``: the siblings' predictions
    (probabilities or values, as the stacking trees see them)."""
    outputs = {s: link(inputs.kinds[s], inputs.raw[s]).reshape(len(inputs.raw[s]), -1)
               for s in siblings}
    widths = {s: v.shape[1] for s, v in outputs.items()}
    cols = sibling_columns(siblings, inputs.kinds, widths)
    n = len(next(iter(inputs.raw.values()))) if inputs.raw else 0
    values = np.empty((n, len(cols)))
    for k, (_, s, j) in enumerate(cols):
        values[:, k] = outputs[s][:, j]
    return [name for name, _, _ in cols], values


def stacking_block(inputs: SiblingInputs, siblings: list[str]) -> pd.DataFrame:
    """:func:`stacking_values` as a frame, for the stacking trees' tables."""
    names, values = stacking_values(inputs, siblings)
    return pd.DataFrame(values, columns=names, index=pd.RangeIndex(len(values)))
