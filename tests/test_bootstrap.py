"""The fast paired bootstrap used by sibling selection."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from gbmtl._bootstrap import _weighted_auc, bootstrap_gain_se
from gbmtl.metrics import get_metric


def test_weighted_auc_matches_scikit_learn_with_ties():
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.3).astype(float)
    score = np.round(rng.normal(size=400) + y, 1)  # rounding makes many ties
    weights = rng.integers(0, 3, size=(4, 400)).astype(float)
    expected = [roc_auc_score(y, score, sample_weight=w) for w in weights]
    np.testing.assert_allclose(_weighted_auc(y, score, weights), expected)


def test_fast_and_generic_paths_agree():
    rng = np.random.default_rng(1)
    y = (rng.random(2000) < 0.2).astype(float)
    a, b = y + rng.normal(0, 1.0, 2000), y + rng.normal(0, 1.2, 2000)
    auc = get_metric("auc")
    fast = bootstrap_gain_se(auc, y, a, b, None, 400, np.random.default_rng(0))
    # The same metric under another name takes the generic path.
    slow_metric = type(auc)("auc_generic", auc.func, True, ("binary",))
    slow = bootstrap_gain_se(slow_metric, y, a, b, None, 400, np.random.default_rng(0))
    assert abs(fast - slow) / slow < 0.2
