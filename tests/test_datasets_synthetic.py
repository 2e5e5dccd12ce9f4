"""make_correlated_tasks: shapes, kinds, the cosine of the task weights, reproducibility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gbmtl.datasets._synthetic import make_correlated_tasks


def _cosines(Y: pd.DataFrame) -> np.ndarray:
    W = np.asarray(Y.attrs["weights"])
    W = W / np.linalg.norm(W, axis=1, keepdims=True)
    return W @ W.T


def test_shapes_names_and_attrs():
    X, Y = make_correlated_tasks(300, 8, n_informative=4, random_state=0)
    assert X.shape == (300, 8) and Y.shape == (300, 2)
    assert list(X.columns) == [f"x{j}" for j in range(8)]
    assert list(Y.columns) == ["y0", "y1"]
    assert X.attrs["informative"] == ["x0", "x1", "x2", "x3"]
    assert Y.attrs["task_kinds"] == {"y0": "regression", "y1": "regression"}
    assert np.asarray(Y.attrs["weights"]).shape == (2, 4)
    assert X.index.equals(Y.index)


@pytest.mark.parametrize("p", [-0.5, 0.0, 0.5, 0.9, 1.0])
def test_weight_cosine_equals_task_correlation(p):
    _, Y = make_correlated_tasks(50, 6, task_correlation=p, scale=2.0, random_state=1)
    W = np.asarray(Y.attrs["weights"])
    np.testing.assert_allclose(np.linalg.norm(W, axis=1), 2.0)
    np.testing.assert_allclose(_cosines(Y)[0, 1], p, atol=1e-10)


def test_many_tasks_equicorrelated():
    _, Y = make_correlated_tasks(50, 10, n_tasks=4, task_correlation=0.3, random_state=2)
    C = _cosines(Y)
    np.testing.assert_allclose(C[np.triu_indices(4, 1)], 0.3, atol=1e-10)


def test_label_correlation_grows_with_task_correlation():
    def label_corr(p):
        _, Y = make_correlated_tasks(4000, 10, task_correlation=p, random_state=3)
        return Y["y0"].corr(Y["y1"])

    low, mid, high = label_corr(0.0), label_corr(0.5), label_corr(0.95)
    assert low < mid < high
    assert abs(low) < 0.2 and high > 0.8


def test_noise_columns_carry_no_signal():
    X, Y = make_correlated_tasks(3000, 6, n_informative=2, noise=0.0, random_state=4)
    corr = X.corrwith(Y["y0"]).abs()
    assert corr[["x2", "x3", "x4", "x5"]].max() < 0.1


def test_binary_kinds_and_quantile():
    X, Y = make_correlated_tasks(
        1000, 5, kinds=["binary", "regression"], binary_quantile=0.8, random_state=5
    )
    assert set(Y["y0"].unique()) == {0, 1}
    assert Y["y0"].mean() == pytest.approx(0.2, abs=0.01)
    assert Y["y1"].dtype == float
    assert Y.attrs["task_kinds"] == {"y0": "binary", "y1": "regression"}


def test_categorical_column_shifts_targets():
    X, Y = make_correlated_tasks(2000, 4, n_categories=5, noise=0.0, scale=1.0, random_state=6)
    assert isinstance(X["cat"].dtype, pd.CategoricalDtype)
    assert len(X["cat"].cat.categories) == 5
    # The categorical column explains part of the target beyond the numeric features.
    means = Y["y0"].groupby(X["cat"], observed=True).mean()
    assert means.std() > 0.2


def test_reproducible_with_seed():
    a = make_correlated_tasks(100, 5, n_categories=3, random_state=7)
    b = make_correlated_tasks(100, 5, n_categories=3, random_state=7)
    c = make_correlated_tasks(100, 5, n_categories=3, random_state=8)
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    assert not a[1].equals(c[1])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(task_correlation=1.5), "task_correlation"),
        (dict(n_tasks=3, task_correlation=-0.9), "task_correlation"),
        (dict(n_informative=1), "n_informative"),
        (dict(kinds="multiclass"), "kinds"),
        (dict(kinds=["binary"]), "kinds"),
        (dict(binary_quantile=1.0), "binary_quantile"),
        (dict(noise=-1.0), "noise"),
        (dict(n_categories=1), "n_categories"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_correlated_tasks(20, 5, **kwargs)
