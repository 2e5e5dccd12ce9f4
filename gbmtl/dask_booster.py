"""Data-parallel multi-task fits on a dask DataFrame too large for one machine.

Every model trains through the backends' own Dask interfaces (``lightgbm.dask``,
``xgboost.dask``): each worker holds its partitions, and the trees are grown together across
workers. Out-of-fold predictions stay leakage-safe through a fold column: fold ``k``'s model never
sees a row of fold ``k``, and only it scores them. Prediction is lazy: ``predict`` maps the fitted
models over the partitions of a dask DataFrame and returns a dask DataFrame.

Mechanisms here: ``"independent"``, ``"stacking"`` (the siblings' out-of-fold predictions as
columns) and ``"offset"`` (trees boosting from a GLM on the siblings' out-of-fold raw scores, the
GLM fit on a sample of at most 100,000 rows). ``sharing="auto"`` picks per task on the first fold,
held out: a sharing mechanism replaces the independent model only when its gain there exceeds a
max-T paired-bootstrap bound (the rule of :mod:`gbmtl.sharing._choice`, step 2).

Single-machine only, and why:

- ``"shared_trees"``: one ensemble of multi-output trees needs a custom objective over every
  task's labels at once; neither backend's Dask interface trains multi-output custom objectives.
- ``"blend"`` and bagging: both average fold models over all labelled rows, which here would
  multiply the cluster's training work by the number of folds for a gain measured at
  0.002-0.01 AUC on label-scarce tasks, which tables this size are not.
- Early stopping: ``lightgbm.dask`` stops each worker on its own part; rounds are fixed here.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from statistics import NormalDist
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from gbmtl._context import model_seed
from gbmtl._defaults import task_params
from gbmtl._links import link
from gbmtl.booster import task_predictions
from gbmtl.metrics import default_metric
from gbmtl.sharing._glm import MAX_ROWS as GLM_ROWS
from gbmtl.sharing._glm import SiblingGLM
from gbmtl.sharing._scoring import joint_gains
from gbmtl.sharing._siblings import SiblingInputs, stacking_values
from gbmtl.tasks import Task, infer_kind

__all__ = ["DaskMultiTaskBooster"]

MECHANISMS = ("independent", "stacking", "offset")
SHARING = ("none", "auto", "stacking", "offset")
#: Rows read to infer a task's kind when ``tasks`` does not give it.
KIND_SAMPLE_ROWS = 100_000
#: One-sided false-pick rate of ``sharing="auto"`` (as :data:`gbmtl.sharing._choice.FALSE_PICK_RATE`).
FALSE_PICK_RATE = 0.10
_FOLD = "__gbmtl_fold"
_ROLE = {"independent": 0, "stacking": 100, "offset": 300}


def _label(i: int) -> str:
    return f"__gbmtl_y{i}"


def _raw_cols(i: int, width: int) -> list[str]:
    return [f"__gbmtl_r{i}_{j}" for j in range(width)]


@dataclass
class _TaskModel:
    """One task's fitted model: trees on the features (plus stacking columns), maybe an offset."""

    name: str
    kind: str
    mechanism: str
    booster: Any
    siblings: list[str] = field(default_factory=list)
    glm: SiblingGLM | None = None


# -- backends -------------------------------------------------------------------------------------


def _train(client, backend: str, kind: str, n_classes: int, params: dict, rounds: int,
           seed: int, X, y, init=None):
    """Train one model across the cluster; returns a local booster."""
    if backend == "lightgbm":
        import lightgbm.dask as lgb_dask

        cls = lgb_dask.DaskLGBMRegressor if kind == "regression" else lgb_dask.DaskLGBMClassifier
        model = cls(client=client, n_estimators=rounds, random_state=seed, verbosity=-1,
                    **params)
        with warnings.catch_warnings():
            # lightgbm.dask warns that the estimator's default n_jobs is ignored, every fit.
            warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
            model.fit(X, y, init_score=init)
        return model.booster_
    import xgboost.dask as xgb_dask

    objective = {"binary": "binary:logistic", "multiclass": "multi:softprob",
                 "regression": "reg:squarederror"}[kind]
    # A model trained from an offset (``base_margin``) ignores its base score, and predicts with
    # the offset given again as its margin (see ``_raw``).
    p = {"objective": objective, "seed": seed, "verbosity": 0, **params}
    if kind == "multiclass":
        p["num_class"] = n_classes
    data = xgb_dask.DaskDMatrix(client, X, y, base_margin=init, enable_categorical=True)
    return xgb_dask.train(client, p, data, num_boost_round=rounds)["booster"]


