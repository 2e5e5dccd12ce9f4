"""Synthetic multi-task data with a controlled task correlation (the MMoE experiment, tabular)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

__all__ = ["make_correlated_tasks"]

_KINDS = ("regression", "binary")


def make_correlated_tasks(
    n_samples: int = 1000,
    n_features: int = 20,
    *,
    n_informative: int | None = None,
    n_tasks: int = 2,
    task_correlation: float = 0.5,
    kinds: str | list[str] = "regression",
    binary_quantile: float = 0.5,
    noise: float = 0.1,
    scale: float = 1.0,
    n_sin: int = 10,
    n_categories: int = 0,
    random_state=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate tasks whose relatedness is set by one number, after Ma et al. (2018), sec. 4.

    MMoE's synthetic experiment ("Modeling Task Relationships in Multi-task Learning with
    Multi-gate Mixture-of-Experts", KDD 2018) builds task weight vectors ``w_i`` of norm
    ``scale`` whose pairwise cosine similarity is the task correlation ``p``, draws
    ``x ~ N(0, I)`` and sets::

        y_i = w_i^T x + sum_{j=1..m} sin(alpha_j * w_i^T x + beta_j) + eps_i

    with ``alpha_j, beta_j ~ N(0, 1)`` shared by all tasks and ``eps_i ~ N(0, noise^2)``. The
    sine terms make the tasks non-linear, so the Pearson correlation of the labels grows with
    ``p`` but is not equal to it.

    Tabular adaptations: only the first ``n_informative`` columns enter the weights, the
    other columns are pure noise; with ``n_categories > 0`` a categorical column ``cat`` adds
    a per-level offset to every task, the offsets of two tasks again correlated by ``p``;
    any task can be made binary by thresholding it at its ``binary_quantile``.

    For two tasks any ``p`` in [-1, 1] is allowed. For more tasks every pair has cosine
    ``p``, which needs ``p >= -1 / (n_tasks - 1)``.

    Parameters
    ----------
    n_samples : int, default 1000
    n_features : int, default 20
        Numeric columns ``x0 .. x{n_features-1}``.
    n_informative : int, optional
        Columns used by the tasks (the first ones); ``n_features`` when None. At least
        ``n_tasks`` (the weight vectors live in their span).
    n_tasks : int, default 2
        Tasks ``y0 .. y{n_tasks-1}``.
    task_correlation : float, default 0.5
        Cosine similarity ``p`` of every pair of weight vectors.
    kinds : str or list of str, default "regression"
        ``"regression"`` or ``"binary"``, one for all tasks or one per task.
    binary_quantile : float, default 0.5
        Binary tasks are ``y > quantile(y, binary_quantile)``: a positive rate of
        ``1 - binary_quantile``.
    noise : float, default 0.1
        Standard deviation of ``eps`` (the paper's variance 0.01).
    scale : float, default 1.0
        Norm ``c`` of the weight vectors.
    n_sin : int, default 10
        Number ``m`` of sine terms.
    n_categories : int, default 0
        Levels of the categorical column ``cat``; no such column when 0.
    random_state : int, RandomState instance or None

    Returns
    -------
    X : pandas.DataFrame
        ``n_samples`` rows; ``X.attrs["informative"]`` lists the informative columns.
    Y : pandas.DataFrame
        One column per task; ``Y.attrs["task_kinds"]`` maps them to their kinds and
        ``Y.attrs["weights"]`` holds the weight vectors (one list per task).

    Examples
    --------
    >>> from gbmtl.datasets import make_correlated_tasks
    >>> X, Y = make_correlated_tasks(200, 5, task_correlation=0.9, random_state=0)
    >>> X.shape, list(Y.columns)
    ((200, 5), ['y0', 'y1'])
    """
    n_informative = n_features if n_informative is None else n_informative
    kinds = [kinds] * n_tasks if isinstance(kinds, str) else list(kinds)
    _check(
        n_samples,
        n_features,
        n_informative,
        n_tasks,
        task_correlation,
        kinds,
        binary_quantile,
        noise,
        n_categories,
    )
    rng = check_random_state(random_state)

    root = _correlated_basis(n_tasks, task_correlation)  # rows: unit vectors, cosine p
    basis, _ = np.linalg.qr(rng.standard_normal((n_informative, n_tasks)))
    weights = scale * root @ basis.T  # (n_tasks, n_informative)
    alpha = rng.standard_normal(n_sin)
    beta = rng.standard_normal(n_sin)

    values = rng.standard_normal((n_samples, n_features))
    X = pd.DataFrame(values, columns=[f"x{j}" for j in range(n_features)])
    linear = values[:, :n_informative] @ weights.T  # (n_samples, n_tasks)
    targets = linear + np.sin(linear[:, :, None] * alpha + beta).sum(axis=2)
    if n_categories:
        levels = rng.randint(n_categories, size=n_samples)
        effects = root @ rng.standard_normal((n_tasks, n_categories))  # correlated offsets
        targets += scale * effects.T[levels]
        X["cat"] = pd.Categorical.from_codes(levels, [f"c{k}" for k in range(n_categories)])
    targets += noise * rng.standard_normal(targets.shape)

    Y = pd.DataFrame(targets, columns=[f"y{i}" for i in range(n_tasks)])
    for name, kind in zip(Y.columns, kinds, strict=True):
        if kind == "binary":
            Y[name] = (Y[name] > Y[name].quantile(binary_quantile)).astype("int64")
    X.attrs["informative"] = [f"x{j}" for j in range(n_informative)]
    Y.attrs["task_kinds"] = dict(zip(Y.columns, kinds, strict=True))
    Y.attrs["task_correlation"] = float(task_correlation)
    Y.attrs["weights"] = weights.tolist()
    return X, Y


def _correlated_basis(n_tasks: int, p: float) -> np.ndarray:
    """Rows of unit norm with pairwise dot product ``p``: a square root of ``(1-p) I + p 11^T``."""
    gram = np.full((n_tasks, n_tasks), p) + (1.0 - p) * np.eye(n_tasks)
    eigval, eigvec = np.linalg.eigh(gram)
    return eigvec * np.sqrt(np.clip(eigval, 0.0, None))


def _check(n_samples, n_features, n_informative, n_tasks, p, kinds, q, noise, n_categories):
    """Reject arguments that cannot give the documented data, naming the argument."""
    if n_samples < 1 or n_features < 1:
        raise ValueError("n_samples and n_features must be positive")
    if n_tasks < 1:
        raise ValueError(f"n_tasks must be positive, got {n_tasks}")
    if not n_tasks <= n_informative <= n_features:
        raise ValueError(
            f"n_informative must be between n_tasks ({n_tasks}) and n_features "
            f"({n_features}), got {n_informative}"
        )
    low = -1.0 if n_tasks <= 2 else -1.0 / (n_tasks - 1)
    if not low <= p <= 1.0:
        raise ValueError(f"task_correlation must be in [{low:.3g}, 1] for {n_tasks} tasks, got {p}")
    if len(kinds) != n_tasks or any(k not in _KINDS for k in kinds):
        raise ValueError(
            f"kinds must be one of {_KINDS} or a list of {n_tasks} of them, got {kinds}"
        )
    if not 0.0 < q < 1.0:
        raise ValueError(f"binary_quantile must be in (0, 1), got {q}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    if n_categories < 0 or n_categories == 1:
        raise ValueError(f"n_categories must be 0 or at least 2, got {n_categories}")
