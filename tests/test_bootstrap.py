"""The fast paired bootstrap used by the sharing choice."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from gbmtl._bootstrap import _resample_counts, _weighted_auc, bootstrap_metric_draws
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
    fast = bootstrap_metric_draws(auc, y, {"a": a, "b": b}, None, 400, np.random.default_rng(0))
    # The same metric under another name takes the generic path.
    slow_metric = type(auc)("auc_generic", auc.func, True, ("binary",))
    slow = bootstrap_metric_draws(slow_metric, y, {"a": a, "b": b}, None, 400,
                                  np.random.default_rng(0))
    se_fast, se_slow = (np.std(d["a"] - d["b"], ddof=1) for d in (fast, slow))
    assert abs(se_fast - se_slow) / se_slow < 0.2
    assert abs(fast["a"].mean() - slow["a"].mean()) < 0.005


def test_resample_counts_are_multinomial_draws():
    counts = _resample_counts(np.random.default_rng(0), 50, 2000)
    assert counts.shape == (2000, 50) and (counts.sum(axis=1) == 50).all()
    assert abs(counts.mean() - 1.0) < 0.01 and abs(counts.var() - 0.98) < 0.05
