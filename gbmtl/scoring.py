"""Scoring one row (or a few) for every task, fast: for online fraud and credit decisions.

``MultiTaskBooster.predict`` is built for tables: every call validates a DataFrame, converts
it, and calls each booster through its library's general entry point, which for one row costs
milliseconds in overhead, not in trees. :class:`RowScorer` prepares everything once: the
category codes of each column, the order of the features, and the trees themselves as flat
forests (:mod:`gbmtl._forest`) walked by compiled code: each fold model of a stack, and each
shared-trees member (in float32, as XGBoost sums). A row then goes
through the same model graph as ``predict`` (sibling scores, sibling GLMs, stacking columns,
blends, shared trees, calibration) on plain arrays. Per-task XGBoost models predict through
``inplace_predict`` (through a ``DMatrix`` as in ``predict`` when they have categorical
features); with ``compiled=False`` LightGBM models use single-row handles
(``LGBM_BoosterPredictForMatSingleRowFast``, called through the package's own library handle).
Predictions equal ``predict_proba``/``predict`` on the same rows to the bit for rows whose
numeric values are float64 (the same trees summed in the same order, the same means and matrix
products); a test checks every mechanism.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from gbmtl._features import plain_categories
from gbmtl._forest import Forest, Unsupported, from_lightgbm, from_xgboost, xgboost_json
from gbmtl._links import link

__all__ = ["RowScorer"]

_PREDICT_RAW_SCORE = 1  # LightGBM C API: C_API_PREDICT_RAW_SCORE
_DTYPE_FLOAT64 = 1  # C_API_DTYPE_FLOAT64


class _FastLightGBM:
    """One LightGBM booster with a single-row prediction handle for ``n_cols`` float64 values.

    The handle holds per-call buffers, so calls on it are serialised by a lock."""

    def __init__(self, model, n_cols: int):
        from lightgbm.basic import _LIB, _safe_call

        self._lib, self._safe_call = _LIB, _safe_call
        self.booster = model.booster  # keeps the booster (and its handle) alive
        self.n_out = int(model.booster.num_model_per_iteration())
        self.n_cols = n_cols
        self.handle = ctypes.c_void_p()
        _safe_call(_LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
            self.booster._handle, ctypes.c_int(_PREDICT_RAW_SCORE), ctypes.c_int(0),
            ctypes.c_int(int(model.best_iteration)), ctypes.c_int(_DTYPE_FLOAT64),
            # One thread: a parallel region per row costs more than the row's trees.
            ctypes.c_int32(n_cols), ctypes.c_char_p(b"num_threads=1"),
            ctypes.byref(self.handle)))
        self.out = np.zeros(self.n_out, dtype=np.float64)
        self.out_len = ctypes.c_int64(0)
        self.lock = threading.Lock()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Raw scores ``(1, outputs)`` of one C-contiguous float64 row ``x``."""
        with self.lock:
            self._safe_call(self._lib.LGBM_BoosterPredictForMatSingleRowFast(
                self.handle, x.ctypes.data_as(ctypes.c_void_p), ctypes.byref(self.out_len),
                self.out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))))
            return self.out.reshape(1, -1).copy()

    def __del__(self):
        if getattr(self, "handle", None) is not None and self.handle.value:
            self._lib.LGBM_FastConfigFree(self.handle)
            self.handle = None


#: This thread's current call: raw scores of the stacks walked so far (see ``_Stack``).
_CALL = threading.local()


class _Walk:
    """A stack's forests (one per fold model), walked side by side in one pass at most once per
    call on the same rows (a blend's independent member is the stage-1 model of its task), and
    averaged as ``TreeStack.predict_raw`` averages its models' scores: the same double."""

    def __init__(self, forests: list):
        self.forests = forests
        self.together = Forest.side_by_side(forests)
        self.width = forests[0].n_outputs

    def __call__(self, X: np.ndarray) -> np.ndarray:
        memo = getattr(_CALL, "memo", None)
        hit = None if memo is None else memo.get(id(self))
        if hit is not None and hit[0] is X:
            return hit[1]
        both = self.together.predict(X)
        w = self.width
        raw = [both[:, k * w:(k + 1) * w] for k in range(len(self.forests))]
        raw = raw[0] if len(raw) == 1 else np.mean(raw, axis=0)
        if memo is not None:
            memo[id(self)] = (X, raw)
        return raw

    def key(self) -> tuple:
        return tuple(f.key() for f in self.forests)


