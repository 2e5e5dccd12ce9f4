"""Small tables for fast tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

FAST = {"n_estimators": 60, "learning_rate": 0.2, "num_leaves": 15, "min_child_samples": 10}


def related_tasks(n: int = 1500, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two related binary tasks and one regression task, with missing labels."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"f{i}" for i in range(6)])
    X["segment"] = pd.Categorical(rng.choice(["a", "b", "c"], n))
    z = X["f0"] + 0.8 * X["f1"] ** 2 - 0.5 * X["f2"] + 0.5 * (X["segment"] == "b")
    a = (z + rng.normal(0, 0.7, n) > 0.8).astype(float)
    b = (z + rng.normal(0, 0.7, n) > 0.5).astype(float)
    r = 2 * z + rng.normal(0, 0.5, n)
    Y = pd.DataFrame({"a": a, "b": b, "r": r})
    Y.loc[rng.random(n) < 0.6, "a"] = np.nan
    Y.loc[rng.random(n) < 0.2, "r"] = np.nan
    return X, Y
