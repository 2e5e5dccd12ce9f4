"""Neural multi-task baselines behind one scikit-learn style estimator.

PyTorch is an optional dependency (``pip install "gbmtl[bench]"``); it is imported when a model is
fitted, so ``import gbmtl.baselines`` works without it.
"""

from __future__ import annotations

import logging
import numbers
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from gbmtl.baselines._preprocess import TabularEncoder, TargetCodec, embedding_dim_rule
from gbmtl.tasks import resolve_tasks

__all__ = ["NeuralMultiTask", "ARCHITECTURES"]

logger = logging.getLogger(__name__)

ARCHITECTURES = ("single", "shared_bottom", "cross_stitch", "mmoe", "ple")

#: Expert networks used when ``expert_units=None`` (DeepCTR's MMOE and PLE defaults).
DEFAULT_EXPERT_UNITS = {"mmoe": (256, 128), "ple": (256,)}

#: Rows per forward pass at predict and validation time (no gradients, so larger than training).
_EVAL_CHUNK = 16384


def _import_torch():
    """Import torch or say which extra provides it."""
    try:
        import torch
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            'NeuralMultiTask needs PyTorch, an optional dependency: pip install "gbmtl[bench]"'
        ) from err
    return torch


def _as_frame(X, columns: list[str] | None = None) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    if isinstance(X, pd.Series):
        return X.to_frame()
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(f"X must be a 2-d table, got an array of shape {arr.shape}")
    if columns is None:
        columns = [f"x{i}" for i in range(arr.shape[1])]
    if len(columns) != arr.shape[1]:
        raise ValueError(f"X has {arr.shape[1]} columns; the model was fitted on {len(columns)}")
    return pd.DataFrame(arr, columns=columns)


def _check_units(name: str, value, allow_none: bool = False) -> tuple[int, ...] | None:
    if value is None and allow_none:
        return None
    if isinstance(value, numbers.Integral):
        value = (value,)
    try:
        units = tuple(value)
    except TypeError:
        units = None
    if units is None or not all(isinstance(u, numbers.Integral) and u > 0 for u in units):
        raise ValueError(f"{name} must be a sequence of positive integers, got {value!r}")
    return tuple(int(u) for u in units)


def _check_number(name: str, value, low, high=None, integer=False, low_open=False) -> None:
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if ok:
        ok = (value > low if low_open else value >= low) and (high is None or value < high)
    if not ok:
        bounds = f"{'>' if low_open else '>='} {low}" + (
            f" and < {high}" if high is not None else ""
        )
        what = "an integer" if integer else "a number"
        raise ValueError(f"{name} must be {what} {bounds}, got {value!r}")