def _raw(backend: str, booster, X: pd.DataFrame, init: np.ndarray | None = None) -> np.ndarray:
    """Raw scores ``(n, outputs)`` of one local booster, plus ``init`` where given."""
    if len(X) == 0:
        width = 1 if init is None else init.shape[1]
        return np.zeros((0, width))
    if backend == "lightgbm":
        raw = np.asarray(booster.predict(X, raw_score=True)).reshape(len(X), -1)
        return raw if init is None else raw + init
    import xgboost as xgb

    margin = None if init is None else (init[:, 0] if init.shape[1] == 1 else init)
    data = xgb.DMatrix(X, base_margin=margin, enable_categorical=True)
    return np.asarray(booster.predict(data, output_margin=True)).reshape(len(X), -1)


# -- per-partition functions (they run on the workers) --------------------------------------------


def _table(df: pd.DataFrame, features: list[str], m: _TaskModel,
           raw: dict[str, np.ndarray], kinds: dict[str, str]) -> pd.DataFrame:
    """The table a task's trees read: the features, plus stacking columns for stacking."""
    X = df[features]
    if m.mechanism != "stacking":
        return X
    names, values = stacking_values(SiblingInputs(raw, kinds), m.siblings)
    return X.assign(**{n: values[:, k] for k, n in enumerate(names)})


def _task_raw(df: pd.DataFrame, features: list[str], backend: str, m: _TaskModel,
              raw: dict[str, np.ndarray], kinds: dict[str, str]) -> np.ndarray:
    init = None if m.glm is None else m.glm.margin(SiblingInputs(raw, kinds))
    return _raw(backend, m.booster, _table(df, features, m, raw, kinds), init)


def _stored_raw(df: pd.DataFrame, tasks: list[Task], widths: dict[str, int]) -> dict:
    return {t.name: df[_raw_cols(i, widths[t.name])].to_numpy(dtype=float)
            for i, t in enumerate(tasks)}


def _with_oof(df: pd.DataFrame, features: list[str], backend: str, tasks: list[Task],
              widths: dict[str, int], fold_models: dict[str, list]) -> pd.DataFrame:
    """Add each task's out-of-fold raw scores: fold ``k``'s rows scored by fold ``k``'s model."""
    fold = df[_FOLD].to_numpy()
    out = {}
    for i, t in enumerate(tasks):
        raw = np.full((len(df), widths[t.name]), np.nan)
        for k, booster in enumerate(fold_models[t.name]):
            rows = np.flatnonzero(fold == k)
            raw[rows] = _raw(backend, booster, df[features].iloc[rows])
        for j, c in enumerate(_raw_cols(i, widths[t.name])):
            out[c] = raw[:, j]
    return df.assign(**out)


def _training_table(df: pd.DataFrame, features: list[str], tasks: list[Task],
                    widths: dict[str, int], kinds: dict[str, str], m: _TaskModel
                    ) -> pd.DataFrame:
    return _table(df, features, m, _stored_raw(df, tasks, widths), kinds)


def _offset_init(df: pd.DataFrame, tasks: list[Task], widths: dict[str, int],
                 kinds: dict[str, str], glm: SiblingGLM) -> pd.DataFrame:
    margin = glm.margin(SiblingInputs(_stored_raw(df, tasks, widths), kinds))
    return pd.DataFrame(margin, index=df.index, columns=[f"c{j}" for j in range(margin.shape[1])])


def _candidate_raw(df: pd.DataFrame, features: list[str], backend: str, tasks: list[Task],
                   widths: dict[str, int], kinds: dict[str, str], i: int,
                   models: dict[str, _TaskModel]) -> pd.DataFrame:
    """A task's label and each candidate's raw scores on ``df``'s rows (held-out fold)."""
    raw = _stored_raw(df, tasks, widths)
    cols = {"y": df[_label(i)].to_numpy()}
    t = tasks[i]
    for mech, m in models.items():
        r = raw[t.name] if m is None else _task_raw(df, features, backend, m, raw, kinds)
        for j in range(r.shape[1]):
            cols[f"{mech}_{j}"] = r[:, j]
    return pd.DataFrame(cols, index=df.index)


