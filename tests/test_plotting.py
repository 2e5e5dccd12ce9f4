"""Plot helpers draw the expected artists on the Agg backend and return the Axes."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gbmtl.metrics import ks  # noqa: E402
from gbmtl.plotting import (  # noqa: E402
    plot_calibration_curve,
    plot_feature_importance,
    plot_lift,
    plot_lift_ks,
    plot_task_affinity,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def scores():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p = np.clip(0.3 * y + 0.7 * rng.random(400), 0, 1)
    return y, p


AFFINITY = pd.DataFrame(
    {"fraud": [np.nan, 0.02, -0.01], "chargeback": [0.03, np.nan, 0.0], "default": [0.0, 0.01, np.nan]},
    index=["fraud", "chargeback", "default"],
)


class _Fitted:
    task_affinity_ = AFFINITY
    feature_importances_ = pd.DataFrame(
        {"fraud": [5.0, 1.0, 3.0], "default": [1.0, 4.0, 3.0]}, index=["amount", "age", "hour"]
    )


def test_task_affinity_heatmap():
    ax = plot_task_affinity(AFFINITY)
    assert len(ax.get_images()) == 1
    assert ax.get_title() == "Task affinity"
    assert [t.get_text() for t in ax.get_xticklabels()] == list(AFFINITY.columns)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(AFFINITY.index)
    assert len(ax.texts) == 6  # one label per finite cell
    image = ax.get_images()[0]
    assert image.norm.vmin == -image.norm.vmax  # centred on "no effect"


def test_task_affinity_from_fitted_object_and_given_axes():
    _, ax = plt.subplots()
    assert plot_task_affinity(_Fitted(), ax=ax, annotate=False) is ax
    assert len(ax.texts) == 0
    with pytest.raises(TypeError, match="task_affinity_"):
        plot_task_affinity(object())


def test_feature_importance():
    ax = plot_feature_importance(_Fitted(), task="fraud", top=2)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["hour", "amount"]  # most important on top
    assert len(ax.patches) == 2
    assert ax.get_title() == "Feature importance: fraud"
    ax = plot_feature_importance(_Fitted.feature_importances_)
    assert len(ax.patches) == 3
    assert "mean over tasks" in ax.get_title()
    with pytest.raises(KeyError, match="unknown task 'nope'"):
        plot_feature_importance(_Fitted(), task="nope")
    with pytest.raises(ValueError, match="top"):
        plot_feature_importance(_Fitted(), top=0)


def test_feature_importance_from_sklearn_style_array():
    class Single:
        feature_importances_ = np.array([0.2, 0.5, 0.3])
        feature_names_in_ = np.array(["a", "b", "c"])

    ax = plot_feature_importance(Single())
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "c", "b"]
    assert ax.get_title() == "Feature importance"


def test_calibration_curve(scores):
    y, p = scores
    ax = plot_calibration_curve(y, p, n_bins=5, label="lgbm")
    assert len(ax.get_lines()) == 2  # diagonal + model
    assert ax.get_title() == "Calibration curve"
    assert len(ax.get_lines()[1].get_xdata()) <= 5
    plot_calibration_curve(y, np.full_like(p, y.mean()), ax=ax, label="constant")
    assert len(ax.get_lines()) == 3  # the diagonal is drawn once
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[1].startswith("lgbm (ECE=")


def test_ks_chart_marks_the_ks_gap(scores):
    y, p = scores
    ax = plot_lift_ks(y, p)
    lines = ax.get_lines()
    assert len(lines) == 3
    gap_line = lines[2]
    assert abs(np.diff(gap_line.get_ydata())[0]) == pytest.approx(ks(y, p))
    assert ax.get_title() == f"KS chart (KS = {ks(y, p):.3f})"
    with pytest.raises(ValueError, match="both positives and negatives"):
        plot_lift_ks([1, 1], [0.2, 0.3])


def test_lift_and_gains(scores):
    y, p = scores
    ax = plot_lift(y, p)
    assert ax.get_title() == "Cumulative gains"
    model = ax.get_lines()[0]
    assert model.get_xdata()[-1] == pytest.approx(1.0)
    assert model.get_ydata()[-1] == pytest.approx(1.0)
    assert np.all(np.diff(model.get_ydata()) >= 0)
    ax = plot_lift(y, p, kind="lift")
    assert ax.get_title() == "Lift chart"
    lift = ax.get_lines()[0].get_ydata()
    assert lift[-1] == pytest.approx(1.0) and lift[0] > 1.0
    with pytest.raises(ValueError, match="kind"):
        plot_lift(y, p, kind="roc")


def test_missing_matplotlib_names_the_extra(monkeypatch, scores):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "gbmtl\[viz\]"'):
        plot_lift(*scores)


def test_task_affinity_by_metric_one_panel_per_metric():
    from types import SimpleNamespace

    from gbmtl.plotting import plot_task_affinity_by_metric

    names = ["a", "b", "loss"]
    aff = pd.DataFrame([[np.nan, 0.02, 0.0], [0.01, np.nan, 0.0], [50.0, 20.0, np.nan]],
                       index=names, columns=names)
    tasks = [SimpleNamespace(name="a", metric="auc"), SimpleNamespace(name="b", metric="auc"),
             SimpleNamespace(name="loss", metric="rmse")]
    fig = plot_task_affinity_by_metric(SimpleNamespace(tasks_=tasks, task_affinity_=aff))
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["Task affinity, tasks scored by auc",
                                                 "Task affinity, tasks scored by rmse"]
    assert [len(ax.get_yticklabels()) for ax in panels] == [2, 1]