class NeuralMultiTask(BaseEstimator):
    """Neural multi-task model for mixed tabular data: the deep-learning side of a benchmark.

    Five architectures, all on the same input layer (numeric features plus one embedding per
    categorical column), the same task heads, the same masked joint loss and the same training
    loop, so that they differ only in how the tasks share parameters:

    - ``"single"``: one independent network per task (embeddings, ``hidden_units`` MLP and tower);
      each task gets its own early stopping and its own best weights.
    - ``"shared_bottom"``: hard sharing, a shared ``hidden_units`` MLP and one tower per task.
    - ``"cross_stitch"``: one ``hidden_units`` column per task, linked after every layer by
      cross-stitch units (Misra et al., CVPR 2016), initialised at 0.9 / 0.1 as in the paper.
    - ``"mmoe"``: Multi-gate Mixture-of-Experts (Ma et al., KDD 2018), ``n_experts`` experts of
      ``expert_units`` and one softmax gate per task.
    - ``"ple"``: Progressive Layered Extraction (Tang et al., RecSys 2020), ``n_levels`` CGC levels
      with ``n_task_experts`` experts per task and ``n_shared_experts`` shared experts.

    Defaults follow widely used reimplementations: DeepCTR (``SharedBottom``, ``MMOE``, ``PLE``:
    bottom/expert MLP (256, 128), towers (64,), PLE experts (256,) with one specific and one shared
    expert per level and two levels, linear gates, no dropout) and the keras-mmoe census-income
    demo (8 experts, Adam at learning rate 1e-3, up to 100 epochs). The experts are wider than in
    that demo (4 units) because the tables here are larger; every default is an argument.

    Parameters
    ----------
    architecture : {"single", "shared_bottom", "cross_stitch", "mmoe", "ple"}, default "mmoe"
    tasks : dict, list of Task, or None
        ``{column: kind}`` with kind ``"binary"``, ``"multiclass"`` or ``"regression"``, a list of
        :class:`gbmtl.tasks.Task` (their ``weight`` scales the task's loss), or None to infer
        every column of ``Y`` with :func:`gbmtl.tasks.infer_kind`.
    hidden_units : sequence of int, default (256, 128)
        The shared bottom, each independent network and each cross-stitch column (DeepCTR
        ``SharedBottom``).
    tower_units : sequence of int, default (64,)
        Task tower before the output layer, all architectures (DeepCTR).
    n_experts : int, default 8
        MMoE experts (keras-mmoe census-income demo; DeepCTR uses 3).
    expert_units : sequence of int or None, default None
        Expert MLP; None means (256, 128) for MMoE and (256,) per level for PLE (DeepCTR).
    n_task_experts, n_shared_experts : int, default 1, 1
        PLE experts per task and shared experts per level (DeepCTR).
    n_levels : int, default 2
        PLE extraction levels (DeepCTR; the paper's two-level model).
    embedding_dim : int or None, default None
        Embedding width for every categorical column; None uses
        ``min(50, (cardinality + 1) // 2)`` per column (fast.ai rule of thumb).
    dropout : float, default 0.0
        Dropout after every hidden layer (DeepCTR ``dnn_dropout=0``); early stopping regularises.
    numeric_transform : {"quantile", "standard"}, default "quantile"
        Numeric scaling after median imputation: a quantile map to a normal distribution (the
        default of Gorishniy et al., NeurIPS 2021; robust to heavy tails) or standard scaling.
    learning_rate : float, default 1e-3
        Adam step size (Adam's default, used by keras-mmoe and DeepCTR).
    weight_decay : float, default 1e-5
        L2 penalty added by Adam to every parameter (DeepCTR ``l2_reg_embedding=1e-5``).
    batch_size : int, default 1024
    max_epochs : int, default 100
    patience : int, default 5
        Epochs without improvement of the validation loss before stopping; the best epoch's
        weights are restored.
    validation_fraction : float, default 0.1
        Share of the fitted rows held out (at random) for early stopping when ``fit`` gets no
        ``eval_set``; 0 trains for ``max_epochs`` without early stopping.
    device : str, default "auto"
        ``"auto"`` takes CUDA when available, else the CPU; any torch device string otherwise.
    random_state : int, RandomState or None
        Seeds the split, the initial weights, dropout and the batch order. With an int, refits give
        identical predictions on the CPU (for a fixed number of torch threads). torch's global
        random state is left as it was.
    verbose : int, default 0
        1 logs every epoch at INFO level (logger ``gbmtl.baselines.neural``).

    Attributes
    ----------
    tasks_ : list of Task
        The resolved tasks.
    classes_ : dict
        Task -> sorted class labels, classification tasks only.
    feature_names_in_ : ndarray of str
    n_features_in_ : int
    module_ : torch.nn.Module
        The trained network, on ``device_``.
    device_ : str
    best_epoch_ : dict
        Task -> epoch (1-based) whose weights were kept.
    n_epochs_ : int
        Epochs run.
    history_ : list of dict
        Per epoch: training loss, validation loss per task and their weighted sum.

    Notes
    -----
    The whole training table is held as tensors on ``device_`` and cut into shuffled mini-batches
    (no DataLoader). The number of CPU threads is torch's own setting; on a machine shared with
    other jobs, ``torch.set_num_threads(1)`` per process is often faster than oversubscribing.

    Examples
    --------
    >>> model = NeuralMultiTask("shared_bottom", random_state=0)  # doctest: +SKIP
    >>> model.fit(X_train, Y_train).predict(X_test)  # doctest: +SKIP
    """

    def __init__(
        self,
        architecture: str = "mmoe",
        tasks=None,
        hidden_units=(256, 128),
        tower_units=(64,),
        n_experts: int = 8,
        expert_units=None,
        n_task_experts: int = 1,
        n_shared_experts: int = 1,
        n_levels: int = 2,
        embedding_dim: int | None = None,
        dropout: float = 0.0,
        numeric_transform: str = "quantile",
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-5,
        batch_size: int = 1024,
        max_epochs: int = 100,
        patience: int = 5,
        validation_fraction: float = 0.1,
        device: str = "auto",
        random_state=None,
        verbose: int = 0,
    ):
        self.architecture = architecture
        self.tasks = tasks
        self.hidden_units = hidden_units
        self.tower_units = tower_units
        self.n_experts = n_experts
        self.expert_units = expert_units
        self.n_task_experts = n_task_experts
        self.n_shared_experts = n_shared_experts
        self.n_levels = n_levels
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.numeric_transform = numeric_transform
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ validation
    def _resolved_params(self) -> dict[str, Any]:
        """Validate the constructor arguments and fill architecture-dependent defaults."""
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"unknown architecture {self.architecture!r}; expected one of {ARCHITECTURES}"
            )
        _check_number("n_experts", self.n_experts, 1, integer=True)
        _check_number("n_task_experts", self.n_task_experts, 0, integer=True)
        _check_number("n_shared_experts", self.n_shared_experts, 0, integer=True)
        if self.n_task_experts + self.n_shared_experts < 1:
            raise ValueError(
                "PLE needs at least one expert: n_task_experts + n_shared_experts >= 1"
            )
        _check_number("n_levels", self.n_levels, 1, integer=True)
        _check_number("dropout", self.dropout, 0, 1)
        _check_number("learning_rate", self.learning_rate, 0, low_open=True)
        _check_number("weight_decay", self.weight_decay, 0)
        _check_number("batch_size", self.batch_size, 1, integer=True)
        _check_number("max_epochs", self.max_epochs, 1, integer=True)
        _check_number("patience", self.patience, 1, integer=True)
        _check_number("validation_fraction", self.validation_fraction, 0, 1)
        if self.embedding_dim is not None:
            _check_number("embedding_dim", self.embedding_dim, 1, integer=True)
        if self.numeric_transform not in ("quantile", "standard"):
            raise ValueError(
                "numeric_transform must be 'quantile' or 'standard', "
                f"got {self.numeric_transform!r}"
            )
        expert_units = _check_units("expert_units", self.expert_units, allow_none=True)
        return {
            "hidden_units": _check_units("hidden_units", self.hidden_units),
            "tower_units": _check_units("tower_units", self.tower_units),
            "expert_units": expert_units or DEFAULT_EXPERT_UNITS.get(self.architecture, ()),
            "n_experts": int(self.n_experts),
            "n_task_experts": int(self.n_task_experts),
            "n_shared_experts": int(self.n_shared_experts),
            "n_levels": int(self.n_levels),
            "dropout": float(self.dropout),
        }

    def _resolve_device(self, torch) -> str:
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        try:
            return str(torch.device(self.device))
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"device: {self.device!r} is not a torch device") from err

    # ------------------------------------------------------------------ fit
    def fit(self, X, Y, eval_set: tuple | None = None) -> NeuralMultiTask:
        """Train on ``X`` and the task columns of ``Y`` (NaN = label unknown for that row).

        Parameters
        ----------
        X : DataFrame of shape (n, p)
            Numeric and categorical (category, str, object) columns; NaN allowed.
        Y : DataFrame of shape (n, n_tasks)
            One column per task; a row counts for a task's loss only where its label is known.
        eval_set : (X_val, Y_val) or None
            Rows for early stopping instead of a random ``validation_fraction`` of ``X``.

        Returns
        -------
        self
        """
        params = self._resolved_params()
        X = _as_frame(X)
        X = X.set_axis([str(c) for c in X.columns], axis=1)
        Y = Y.to_frame() if isinstance(Y, pd.Series) else Y
        if not isinstance(Y, pd.DataFrame):
            raise TypeError(
                f"Y must be a DataFrame with one column per task, got {type(Y).__name__}"
            )
        if len(X) != len(Y):
            raise ValueError(f"X has {len(X)} rows but Y has {len(Y)}")
        if len(X) < 2:
            raise ValueError("fit needs at least 2 rows")
        Y = Y.set_axis([str(c) for c in Y.columns], axis=1)
        # backend only matters to the boosters; resolve_tasks is reused for kinds and checks
        tasks = resolve_tasks(self.tasks, Y, backend="lightgbm")
        torch = _import_torch()
        from gbmtl.baselines import _torch_models

        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        if eval_set is not None:
            X_val, Y_val = eval_set
            X_val = _as_frame(X_val, list(X.columns))
            X_val = X_val.set_axis([str(c) for c in X_val.columns], axis=1)[list(X.columns)]
            Y_val = Y_val.to_frame() if isinstance(Y_val, pd.Series) else Y_val
            Y_val = Y_val.set_axis([str(c) for c in Y_val.columns], axis=1)
            X_tr, Y_tr = X, Y
        elif self.validation_fraction > 0:
            order = rng.permutation(len(X))
            n_val = min(len(X) - 1, max(1, round(self.validation_fraction * len(X))))
            val_rows, tr_rows = np.sort(order[:n_val]), np.sort(order[n_val:])
            X_tr, Y_tr = X.iloc[tr_rows], Y.iloc[tr_rows]
            X_val, Y_val = X.iloc[val_rows], Y.iloc[val_rows]
        else:
            X_tr, Y_tr, X_val, Y_val = X, Y, None, None

        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = X.shape[1]
        self.tasks_ = tasks
        self._codecs = {t.name: TargetCodec(t.kind).fit(Y[t.name]) for t in tasks}
        self.classes_ = {
            name: c.classes_ for name, c in self._codecs.items() if c.classes_ is not None
        }
        self._encoder = TabularEncoder(self.numeric_transform, random_state=seed).fit(X_tr)
        enc = self._encoder
        dims = [self.embedding_dim or embedding_dim_rule(card) for card in enc.cardinalities_]
        self.device_ = self._resolve_device(torch)

        def tensors(Xp, Yp):
            num, cat = enc.transform(Xp)
            y = np.column_stack([self._codecs[t.name].encode(Yp[t.name]) for t in tasks])
            return (torch.from_numpy(num), torch.from_numpy(cat), torch.from_numpy(y))

        train = tensors(X_tr, Y_tr)
        if X_val is not None:
            missing = [t.name for t in tasks if t.name not in Y_val.columns]
            if missing:
                raise ValueError(f"eval_set: Y_val has no column for tasks {missing}")
            val = tensors(X_val, Y_val)
        else:
            val = None

        devices = [torch.device(self.device_)] if self.device_.startswith("cuda") else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            module = _torch_models.build_model(
                self.architecture,
                (enc.n_numeric_inputs_, enc.cardinalities_, dims),
                [self._codecs[t.name].n_outputs for t in tasks],
                **params,
            ).to(self.device_)
            result = _torch_models.train_model(
                module,
                train,
                val,
                kinds=[t.kind for t in tasks],
                names=[t.name for t in tasks],
                weights=[float(t.weight) for t in tasks],
                per_task_stopping=self.architecture == "single",
                learning_rate=self.learning_rate,
                weight_decay=self.weight_decay,
                batch_size=int(self.batch_size),
                max_epochs=int(self.max_epochs),
                patience=int(self.patience),
                device=self.device_,
                seed=seed,
                verbose=self.verbose,
            )
        self.module_ = module.eval()
        self.best_epoch_ = result.best_epoch
        self.n_epochs_ = result.n_epochs
        self.history_ = result.history
        return self

    # ------------------------------------------------------------------ predict
    def _raw_outputs(self, X) -> list[np.ndarray]:
        check_is_fitted(self, "module_")
        torch = _import_torch()
        names = list(self.feature_names_in_)
        X = _as_frame(X, names)
        missing = [c for c in names if c not in {str(k) for k in X.columns}]
        if missing:
            raise ValueError(f"X is missing columns seen in fit: {missing}")
        X = X.set_axis([str(c) for c in X.columns], axis=1)[names]
        num, cat = self._encoder.transform(X)
        outputs: list[list[np.ndarray]] = [[] for _ in self.tasks_]
        self.module_.eval()
        with torch.no_grad():
            for start in range(0, len(X), _EVAL_CHUNK):
                xn = torch.from_numpy(num[start : start + _EVAL_CHUNK]).to(self.device_)
                xc = torch.from_numpy(cat[start : start + _EVAL_CHUNK]).to(self.device_)
                for t, out in enumerate(self.module_(xn, xc)):
                    outputs[t].append(out.float().cpu().numpy())
        width = [self._codecs[t.name].n_outputs for t in self.tasks_]
        return [
            np.concatenate(o) if o else np.zeros((0, w))
            for o, w in zip(outputs, width, strict=True)
        ]

    @staticmethod
    def _proba(kind: str, raw: np.ndarray) -> np.ndarray:
        if kind == "binary":
            p = 1.0 / (1.0 + np.exp(-raw[:, 0].astype(np.float64)))
            return np.column_stack([1.0 - p, p])
        z = raw.astype(np.float64)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def predict_proba(self, X) -> dict[str, np.ndarray]:
        """Class probabilities of every classification task.

        Returns
        -------
        dict
            Task -> array ``(n, n_classes)``, columns in the order of ``classes_[task]`` (sorted
            labels), the layout of the boosted models' ``predict_proba``.
        """
        raw = self._raw_outputs(X)
        return {
            t.name: self._proba(t.kind, r)
            for t, r in zip(self.tasks_, raw, strict=True)
            if t.kind in ("binary", "multiclass")
        }

    def predict(self, X) -> pd.DataFrame:
        """Predict every task: class labels in the labels' own values, regression values.

        Returns
        -------
        DataFrame
            One column per task, indexed like ``X``.
        """
        raw = self._raw_outputs(X)
        index = X.index if isinstance(X, (pd.DataFrame, pd.Series)) else None
        columns = {}
        for t, r in zip(self.tasks_, raw, strict=True):
            codec = self._codecs[t.name]
            if t.kind == "regression":
                columns[t.name] = pd.Series(
                    codec.decode_regression(r[:, 0].astype(np.float64)), index=index
                )
                continue
            labels = pd.Series(codec.decode_classes(self._proba(t.kind, r)), index=index)
            if isinstance(codec.dtype_, pd.CategoricalDtype) or pd.api.types.is_string_dtype(
                codec.dtype_
            ):
                labels = labels.astype(codec.dtype_)
            columns[t.name] = labels
        return pd.DataFrame(columns, index=index)