class _SharedMembers:
    """Shared-trees members walked as XGBoost predicts them: a member's margin starts at its
    prior (the ``base_margin`` that ``predict`` passes) in float32 and adds each tree's leaf in
    order, in float32; so the margins equal XGBoost's to the bit. ``members``: member ->
    (prior, [(round count, forest of the rounds since the previous count)]). Walked at most
    once per call on the same rows; returns {(member, round count): margins}."""

    def __init__(self, members: dict):
        self.members = members

    def __call__(self, X: np.ndarray) -> dict:
        memo = getattr(_CALL, "memo", None)
        hit = None if memo is None else memo.get(id(self))
        if hit is not None and hit[0] is X:
            return hit[1]
        margins = {}
        for i, (prior, pieces) in self.members.items():
            state = np.empty((len(X), len(prior)), dtype=np.float32)
            state[:] = prior
            for end, forest in pieces:
                forest.add_to(X, state)
                margins[i, end] = state.copy()
        if memo is not None:
            memo[id(self)] = (X, margins)
        return margins


class _Stack:
    """A tree stack (one model or bagged fold models) scoring rows of a float64 matrix: LightGBM
    models as flat forests, else through the library."""

    def __init__(self, trees, n_cols: int, columns: list[str], categorical: list,
                 compiled: bool = True):
        from gbmtl.backends._lightgbm import LightGBMModel

        self.models = trees.models
        self.columns = columns
        self.categorical = categorical
        lightgbm = all(isinstance(m, LightGBMModel) for m in self.models)
        self.walk = None
        if lightgbm and compiled:
            try:
                self.walk = _Walk([from_lightgbm(m.booster, m.best_iteration)
                                   for m in self.models])
            except Unsupported:
                pass
        self.fast = ([_FastLightGBM(m, n_cols) for m in self.models]
                     if lightgbm and self.walk is None else None)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        if self.walk is not None:
            return self.walk(X)
        if self.fast is not None and len(X) == 1:
            row = np.ascontiguousarray(X[0])
            raw = [f(row) for f in self.fast]
        elif self.fast is not None:
            raw = [m.predict_raw_matrix(X) for m in self.models]
        else:  # XGBoost per-task models: its DataFrame path keeps the categories right
            frame = _frame(X, self.columns, self.categorical)
            raw = [m.predict_raw(frame) for m in self.models]
        return raw[0] if len(raw) == 1 else np.mean(raw, axis=0)


def _glm_margin(glm, kinds: dict[str, str]):
    """``glm.margin`` for a few rows, its steps (see ``SiblingGLM``) on prepared arrays: the
    general path's per-call checks cost more than the GLM on one row."""
    mean, scale = glm.mean, glm.scale
    coef_t, intercept = np.ascontiguousarray(glm.coef.T), glm.intercept
    siblings = [(s, kinds[s] == "multiclass") for s in glm.siblings]

    def margin(raw: dict[str, np.ndarray]) -> np.ndarray:
        cols = []
        for s, centre in siblings:
            r = np.asarray(raw[s], dtype=float).reshape(len(raw[s]), -1)
            cols.append(r - r.mean(axis=1, keepdims=True) if centre else r)
        Z = (np.hstack(cols) - mean) / scale
        Z[np.isnan(Z)] = 0.0
        return Z @ coef_t + intercept
    return margin


def _frame(X: np.ndarray, columns: list[str], categorical: list) -> pd.DataFrame:
    """Codes back to the frame ``predict`` gives the models: categories as fitted."""
    cols = {}
    for j, (name, cats) in enumerate(zip(columns, categorical, strict=True)):
        if cats is not None:
            codes = np.where(np.isnan(X[:, j]), -1, X[:, j]).astype(int)
            cols[name] = pd.Categorical.from_codes(codes, categories=cats)
        else:
            cols[name] = X[:, j]
    return pd.DataFrame(cols)


def _number(v, name: str) -> float:
    if v is None or v is pd.NA:
        return np.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        raise ValueError(f"RowScorer: column {name!r} is numeric; got {v!r}") from None


