"""The OOF stacking engine: stage-1 models, out-of-fold sibling features, sibling selection, stage 2.

Invariant: no model ever sees a prediction derived from its own row's label. Stage-1 fold models
predict only the rows they did not train on; rows a task never labels are predicted by the task's
stage-1 model, which by construction never saw them; stage-2 models see only these predictions.

With the default folds, the early-stopping validation part is itself one of the K folds, and its
fold model is the plain model: trained on exactly the other rows, and used at the number of rounds
every fold model gets (the plain model's early-stopped count). That is the model a separate fit
would give, so each task trains K - 1 fold models instead of K.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    ShuffleSplit,
    StratifiedGroupKFold,
    StratifiedKFold,
    StratifiedShuffleSplit,
)

from gbmtl._bootstrap import bootstrap_gain_se
from gbmtl._labels import EncodedTask
from gbmtl.backends import FittedModel, TrainData, get_backend
from gbmtl.backends._base import pop_rounds
from gbmtl.metrics import get_metric
from gbmtl.tasks import Task

logger = logging.getLogger("gbmtl")

#: Share of a task's labelled rows held out for early stopping and sibling selection.
VALIDATION_FRACTION = 0.2
#: Bootstrap resamples of the validation rows used to judge whether siblings help beyond noise.
N_BOOTSTRAP = 50
#: Stage 2 replaces the plain model only when its validation gain exceeds this many bootstrap
#: standard errors. 1.5 picks a sibling set that does not help in about 7 % of fits (one-sided
#: normal tail) while still catching the large gains of label-scarce tasks on small validation
#: parts; 2.0 missed many of those in our tests.
SELECTION_Z = 1.5
#: Tasks with at most this many labelled rows decide on stacking from out-of-fold predictions of
#: all their labelled rows (K more stage-2 fits, cheap at this size) instead of the 20 % validation
#: part alone, which for a label-scarce task is too small to show a real gain beyond noise.
CV_SELECTION_MAX_ROWS = 20_000
SIBLING_PREFIX = "sib__"


@dataclass
class TaskFit:
    """Everything learned for one task."""

    task: Task
    enc: EncodedTask
    stage1: FittedModel | None = None
    stage2: FittedModel | None = None
    siblings: list[str] = field(default_factory=list)  # siblings stage 2 uses; empty = plain
    sibling_gain: float = 0.0
    sibling_gain_se: float = float("nan")
    selection_basis: str = ""  # "out-of-fold" or "validation": what the decision rested on
    affinity: dict[str, float] = field(default_factory=dict)
    oof: np.ndarray | None = None  # (n,) or (n, k)
    fit_rows: np.ndarray | None = None
    val_rows: np.ndarray | None = None
    folds: list = field(default_factory=list)  # (train rows, test rows) of the OOF predictions

    @property
    def final(self) -> FittedModel:
        return self.stage2 if self.siblings else self.stage1

    @property
    def n_classes(self) -> int:
        return len(self.enc.classes) if self.enc.classes is not None else 0


def sibling_columns(task: Task, n_classes: int) -> list[str]:
    """Names of the sibling-feature columns that ``task``'s predictions become."""
    if task.kind == "multiclass":
        return [f"{SIBLING_PREFIX}{task.name}_{k}" for k in range(n_classes)]
    return [f"{SIBLING_PREFIX}{task.name}"]


def as_feature_block(pred: np.ndarray, names: list[str], index=None) -> pd.DataFrame:
    return pd.DataFrame(pred.reshape(len(pred), -1), columns=names, index=index)


def _is_classification(kind: str) -> bool:
    return kind in ("binary", "multiclass")


def _seed(base: int, task_index: int, fold: int) -> int:
    return int((base + 7919 * task_index + 104729 * (fold + 1)) % (2**31 - 1))


