"""Finance metrics against hand-computed values, their registry names and their input checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gbmtl import metrics
from gbmtl.metrics import (
    FINANCE_METRICS,
    available_metrics,
    brier,
    ece,
    finance_report,
    get_metric,
    gini,
    ks,
    make_precision_at_k,
    make_recall_at_fpr,
    pr_auc,
    precision_at_k,
    recall_at_fpr,
)

SEPARATED = (np.array([0, 0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.8, 0.9]))


def _brute_recall_at_fpr(y, p, target, w=None):
    w = np.ones_like(p) if w is None else w
    best = 0.0
    for t in np.r_[np.inf, np.unique(p)]:
        flagged = p >= t
        fpr = w[flagged & (y == 0)].sum() / w[y == 0].sum()
        recall = w[flagged & (y == 1)].sum() / w[y == 1].sum()
        if fpr <= target:
            best = max(best, recall)
    return best


def test_registered_names_are_binary_metrics():
    for name in FINANCE_METRICS:
        assert name in available_metrics("binary")
    assert get_metric("brier").greater_is_better is False
    assert get_metric("ece").greater_is_better is False
    assert get_metric("ks").greater_is_better is True
    with pytest.raises(ValueError, match="does not apply"):
        get_metric("ks", "regression")


def test_ks_perfect_random_and_inverted():
    assert ks(*SEPARATED) == 1.0
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 20_000)
    assert ks(y, rng.random(y.size)) < 0.03
    y, p = SEPARATED
    assert ks(y, -p) == 1.0  # the two-sample statistic is symmetric
    assert np.isnan(ks([1, 1], [0.2, 0.3]))


def test_ks_hand_computed_and_weighted():
    y = np.array([0, 1, 0, 1])
    p = np.array([0.1, 0.2, 0.3, 0.4])
    # Threshold 0.4 flags one of two positives and no negative: gap 0.5.
    assert ks(y, p) == pytest.approx(0.5)
    # Duplicating rows is the same as weighting them.
    w = np.array([1, 2, 1, 1])
    assert ks(y, p, w) == pytest.approx(ks(np.repeat(y, w), np.repeat(p, w)))


def test_gini_and_pr_auc():
    assert gini(*SEPARATED) == 1.0
    y, p = SEPARATED
    assert gini(y, -p) == -1.0
    assert gini([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4]) == pytest.approx(2 * 0.75 - 1)
    assert pr_auc(y, p) == 1.0
    # Ranking: pos, neg, pos -> AP = (1/2) * 1 + (1/2) * (2/3).
    assert pr_auc([1, 0, 1], [0.9, 0.8, 0.7]) == pytest.approx(0.5 + 1 / 3)
    assert np.isnan(pr_auc([0, 0], [0.1, 0.2]))


@pytest.mark.parametrize("target", [0.01, 0.1, 0.25, 0.5])
def test_recall_at_fpr_matches_brute_force(target):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    p = np.round(rng.random(200) + 0.3 * y, 2)  # rounding creates ties
    w = rng.random(200)
    assert recall_at_fpr(y, p, target) == pytest.approx(_brute_recall_at_fpr(y, p, target))
    assert recall_at_fpr(y, p, target, sample_weight=w) == pytest.approx(
        _brute_recall_at_fpr(y, p, target, w)
    )


def test_recall_at_fpr_registered_and_factory(monkeypatch):
    monkeypatch.setattr(metrics, "_REGISTRY", dict(metrics._REGISTRY))  # keep the registry clean
    y, p = np.array([0, 0, 0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.7, 0.6, 0.9])
    assert recall_at_fpr(y, p, fpr=0.25) == 1.0
    assert recall_at_fpr(y, p, fpr=0.1) == 0.5
    assert get_metric("recall_at_1pct_fpr")(y, p) == 0.5
    metric = make_recall_at_fpr(0.25, register=False)
    assert metric.name == "recall_at_25pct_fpr"
    assert metric(y, p) == 1.0
    assert "recall_at_25pct_fpr" not in available_metrics()
    registered = make_recall_at_fpr(0.3, name="my_recall")
    assert get_metric("my_recall", "binary") is registered


@pytest.mark.parametrize("bad", [0, 1, -0.1, 1.5, True, "0.1"])
def test_recall_at_fpr_rejects_bad_rates(bad):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        recall_at_fpr(*SEPARATED, fpr=bad)


def test_precision_at_k_counts_fractions_and_ties():
    y = np.array([0, 1, 0, 1, 1])
    p = np.array([0.1, 0.9, 0.8, 0.2, 0.7])
    assert precision_at_k(y, p, k=1) == 1.0
    assert precision_at_k(y, p, k=2) == 0.5
    assert precision_at_k(y, p, k=3) == pytest.approx(2 / 3)
    assert precision_at_k(y, p, k=0.4) == 0.5  # 40% of 5 rows = 2 rows
    assert precision_at_k(y, p, k=0.01) == 1.0  # rounded up to one row
    # Two rows tie for the single place: one positive, one negative -> 0.5 whatever the order.
    assert precision_at_k([1, 0, 0], [0.5, 0.5, 0.1], k=1) == 0.5
    assert precision_at_k([0, 1, 0], [0.5, 0.5, 0.1], k=1) == 0.5
    assert precision_at_k(y, p, k=2, sample_weight=[1, 1, 3, 1, 1]) == pytest.approx(0.25)
    assert get_metric("precision_at_top_1pct")(y, p) == 1.0
    assert make_precision_at_k(100, register=False).name == "precision_at_top_100"
    assert make_precision_at_k(0.05, register=False).name == "precision_at_top_5pct"


@pytest.mark.parametrize(("k", "message"), [(6, "between 1 and n=5"), (0, "between 1"),
                                            (1.5, r"\(0, 1\]"), (0.0, r"\(0, 1\]"),
                                            (True, "count or a fraction")])
def test_precision_at_k_rejects_bad_k(k, message):
    with pytest.raises(ValueError, match=message):
        precision_at_k([0, 1, 0, 1, 1], [0.1, 0.9, 0.8, 0.2, 0.7], k=k)


def test_brier():
    assert brier([0, 1], [0.0, 1.0]) == 0.0
    assert brier([0, 1, 1], [0.5, 0.5, 1.0]) == pytest.approx(0.5 / 3)
    assert brier([0, 1], [0.2, 0.6], sample_weight=[3, 1]) == pytest.approx((3 * 0.04 + 0.16) / 4)
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        brier([0, 1], [0.2, 1.5])


def test_ece_hand_computed():
    # Each bin's mean probability equals its positive rate: perfectly calibrated.
    y = np.array([0, 0, 0, 1] + [0, 1, 1, 1] + [1, 1])
    p = np.array([0.25] * 4 + [0.75] * 4 + [1.0] * 2)
    assert ece(y, p) == pytest.approx(0.0)
    # One bin of four at 0.9 with half positives: gap 0.4; another of four at 0.1, all negative: 0.1.
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0])
    p = np.array([0.9] * 4 + [0.1] * 4)
    assert ece(y, p) == pytest.approx((4 * 0.4 + 4 * 0.1) / 8)
    assert ece(y, p, n_bins=1) == pytest.approx(abs(0.25 - 0.5))
    w = np.array([1, 1, 1, 1, 3, 3, 3, 3])
    assert ece(y, p, sample_weight=w) == pytest.approx((4 * 0.4 + 12 * 0.1) / 16)
    with pytest.raises(ValueError, match="n_bins"):
        ece(y, p, n_bins=0)


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 2], [0.1, 0.2], "0/1 labels"),
        ([0, 1, 1], [0.1, 0.2], "3 rows but y_score has 2"),
        ([0, 1], [0.1, np.nan], "NaN"),
        ([[0, 1]], [[0.1, 0.2]], "1-D"),
        ([], [], "empty"),
    ],
)
def test_invalid_inputs_are_named(y, p, message):
    with pytest.raises(ValueError, match=message):
        ks(y, p)


def test_sample_weight_shape_checked():
    with pytest.raises(ValueError, match="sample_weight"):
        gini([0, 1], [0.1, 0.2], sample_weight=[1.0])


def test_finance_report_series_and_frame():
    y, p = SEPARATED
    report = finance_report(y, p)
    assert isinstance(report, pd.Series)
    assert list(report.index) == list(FINANCE_METRICS)
    assert report["ks"] == 1.0 and report["gini"] == 1.0 and report["auc"] == 1.0
    Y = pd.DataFrame({"fraud": [0, 0, 1, 1, np.nan], "default": [1, 0, 1, 0, 1]})
    P = pd.DataFrame({"fraud": [0.1, 0.2, 0.8, 0.9, 0.5], "default": [0.6, 0.4, 0.7, 0.3, 0.9]})
    table = finance_report(Y, P, metrics=["ks", "brier"])
    assert table.shape == (2, 2) and list(table.columns) == ["fraud", "default"]
    assert table.loc["ks", "fraud"] == 1.0
    with pytest.raises(ValueError, match="lacks the task columns"):
        finance_report(Y, P[["fraud"]])
    with pytest.raises(ValueError, match="Unknown metric"):
        finance_report(y, p, metrics=["nope"])