def _predict_partition(df: pd.DataFrame, features: list[str], backend: str, tasks: list[Task],
                       kinds: dict[str, str], stage1: dict, models: dict[str, _TaskModel],
                       classes: dict[str, np.ndarray], what: str) -> pd.DataFrame:
    X = df[features]
    raw = {n: _raw(backend, b, X) for n, b in stage1.items()}
    out = {}
    for t in tasks:
        m = models[t.name]
        r = raw[t.name] if m.mechanism == "independent" else _task_raw(df, features, backend,
                                                                       m, raw, kinds)
        p = link(t.kind, r)
        if what == "proba" and t.kind == "binary":
            out[t.name] = p
        elif what == "proba" and t.kind == "multiclass":
            for j, c in enumerate(classes[t.name]):
                out[f"{t.name}[{c}]"] = p[:, j]
        elif what == "predict":
            out.update(task_predictions([t], classes, {t.name: p}))
    return pd.DataFrame(out, index=df.index)


def _assign_folds(df: pd.DataFrame, n_folds: int, seed: int, partition_info=None
                  ) -> pd.Series:
    """Seeded fold numbers, drawn per partition (the same partitions give the same folds)."""
    number = 0 if partition_info is None else partition_info["number"]
    rng = np.random.default_rng([seed, number])
    return pd.Series(rng.integers(0, n_folds, len(df)), index=df.index, dtype="int64")


def _uniques(y: pd.Series) -> pd.Series:
    return pd.Series(y.dropna().unique(), name=y.name)


def _encode(y: pd.Series, classes: np.ndarray | None) -> pd.Series:
    if classes is None:
        return y.astype(float)
    codes = pd.Categorical(y, categories=classes).codes.astype(float)
    codes[codes < 0] = np.nan
    return pd.Series(codes, index=y.index)


# -- the estimator --------------------------------------------------------------------------------