def validation_split(
    enc: EncodedTask, kind: str, groups: np.ndarray | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split a task's labelled rows into a fitting part and an early-stopping part."""
    rows = enc.labelled
    y = enc.y[rows]
    if groups is not None:
        splitter = GroupShuffleSplit(1, test_size=VALIDATION_FRACTION, random_state=seed)
        fit, val = next(splitter.split(rows, y, groups[rows]))
    elif _is_classification(kind) and np.bincount(y.astype(int)).min() >= 2:
        splitter = StratifiedShuffleSplit(1, test_size=VALIDATION_FRACTION, random_state=seed)
        fit, val = next(splitter.split(rows, y))
    else:
        splitter = ShuffleSplit(1, test_size=VALIDATION_FRACTION, random_state=seed)
        fit, val = next(splitter.split(rows))
    return rows[fit], rows[val]


def _kfold(kind: str, n_folds: int, grouped: bool, seed: int):
    if _is_classification(kind):
        return (StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed) if grouped
                else StratifiedKFold(n_folds, shuffle=True, random_state=seed))
    return GroupKFold(n_folds) if grouped else KFold(n_folds, shuffle=True, random_state=seed)


def fold_splits(
    rows: np.ndarray, y: np.ndarray, kind: str, n_folds: int, cv, groups: np.ndarray | None,
    seed: int,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds over ``rows`` (with labels ``y``), as row indices into the full table."""
    g = groups[rows] if groups is not None else None
    if cv is None:
        cv = _kfold(kind, n_folds, g is not None, seed)
    return [(rows[tr], rows[te]) for tr, te in cv.split(np.zeros((len(rows), 1)), y, g)]


def aligned_folds(
    tf: TaskFit, n_folds: int, groups: np.ndarray | None, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """K folds whose first is the task's validation part; the other K - 1 split its fitting part.

    The first fold's training rows are the plain model's fitting rows, so the plain model is
    that fold's model. The validation split is group-disjoint when ``groups`` is given, so the
    folds are too.
    """
    fit = tf.fit_rows
    rest = fold_splits(fit, tf.enc.y[fit], tf.task.kind, n_folds - 1, None, groups, seed)
    return [(fit, tf.val_rows)] + [
        (np.sort(np.concatenate([tf.val_rows, tr])), te) for tr, te in rest
    ]


class StackingEngine:
    """Trains the models of every task; the estimator only validates and orchestrates."""

    def __init__(
        self,
        *,
        params: dict[str, Any],
        stacking: str,
        siblings: dict[str, list[str]] | None,
        n_folds: int,
        cv,
        early_stopping_rounds: int | None,
        seed: int,
        n_jobs: int,
        progress=None,
    ):
        self.params = params
        self.stacking = stacking
        self.siblings = siblings
        self.n_folds = n_folds
        self.cv = cv
        self.early_stopping_rounds = early_stopping_rounds
        self.seed = seed
        self.n_jobs = n_jobs
        self.progress = progress
        self.cache: dict = {}  # binned tables shared by the models of this fit
        self.features: pd.DataFrame | None = None  # the table every stage-2 table extends

    # -- helpers ---------------------------------------------------------------------------------

    def _task_params(self, task: Task) -> tuple[dict[str, Any], int]:
        params = {**self.params, **(task.params or {})}
        default_rounds = 1000 if self.early_stopping_rounds else 100
        rounds = pop_rounds(params, default_rounds)
        return params, rounds

    def _run(self, jobs: list) -> list:
        """Train models one after another, each on all ``n_jobs`` threads.

        Training several LightGBM models at once from Python threads was measured 35 % faster
        on two cores, but LightGBM's booster initialisation is not thread-safe: it crashed the
        process (segmentation fault) in about one fit in ten. Models therefore share the cores
        through the libraries' own OpenMP threads; results do not depend on the thread count.
        """
        out = []
        for fn, args in jobs:
            out.append(fn(*args, self.n_jobs))
            self._tick()
        return out

    def _predict(self, model: FittedModel, X: pd.DataFrame, rows: np.ndarray,
                 permute: list[str] | None = None, order: np.ndarray | None = None) -> np.ndarray:
        """``model``'s predictions for ``rows`` of ``X``, optionally with the columns ``permute``
        shuffled across those rows by ``order`` (permutation importance).

        Models that can predict from a float matrix of their training table's columns (LightGBM)
        get one built directly from category codes, cheaper than their own conversion.
        """
        part = X.iloc[rows]
        as_matrix = getattr(model, "as_matrix", None)
        if as_matrix is None:
            if permute:
                part = part.copy()
                part[permute] = part[permute].to_numpy()[order]
            return model.predict(part)
        M = as_matrix(part)
        if permute:
            M = np.array(M)  # writable: the conversion may be a read-only view of ``X``
            idx = [X.columns.get_loc(c) for c in permute]
            M[:, idx] = M[np.ix_(order, idx)]
        return model.predict_matrix(M)

    def _tick(self) -> None:
        if self.progress is not None:
            self.progress.update(1)

    def _train(
        self,
        tf: TaskFit,
        index: int,
        fold: int,
        X: pd.DataFrame,
        train_rows: np.ndarray,
        val_rows: np.ndarray | None,
        weights: np.ndarray | None,
        rounds_override: int | None,
        threads: int,
    ) -> FittedModel:
        task = tf.task
        params, rounds = self._task_params(task)
        esr = self.early_stopping_rounds if val_rows is not None else None
        if rounds_override is not None:
            rounds, esr = rounds_override, None
        data = TrainData(X=X, y=tf.enc.y, rows=train_rows, weight=weights,
                         val_rows=val_rows if esr else None, cache=self.cache,
                         base=None if X is self.features else self.features)
        return get_backend(task.backend).train(
            data,
            kind=task.kind,
            n_classes=tf.n_classes,
            params=params,
            num_boost_round=rounds,
            early_stopping_rounds=esr,
            seed=_seed(self.seed, index, fold),
            n_threads=threads,
        )

    # -- stages ----------------------------------------------------------------------------------

    @property
    def aligned(self) -> bool:
        """Whether the folds are built around the validation part (see the module docstring).

        Not with a user's ``cv`` (its folds are kept as given) and not with 2 folds, where the
        second fold model would train on the 20 % validation part alone.
        """
        return self.cv is None and bool(self.early_stopping_rounds) and self.n_folds >= 3

    def _folds_to_train(self, tf: TaskFit) -> list[tuple[int, tuple[np.ndarray, np.ndarray]]]:
        """The task's numbered folds that need a model of their own: with aligned folds, the
        first fold's model is the one already trained on the fitting rows (plain or stage 2)."""
        return list(enumerate(tf.folds))[1 if self.aligned else 0:]

    def n_steps(self, n_tasks: int, n_folds: int) -> int:
        if self.stacking == "none":
            return n_tasks
        return n_tasks * (1 + n_folds if self.aligned else 2 + n_folds)

    def fit(
        self,
        X: pd.DataFrame,
        tasks: list[Task],
        encoded: dict[str, EncodedTask],
        weights: dict[str, np.ndarray] | None,
        groups: np.ndarray | None,
    ) -> list[TaskFit]:
        fits = [TaskFit(task=t, enc=encoded[t.name]) for t in tasks]
        self.features = X
        w = (lambda name: None) if weights is None else weights.get
        stacked = self.stacking != "none" and len(fits) >= 2
        for i, tf in enumerate(fits):
            self._split(tf, i, groups, stacked)

        # Stage 1: the plain model of each task, early-stopped on its own validation rows.
        models = self._run([
            (self._train, (tf, i, -1, X, tf.fit_rows, tf.val_rows, w(tf.task.name), None))
            for i, tf in enumerate(fits)
        ])
        for tf, model in zip(fits, models, strict=True):
            tf.stage1 = model
        if not stacked:
            self.cache.clear()
            self.features = None
            return fits

        # Out-of-fold predictions, with the plain model's number of rounds (no early stopping on
        # the rows being predicted). Rows a task never labels get its stage-1 prediction.
        jobs, where = [], []
        for i, tf in enumerate(fits):
            for k, (tr, te) in self._folds_to_train(tf):
                jobs.append((self._train,
                             (tf, i, k, X, tr, None, w(tf.task.name), tf.stage1.best_iteration)))
                where.append((tf, te))
        fold_models = self._run(jobs)
        for tf in fits:
            width = max(tf.n_classes, 1) if tf.task.kind == "multiclass" else 1
            tf.oof = np.full((len(X), width), np.nan)
            # Rows the task never labels, and with aligned folds its validation part.
            rows = np.setdiff1d(np.arange(len(X)), tf.enc.labelled)
            if self.aligned:
                rows = np.concatenate([rows, tf.val_rows])
            if len(rows):
                tf.oof[rows] = self._predict(tf.stage1, X, rows).reshape(len(rows), -1)
        for (tf, te), model in zip(where, fold_models, strict=True):
            if len(te):
                tf.oof[te] = self._predict(model, X, te).reshape(len(te), -1)

        # Stage 2 and sibling selection.
        by_name = {tf.task.name: tf for tf in fits}
        candidates = {
            tf.task.name: self._candidates(tf.task.name, [t.name for t in tasks]) for tf in fits
        }
        blocks = {
            tf.task.name: as_feature_block(tf.oof, sibling_columns(tf.task, tf.n_classes))
            for tf in fits
        }
        stage2_inputs = {}
        for tf in fits:
            cands = candidates[tf.task.name]
            if cands:
                X2 = pd.concat([X.reset_index(drop=True)] + [blocks[c] for c in cands], axis=1)
                stage2_inputs[tf.task.name] = X2
        jobs = [
            (self._train, (tf, i, 100, stage2_inputs[tf.task.name], tf.fit_rows, tf.val_rows,
                           w(tf.task.name), None))
            for i, tf in enumerate(fits) if tf.task.name in stage2_inputs
        ]
        stage2_models = self._run(jobs)
        with_stage2 = [tf for tf in fits if tf.task.name in stage2_inputs]
        # Label-scarce tasks: out-of-fold predictions of the stage-2 configuration, on the same
        # folds as the plain ones, so that the comparison can use every labelled row.
        cv_jobs, cv_where = [], []
        for i, tf in enumerate(fits):
            if tf.task.name not in stage2_inputs or len(tf.enc.labelled) > CV_SELECTION_MAX_ROWS:
                continue
            rounds = stage2_models[with_stage2.index(tf)].best_iteration
            for k, (tr, te) in self._folds_to_train(tf):
                cv_jobs.append((self._train, (tf, i, 200 + k, stage2_inputs[tf.task.name], tr,
                                              None, w(tf.task.name), rounds)))
                cv_where.append((tf, te))
        if self.progress is not None and cv_jobs:
            self.progress.total += len(cv_jobs)
            self.progress.refresh()
        cv_models = self._run(cv_jobs)
        self.cache.clear()  # free the binned tables as soon as no model needs them
        self.features = None
        stacked_val = {
            tf.task.name: self._predict(model, stage2_inputs[tf.task.name], tf.val_rows)
            for tf, model in zip(with_stage2, stage2_models, strict=True)
            if tf.val_rows is not None and len(tf.val_rows)
        }
        oof2: dict[str, np.ndarray] = {}
        for (tf, te), model in zip(cv_where, cv_models, strict=True):
            block = oof2.get(tf.task.name)
            if block is None:
                block = oof2[tf.task.name] = np.full((len(X), tf.oof.shape[1]), np.nan)
                if self.aligned:
                    val = tf.val_rows
                    block[val] = stacked_val[tf.task.name].reshape(len(val), -1)
            if len(te):
                block[te] = self._predict(model, stage2_inputs[tf.task.name], te).reshape(
                    len(te), -1)
        for tf, model in zip(with_stage2, stage2_models, strict=True):
            X2 = stage2_inputs[tf.task.name]
            cands = candidates[tf.task.name]
            val_pred = stacked_val.get(tf.task.name)
            self._affinity(tf, model, X2, val_pred, cands, by_name, w(tf.task.name))
            self._select(tf, X, val_pred, oof2.get(tf.task.name), cands, model, w(tf.task.name))
        return fits

    def _split(self, tf: TaskFit, index: int, groups: np.ndarray | None, stacked: bool) -> None:
        """The task's validation part and (when stacking) its folds, before any training, so
        that a task too small for them fails at once and by name."""
        try:
            if self.early_stopping_rounds:
                tf.fit_rows, tf.val_rows = validation_split(tf.enc, tf.task.kind, groups,
                                                            _seed(self.seed, index, -1))
            else:
                tf.fit_rows, tf.val_rows = tf.enc.labelled, None
            if not stacked:
                return
            seed = _seed(self.seed, index, 99)
            if self.aligned:
                tf.folds = aligned_folds(tf, self.n_folds, groups, seed)
            else:
                rows = tf.enc.labelled
                tf.folds = fold_splits(rows, tf.enc.y[rows], tf.task.kind, self.n_folds,
                                       self.cv, groups, seed)
        except ValueError as exc:
            raise ValueError(
                f"Task {tf.task.name!r}: cannot split its {len(tf.enc.labelled)} labelled rows "
                f"into an early-stopping part and folds ({exc}). Use fewer folds (n_folds or "
                "cv), more groups, or stacking='none'."
            ) from exc

    def _candidates(self, name: str, all_names: list[str]) -> list[str]:
        if self.siblings is None or name not in self.siblings:
            return [n for n in all_names if n != name]
        return [n for n in self.siblings[name] if n != name]

    def _comparison(self, tf, X, stacked_val, oof2):
        """Labels, weights and the plain and stacked predictions that selection compares."""
        if oof2 is not None:
            rows = tf.enc.labelled
            rows = rows[~np.isnan(tf.oof[rows, 0]) & ~np.isnan(oof2[rows, 0])]
            plain, stacked = tf.oof[rows], oof2[rows]
            if tf.task.kind != "multiclass":
                plain, stacked = plain[:, 0], stacked[:, 0]
            return rows, plain, stacked, "out-of-fold"
        val = tf.val_rows
        if self.aligned:  # the validation part is the first fold: its OOF is the plain model's
            plain = tf.oof[val] if tf.task.kind == "multiclass" else tf.oof[val, 0]
        else:
            plain = self._predict(tf.stage1, X, val)
        return val, plain, stacked_val, "validation"

    def _select(self, tf, X, stacked_val, oof2, cands, model, weights) -> None:
        """Keep stage 2 only if it beats the plain model by more than ``SELECTION_Z`` bootstrap
        standard errors: on out-of-fold predictions of all labelled rows for a label-scarce task,
        on the task's validation rows otherwise."""
        task = tf.task
        if tf.val_rows is None or len(tf.val_rows) == 0:
            return  # without a validation part nothing can be measured: keep the plain model
        metric = get_metric(task.metric, task.kind)
        rows, p_plain, p_stack, basis = self._comparison(tf, X, stacked_val, oof2)
        y = tf.enc.y[rows]
        wv = None if weights is None else weights[rows]
        sign = 1.0 if metric.greater_is_better else -1.0
        gain = sign * (metric(y, p_stack, wv) - metric(y, p_plain, wv))
        rng = np.random.default_rng(self.seed)
        # A stacked model that does not even beat the plain one needs no error bar.
        se = (bootstrap_gain_se(metric, y, p_stack, p_plain, wv, N_BOOTSTRAP, rng)
              if gain > 0 else float("nan"))
        tf.sibling_gain, tf.sibling_gain_se, tf.selection_basis = float(gain), se, basis
        if np.isfinite(gain) and gain > SELECTION_Z * se:
            tf.stage2 = model
            tf.siblings = list(cands)
        logger.info("task %s: sibling gain %.5f (se %.5f, %s) -> %s", task.name, gain, se,
                    basis, "stacked" if tf.siblings else "plain")

    def _affinity(self, tf, model, X2, stacked_val, cands, by_name, weights) -> None:
        """Each sibling's permutation gain for the stage-2 model on the validation rows."""
        val = tf.val_rows
        if val is None or len(val) == 0:
            tf.affinity = dict.fromkeys(cands, float("nan"))
            return
        task = tf.task
        metric = get_metric(task.metric, task.kind)
        sign = 1.0 if metric.greater_is_better else -1.0
        y = tf.enc.y[val]
        wv = None if weights is None else weights[val]
        base = metric(y, stacked_val, wv)
        rng = np.random.default_rng(self.seed + 1)
        for c in cands:
            cols = sibling_columns(by_name[c].task, by_name[c].n_classes)
            permuted = self._predict(model, X2, val, permute=cols, order=rng.permutation(len(val)))
            tf.affinity[c] = float(sign * (base - metric(y, permuted, wv)))