class RowScorer:
    """Scores single rows or small batches for every task of a fitted ``MultiTaskBooster``.

    Parameters
    ----------
    model : MultiTaskBooster
        Fitted; without a ``shared_features`` transformer (rows go straight to the trees).
    compiled : bool, default True
        Walk LightGBM models and shared trees as flat forests in compiled code
        (:mod:`gbmtl._forest`); False calls each booster
        through its library (LightGBM's single-row handles), about 10 times slower on the
        ``gbmtl demo`` model. Per-task XGBoost models always go through XGBoost.

    Examples
    --------
    >>> scorer = RowScorer(model)  # doctest: +SKIP
    >>> scorer.predict_proba({"age": 41, "income": 52_000.0, "segment": "retail"})  # doctest: +SKIP
    {'fraud': array([[0.97, 0.03]]), ...}
    """

    def __init__(self, model, compiled: bool = True):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(model, "tasks_")
        if model.shared_.fitted_transformer_ is not None:
            raise ValueError("RowScorer: models with a shared_features transformer are scored "
                             "with predict(); the transformer needs a DataFrame")
        self.model = model
        self.compiled = bool(compiled)
        self.features = [str(c) for c in model.feature_names_in_]
        self._position = {name: j for j, name in enumerate(self.features)}
        cats = model.shared_.categories_
        # Value -> code per category column (the codes the trees were trained on); values are
        # matched as ``predict`` matches them: text categories by their text.
        self._codes: dict[int, dict] = {}
        self._text: set[int] = set()
        for name, values in cats.items():
            j = self._position[name]
            if all(isinstance(v, str) for v in values):
                self._text.add(j)
            self._codes[j] = {v: float(k) for k, v in enumerate(values)}
        p = len(self.features)
        internal = [f"f{j}" for j in range(p)]
        # Per column, the categories of the frame predict hands the models (None: numeric);
        # categories that are not plain values reach them as positions (see _features).
        categorical = []
        for name in self.features:
            values = cats.get(name)
            categorical.append(None if values is None else
                               (values if plain_categories(values) else list(range(len(values)))))
        # Per category column of predict's encoded frame: value -> code, or None where the
        # frame holds the positions themselves.
        self._encoded_codes = {
            self._position[name]: ({v: float(k) for k, v in enumerate(values)}
                                   if plain_categories(values) else None)
            for name, values in cats.items()}
        self._tasks = model.tasks_
        self._xgb: dict[int, Any] = {}  # single-thread copies of XGBoost boosters
        self._kinds = {t.name: t.kind for t in model.tasks_}
        self._stacks: dict = {}
        self._segments: dict = {}
        self._stage1 = {res.name: self._stack(res.stage1.trees, p, internal, categorical)
                        for res in model._results}
        self._final = {res.name: self._compile(res.final, p, internal, categorical)
                       for res in model._results}
        self._needed = sorted({s for res in model._results for s in res.final.siblings})
        self._calibrators = dict(getattr(model, "calibrators_", {}))
        self._classes = model.classes_

    # -- building ------------------------------------------------------------------------------

    def _compile(self, final, p: int, internal: list[str], categorical: list):
        """A function ``(X, sibling raw scores) -> raw scores`` for one task's final model."""
        from gbmtl.sharing._blend import BlendModel
        from gbmtl.sharing._independent import IndependentModel
        from gbmtl.sharing._offset import OffsetModel
        from gbmtl.sharing._shared_trees import SharedTreesModel
        from gbmtl.sharing._siblings import SiblingInputs, sibling_columns, stacking_values
        from gbmtl.sharing._stacking import StackingModel

        kinds = self._kinds
        if isinstance(final, IndependentModel):
            stack = self._stack(final.trees, p, internal, categorical)
            return lambda X, raw: stack(X)
        if isinstance(final, OffsetModel):
            glm = final.glm
            trees = None if final.trees is None else self._stack(final.trees, p, internal,
                                                                  categorical)

            margin_of = _glm_margin(glm, kinds)

            def offset(X, raw):
                margin = margin_of(raw)
                return margin if trees is None else margin + trees(X)
            return offset
        if isinstance(final, StackingModel):
            cols = sibling_columns(final.siblings, kinds, final.widths)
            names = internal + [c for c, _, _ in cols]
            stack = self._stack(final.trees, p + len(cols), names,
                                categorical + [None] * len(cols))

            def stacking(X, raw):
                _, block = stacking_values(SiblingInputs(raw, kinds), final.siblings)
                return stack(np.ascontiguousarray(np.hstack([X, block])))
            return stacking
        if isinstance(final, BlendModel):
            members = [self._compile(m, p, internal, categorical) for m in final.members]

            def blend(X, raw):  # as BlendModel.predict_raw
                return np.mean([m(X, raw) for m in members], axis=0)
            return blend
        if isinstance(final, SharedTreesModel):
            ens, task, which = final.ensemble, final.task, list(final.which)
            out = ens.outputs[task]
            order = [int(c[1:]) for c in ens.columns]  # internal names f0, f1, ...
            segments = self._shared_segments(ens, which, order) if self.compiled else None
            if segments is not None:
                end = ens.rounds[task] or ens.boosters[which[0]].num_boosted_rounds()

                def shared_forest(X, raw):
                    # As SharedEnsemble.raw: each member's float32 margins, their mean.
                    margins = segments(X)
                    preds = [margins[i, end][:, out.cols] for i in which]
                    return out.mean + out.scale * np.mean(preds, axis=0)
                return shared_forest
            boosters = {i: self._single_thread(ens.boosters[i]) for i in which}

            def shared(X, raw):
                Z = X[:, order].astype(np.float32)
                preds = []
                for i in which:
                    margin = np.tile(ens.priors[i], (len(Z), 1))
                    pr = boosters[i].inplace_predict(
                        Z, iteration_range=(0, ens.rounds[task]), predict_type="margin",
                        base_margin=margin, validate_features=False)
                    preds.append(np.asarray(pr).reshape(len(Z), -1)[:, out.cols])
                return out.mean + out.scale * np.mean(preds, axis=0)
            return shared
        raise TypeError(f"RowScorer: no fast path for {type(final).__name__}")

    def _stack(self, trees, n_cols: int, columns: list[str], categorical: list) -> _Stack:
        """A stack of ``trees``; equal forests (the same models reached twice) share one."""
        stack = _Stack(trees, n_cols, columns, categorical, self.compiled)
        if stack.walk is None:
            return stack
        return self._stacks.setdefault((stack.walk.key(), n_cols), stack)

    def _shared_segments(self, ens, which: list[int], order: list[int]):
        """The shared-trees members ``which`` walked as XGBoost sums them (see
        :class:`_SharedMembers`), with a snapshot at each task's round count: tasks that share
        an ensemble walk its common rounds once per row. None where a member cannot be laid
        out."""
        key = (id(ens), tuple(which))
        if key in self._segments:
            return self._segments[key]
        try:
            total = ens.boosters[which[0]].num_boosted_rounds()
            ends = sorted({r or total for r in ens.rounds.values()})
            members = {}
            for i in which:
                model = xgboost_json(ens.boosters[i])
                pieces, start = [], 0
                for end in ends:
                    f = from_xgboost(ens.boosters[i], end, start, model)
                    f.ints[:, 0] = np.asarray(order)[f.ints[:, 0]]
                    pieces.append((end, f))
                    start = end
                members[i] = (np.asarray(ens.priors[i], dtype=np.float32), pieces)
            segments = _SharedMembers(members)
        except Unsupported:
            segments = None
        self._segments[key] = segments
        return segments

    def _single_thread(self, booster):
        """A copy of an XGBoost booster that predicts on one thread (rows come one at a
        time; the model's own booster keeps its setting)."""
        import xgboost as xgb

        key = id(booster)
        if key not in self._xgb:
            copy = xgb.Booster(model_file=bytearray(booster.save_raw(raw_format="ubj")))
            copy.set_param({"nthread": 1})
            self._xgb[key] = copy
        return self._xgb[key]

    # -- input -----------------------------------------------------------------------------------

    def _matrix(self, rows) -> np.ndarray:
        """Rows as the float64 matrix of the trees: features in fit order, categories coded."""
        if isinstance(rows, Mapping):
            missing = [f for f in self.features if f not in rows]
            if missing:
                raise ValueError(f"RowScorer: the row lacks features {missing}")
            values = [[rows[f] for f in self.features]]
        elif isinstance(rows, pd.Series):
            return self._matrix(rows.to_dict())
        elif isinstance(rows, pd.DataFrame):
            missing = [f for f in self.features if f not in rows.columns]
            if missing:
                raise ValueError(f"RowScorer: the rows lack features {missing}")
            if list(rows.columns) != self.features:  # (selecting costs more than the row)
                rows = rows[self.features]
            values = rows.to_numpy(dtype=object)
        else:
            values = np.asarray(rows, dtype=object)
            if values.ndim == 1:
                values = values[None, :]
            if values.ndim != 2 or values.shape[1] != len(self.features):
                raise ValueError(f"RowScorer: expected rows of {len(self.features)} values in "
                                 f"the order of feature_names_in_, got shape {values.shape}")
        X = np.empty((len(values), len(self.features)), dtype=np.float64)
        for i, row in enumerate(values):
            for j, v in enumerate(row):
                codes = self._codes.get(j)
                if codes is None:
                    X[i, j] = _number(v, self.features[j])
                elif v is None or v is pd.NA or (isinstance(v, float) and v != v):
                    X[i, j] = np.nan
                else:  # unseen categories are missing, as in predict
                    X[i, j] = codes.get(str(v) if j in self._text else v, np.nan)
        return X

    # -- scoring ---------------------------------------------------------------------------------

    def encoded_matrix(self, F: pd.DataFrame) -> np.ndarray:
        """The matrix of a table already through the model's feature step (``predict``'s own
        validated, encoded frame: its categories are the fitted ones, or their positions)."""
        # Through an object array: for a few rows, one conversion costs less than a Series per
        # column.
        values = F.to_numpy(dtype=object)
        X = np.empty(values.shape, dtype=np.float64)
        for i, row in enumerate(values):
            for j, v in enumerate(row):
                codes = self._encoded_codes.get(j, 0)
                if codes == 0:
                    X[i, j] = np.nan if v is None or v is pd.NA else float(v)
                elif v is None or v is pd.NA or (isinstance(v, float) and v != v):
                    X[i, j] = np.nan
                else:
                    X[i, j] = float(v) if codes is None else codes[v]
        return X

    def prepare(self, rows) -> np.ndarray:
        """``rows`` as the float64 matrix the trees read (features in fit order, categories as
        codes), for ``predict_proba(..., prepared=True)``: a service that holds a row's values
        in that form already skips the conversion."""
        return self._matrix(rows)

    def _probabilities(self, rows, prepared: bool = False) -> dict[str, np.ndarray]:
        if prepared:
            X = np.asarray(rows, dtype=np.float64)
            if X.ndim != 2 or X.shape[1] != len(self.features):
                raise ValueError(f"RowScorer: a prepared matrix has {len(self.features)} "
                                 f"columns (see prepare()); got shape {X.shape}")
        else:
            X = self._matrix(rows)
        _CALL.memo = {}
        try:
            raw = {s: self._stage1[s](X) for s in self._needed}
            out = {}
            for t in self._tasks:
                r = self._final[t.name](X, raw)
                p = link(t.kind, r)
                calibrator = self._calibrators.get(t.name)
                out[t.name] = p if calibrator is None else calibrator(p)
            return out
        finally:
            _CALL.memo = None

    def predict_proba(self, rows, prepared: bool = False) -> dict[str, np.ndarray]:
        """Class probabilities ``(n, n_classes)`` of each classification task, as
        ``MultiTaskBooster.predict_proba``. ``rows``: a dict (one row), a Series, a DataFrame,
        or an array of values in the order of ``feature_names_in_``; with ``prepared=True``, a
        matrix from :meth:`prepare`."""
        from gbmtl.booster import task_probabilities

        return task_probabilities(self._tasks, self._probabilities(rows, prepared))

    def predict(self, rows, prepared: bool = False) -> dict[str, np.ndarray]:
        """Each task's prediction (classes in the labels' values, values for regression)."""
        from gbmtl.booster import task_predictions

        return task_predictions(self._tasks, self._classes, self._probabilities(rows, prepared))