class DaskMultiTaskBooster(BaseEstimator):
    """Multi-task boosting on dask DataFrames, each model trained across the cluster.

    Parameters
    ----------
    tasks : list of Task or str, dict name -> kind, or None
        The tasks (columns of ``Y``). A kind not given is inferred from the first
        ``KIND_SAMPLE_ROWS`` rows of the column.
    backend : {"lightgbm", "xgboost"}
    params : dict or None
        Backend parameters for every model.
    n_estimators : int, default 100
        Rounds of every model (fixed: no early stopping across a cluster).
    sharing : {"auto", "none", "stacking", "offset"} or dict task -> one of them
        ``"auto"`` tries stacking and offsets and keeps one where it wins on the held-out first
        fold beyond noise; a named mechanism is used as given.
    n_folds : int, default 5
        Folds of the out-of-fold sibling scores.
    fold_column : str or None
        A column of ``X`` holding each row's fold (integers ``0 .. n_folds - 1``), for folds by
        customer or by time; drawn at random per row (seeded, per partition) when None. The
        column is not a feature.
    random_state : int or None
    client : dask.distributed.Client or None
        The cluster; the current client when None.
    """

    def __init__(self, tasks=None, backend: str = "lightgbm", params: dict | None = None,
                 n_estimators: int = 100, sharing="auto", n_folds: int = 5,
                 fold_column: str | None = None, random_state: int | None = None, client=None):
        self.tasks = tasks
        self.backend = backend
        self.params = params
        self.n_estimators = n_estimators
        self.sharing = sharing
        self.n_folds = n_folds
        self.fold_column = fold_column
        self.random_state = random_state
        self.client = client

    # -- checks ------------------------------------------------------------------------------------

    def _check(self, X, Y) -> None:
        import dask.dataframe as dd

        for name, v in (("X", X), ("Y", Y)):
            if not isinstance(v, dd.DataFrame):
                raise TypeError(f"{name}: expected a dask DataFrame, got {type(v).__name__}; "
                                "for pandas frames use gbmtl.MultiTaskBooster")
        if X.npartitions != Y.npartitions:
            raise ValueError(f"X has {X.npartitions} partitions and Y {Y.npartitions}; they "
                             "must be split alike (e.g. Y = frame[tasks], X = frame[features])")
        if self.backend not in ("lightgbm", "xgboost"):
            raise ValueError(f"backend: expected 'lightgbm' or 'xgboost', got {self.backend!r}")
        if not isinstance(self.n_folds, (int, np.integer)) or self.n_folds < 2:
            raise ValueError(f"n_folds: expected an integer of at least 2, got {self.n_folds!r}")
        if not isinstance(self.n_estimators, (int, np.integer)) or self.n_estimators < 1:
            raise ValueError(f"n_estimators: expected a positive integer, got "
                             f"{self.n_estimators!r}")
        if self.fold_column is not None and self.fold_column not in X.columns:
            raise ValueError(f"fold_column {self.fold_column!r} is not a column of X")

    def _resolve_tasks(self, Y) -> list[Task]:
        columns = [str(c) for c in Y.columns]
        if self.tasks is None:
            tasks = [Task(c) for c in columns]
        elif isinstance(self.tasks, dict):
            tasks = [Task(str(n), kind=k) for n, k in self.tasks.items()]
        else:
            tasks = [t if isinstance(t, Task) else Task(str(t)) for t in self.tasks]
        missing = [t.name for t in tasks if t.name not in columns]
        if missing:
            raise ValueError(f"tasks {missing} have no column in Y; Y has columns {columns}")
        if len(tasks) < 2 and self._wants_siblings(tasks):
            raise ValueError("sharing needs at least two tasks; use sharing='none'")
        sample = None
        out = []
        for t in tasks:
            kind = t.kind
            if kind is None:
                if sample is None:
                    sample = Y.head(KIND_SAMPLE_ROWS, npartitions=-1)
                kind = infer_kind(sample[t.name])
            if kind not in ("binary", "multiclass", "regression"):
                raise ValueError(f"Task {t.name!r}: unknown kind {kind!r}")
            out.append(Task(t.name, kind=kind, weight=t.weight,
                            metric=t.metric or default_metric(kind)))
        return out

    def _wants_siblings(self, tasks) -> bool:
        s = self.sharing
        return any(v != "none" for v in s.values()) if isinstance(s, dict) else s != "none"

    def _sharing_of(self, name: str) -> str:
        s = self.sharing.get(name, "auto") if isinstance(self.sharing, dict) else self.sharing
        if s not in SHARING:
            raise ValueError(f"sharing for task {name!r}: expected one of {SHARING}, got {s!r}")
        return s

    # -- fit ---------------------------------------------------------------------------------------

    def fit(self, X, Y) -> DaskMultiTaskBooster:
        """Fit every task across the cluster: stage-1 fold models and out-of-fold scores, the
        held-out comparison where ``sharing="auto"``, then each task's final model."""
        from gbmtl._dask import current_client

        self._check(X, Y)
        client = self.client if self.client is not None else current_client()
        tasks = self._resolve_tasks(Y)
        sharing = {t.name: self._sharing_of(t.name) for t in tasks}
        seed = 0 if self.random_state is None else int(self.random_state)
        features = [c for c in X.columns if c != self.fold_column]
        kinds = {t.name: t.kind for t in tasks}

        classes = {}
        for t in tasks:
            if t.kind != "regression":
                # Per-partition uniques: a dask ``unique`` would shuffle the whole column.
                values = Y[t.name].map_partitions(_uniques, meta=(t.name, Y[t.name].dtype))
                classes[t.name] = np.unique(np.asarray(values.compute()))
                if len(classes[t.name]) < 2:
                    raise ValueError(f"Task {t.name!r}: a {t.kind} task needs two classes, "
                                     f"found {classes[t.name].tolist()}")
                if t.kind == "binary" and len(classes[t.name]) > 2:
                    raise ValueError(f"Task {t.name!r}: declared binary but has "
                                     f"{len(classes[t.name])} classes; use kind='multiclass'")
        widths = {t.name: len(classes[t.name]) if t.kind == "multiclass" else 1 for t in tasks}

        counts = Y[[t.name for t in tasks]].count().compute()
        params = {t.name: task_params(self.backend, int(counts[t.name]), self.params)
                  for t in tasks}
        siblings_needed = any(v != "none" for v in sharing.values())

        if self.fold_column is not None:
            fold = X[self.fold_column]
            bad = ((fold < 0) | (fold >= self.n_folds) | fold.isna()).sum().compute()
            if bad:
                raise ValueError(f"fold_column {self.fold_column!r}: {bad} rows hold a fold "
                                 f"outside 0..{self.n_folds - 1}")
            fold = fold.astype("int64")
        else:
            fold = X.map_partitions(_assign_folds, self.n_folds, seed,
                                    meta=(_FOLD, "int64"))
        data = X[features].assign(**{_label(i): Y[t.name].map_partitions(
            _encode, classes.get(t.name), meta=(_label(i), "f8")) for i, t in enumerate(tasks)})
        data = data.assign(**{_FOLD: fold})
        data = client.persist(data)

        def train(t: Task, i: int, rows, mech: str, fold_no: int, table=None, init=None):
            part = data[rows]
            Xt = part[features] if table is None else table(part)
            return _train(client, self.backend, t.kind, widths[t.name], params[t.name],
                          int(self.n_estimators), model_seed(seed, i, fold_no, _ROLE[mech]),
                          Xt, part[_label(i)], None if init is None else init(part))

        # Stage 1: every task's fold models and its model on all labelled rows.
        fold_models, stage1 = {}, {}
        for i, t in enumerate(tasks):
            labelled = data[_label(i)].notnull()
            fold_models[t.name] = [train(t, i, labelled & (data[_FOLD] != k), "independent", k)
                                   for k in range(self.n_folds if siblings_needed else 0)]
            stage1[t.name] = train(t, i, labelled, "independent", -1)
        meta = data._meta.assign(**{c: np.float64() for i, t in enumerate(tasks)
                                    for c in _raw_cols(i, widths[t.name])})
        if siblings_needed:
            data = client.persist(data.map_partitions(
                _with_oof, features, self.backend, tasks, widths, fold_models, meta=meta))

        models, report = {}, []
        for i, t in enumerate(tasks):
            siblings = [s.name for s in tasks if s.name != t.name]
            choice = sharing[t.name]
            candidates = (["stacking", "offset"] if choice == "auto"
                          else [] if choice == "none" else [choice])
            labelled = data[_label(i)].notnull()
            gains = {}
            if choice == "auto" and siblings:
                held = {m: self._fit_mechanism(client, data, t, i, m, siblings, labelled
                                               & (data[_FOLD] != 0), 0, tasks, widths, kinds,
                                               features, seed, train)
                        for m in candidates}
                mech, gains = self._choose(data, t, i, held, tasks, widths, kinds, features,
                                           seed)
            else:
                mech = candidates[0] if candidates else "independent"
            if mech == "independent":
                models[t.name] = _TaskModel(t.name, t.kind, "independent", stage1[t.name])
            else:
                models[t.name] = self._fit_mechanism(client, data, t, i, mech, siblings,
                                                     labelled, -1, tasks, widths, kinds,
                                                     features, seed, train)
            report.append({"task": t.name, "sharing": choice, "mechanism": mech,
                           **{f"gain_{m}": g for m, g in gains.items()}})

        self.tasks_ = tasks
        self.classes_ = classes
        self.features_ = features
        self.stage1_ = stage1
        self.models_ = models
        self.sharing_report_ = pd.DataFrame(report).set_index("task")
        names = {c: t.name if widths[t.name] == 1 else f"{t.name}[{classes[t.name][j]}]"
                 for i, t in enumerate(tasks) for j, c in enumerate(_raw_cols(i, widths[t.name]))}
        self.oof_ = data[list(names)].rename(columns=names) if siblings_needed else None
        return self

    def _fit_mechanism(self, client, data, t: Task, i: int, mech: str, siblings: list[str],
                       rows, fold_no: int, tasks, widths, kinds, features, seed,
                       train) -> _TaskModel:
        """A stacking or offset model of task ``t`` trained on ``rows`` (their out-of-fold
        sibling scores as inputs)."""
        m = _TaskModel(t.name, t.kind, mech, None, siblings)
        meta_table = _training_table(data._meta_nonempty, features, tasks, widths, kinds,
                                     m).iloc[:0]
        if mech == "stacking":
            def table(part):
                return part.map_partitions(_training_table, features, tasks, widths, kinds, m,
                                           meta=meta_table)
            m.booster = train(t, i, rows, mech, fold_no, table=table)
            return m
        n_rows = int(rows.sum().compute())
        frac = min(1.0, GLM_ROWS / max(n_rows, 1))
        cols = [c for j, s in enumerate(tasks) for c in _raw_cols(j, widths[s.name])]
        sample = data[rows][cols + [_label(i)]]
        if frac < 1.0:
            sample = sample.sample(frac=frac, random_state=seed)
        sample = sample.compute()
        raw = _stored_raw(sample, tasks, widths)
        y = sample[_label(i)].to_numpy()
        m.glm = SiblingGLM.fit(t.kind, SiblingInputs(raw, kinds), siblings, np.arange(len(y)),
                               y, None, widths[t.name],
                               model_seed(seed, i, fold_no, _ROLE["offset"]))
        meta_init = _offset_init(data._meta_nonempty, tasks, widths, kinds, m.glm).iloc[:0]

        def init(part):
            out = part.map_partitions(_offset_init, tasks, widths, kinds, m.glm, meta=meta_init)
            return out["c0"] if widths[t.name] == 1 else out
        m.booster = train(t, i, rows, mech, fold_no, init=init)
        return m

    def _choose(self, data, t: Task, i: int, held: dict[str, _TaskModel], tasks, widths,
                kinds, features, seed) -> tuple[str, dict[str, float]]:
        """The held-out first fold's comparison: the largest gain beyond the max-T bound wins."""
        models = {"independent": None, **held}
        meta = _candidate_raw(data._meta_nonempty, features, self.backend, tasks, widths, kinds,
                              i, models).iloc[:0]
        part = data[data[_label(i)].notnull() & (data[_FOLD] == 0)]
        val = part.map_partitions(_candidate_raw, features, self.backend, tasks, widths, kinds,
                                  i, models, meta=meta).compute()
        if len(val) < 20:
            return "independent", {}
        width = widths[t.name]

        def raw_of(mech):
            return val[[f"{mech}_{j}" for j in range(width)]].to_numpy()

        plan = SimpleNamespace(task=t, kind=t.kind, weight=None, width=width,
                               enc=SimpleNamespace(y=val["y"].to_numpy()))
        gains, ses, z = joint_gains(plan, np.arange(len(val)), raw_of("independent"),
                                    {m: raw_of(m) for m in held}, seed, FALSE_PICK_RATE)
        z = max(z, NormalDist().inv_cdf(1 - FALSE_PICK_RATE))
        winners = {m: g for m, g in gains.items() if ses[m] > 0 and g > z * ses[m]}
        best = max(winners, key=winners.get) if winners else "independent"
        return best, gains

    # -- predict -----------------------------------------------------------------------------------

    def _map(self, X, what: str):
        check_is_fitted(self, "models_")
        import dask.dataframe as dd

        if not isinstance(X, dd.DataFrame):
            raise TypeError(f"X: expected a dask DataFrame, got {type(X).__name__}")
        missing = [c for c in self.features_ if c not in X.columns]
        if missing:
            raise ValueError(f"X lacks the feature columns {missing} seen at fit")
        args = (self.features_, self.backend, self.tasks_, {t.name: t.kind for t in self.tasks_},
                self.stage1_, self.models_, self.classes_, what)
        meta = _predict_partition(X._meta_nonempty, *args).iloc[:0]
        return X.map_partitions(_predict_partition, *args, meta=meta)

    def predict(self, X):
        """Lazy predictions (a dask DataFrame, a column per task): classes in the labels' own
        values, values for regression."""
        return self._map(X, "predict")

    def predict_proba(self, X):
        """Lazy probabilities: ``task`` (the positive class) for binary tasks, ``task[class]``
        for each class of multiclass tasks."""
        return self._map(X, "proba")
