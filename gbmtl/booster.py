"""MultiTaskBooster: one gradient-boosted model per task, sharing features and sibling predictions."""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from gbmtl._features import SharedFeatures
from gbmtl._labels import encode_labels, encode_with_classes
from gbmtl._stacking import StackingEngine, TaskFit, as_feature_block, sibling_columns
from gbmtl._validation import (
    as_frame_X,
    as_frame_Y,
    check_groups,
    check_predict_columns,
    check_sample_weight,
)
from gbmtl.calibration import Calibrator, fit_calibrator, resolve_calibration
from gbmtl.metrics import get_metric, task_score
from gbmtl.tasks import Task, resolve_tasks

__all__ = ["MultiTaskBooster"]

logger = logging.getLogger("gbmtl")


class MultiTaskBooster(BaseEstimator):
    """Gradient-boosted trees for several related targets on the same rows.

    Each task gets its own LightGBM or XGBoost model trained on the rows where its label is known.
    With ``stacking="oof"`` each task's model may also see its sibling tasks' out-of-fold
    predictions; whether it does is decided per task on its own validation rows (see Notes).

    Parameters
    ----------
    tasks : None, list of Task, or dict name -> kind
        None infers one task per column of ``Y``.
    backend : {"lightgbm", "xgboost"}, default "lightgbm"
        Backend of tasks that do not name their own.
    params : dict or None
        Backend parameters shared by all tasks; a task's own ``params`` override them.
        ``n_estimators`` is the maximum number of boosting rounds (default 1000 with early
        stopping, 100 without).
    stacking : {"oof", "none"}, default "oof"
        ``"oof"`` adds sibling tasks' out-of-fold predictions as features where they help.
    siblings : dict task -> list of task names, or None
        Candidate siblings per task; None makes every other task a candidate.
    n_folds : int, default 5
        Folds for the out-of-fold predictions when ``cv`` is None.
    cv : int, scikit-learn splitter or None
        A number of folds (like ``n_folds``) or a splitter for the out-of-fold predictions (applied to each task's labelled rows). It may
        leave rows without a test fold (e.g. time-ordered splitters); their sibling features are
        then missing, which the trees handle natively.
    shared_features : scikit-learn transformer or None
        Fit once on all rows of ``X`` (never on labels) and shared by every task.
    early_stopping_rounds : int or None, default 50
        Patience of early stopping on a validation part (20 %) of each task's own labelled rows.
        None trains for ``n_estimators`` rounds on all labelled rows and disables sibling
        selection (nothing is left to measure it on), so stacking is then off.
    random_state : int, RandomState or None
        Seeds every split and model; the same value gives identical predictions.
    n_jobs : int or None
        Threads each model trains with (None or -1: all cores). Models train one after another
        (LightGBM's booster set-up is not thread-safe). Results do not depend on it.
    verbose : int, default 0
        1 shows a progress bar, 2 also logs sibling-selection decisions.
    calibration : None, "sigmoid", "isotonic", or dict task -> method
        Calibrate the probabilities of binary tasks (all of them for a method name). The
        calibrator is fit on predictions for rows the final model never trained on: the
        out-of-fold predictions when the task keeps its plain model, else its early-stopping
        validation rows. Needs ``early_stopping_rounds`` or ``stacking="oof"``.

    Attributes
    ----------
    tasks_ : list of Task
        Tasks with kind, metric and backend filled in.
    classes_ : dict task -> ndarray
        Sorted classes of each classification task.
    oof_predictions_ : DataFrame
        Out-of-fold predictions of every task for every training row (``stacking="oof"``).
    task_affinity_ : DataFrame
        Rows are tasks, columns siblings: the drop in the task's validation metric (in the
        metric's own units, positive = the sibling helps) when that sibling's predictions are
        permuted. Measured on training data only.
    calibrators_ : dict task -> Calibrator
        Fitted calibrators of the calibrated tasks (see ``calibration``).
    stacking_report_ : DataFrame
        Per task: the siblings used, the validation gain of stacking over the plain model, its
        bootstrap standard error (NaN where stacking did not beat the plain model at all), what
        the decision rested on (``"validation"`` rows or ``"out-of-fold"`` predictions), and
        the number of boosting rounds kept.
    feature_importances_ : DataFrame
        Total gain per feature (rows, sibling features included) and task (columns).
    feature_names_in_ : ndarray of str
    n_features_in_ : int

    Notes
    -----
    Fit runs in stages: (1) a plain model per task, early-stopped on 20 % of its labelled rows;
    (2) with stacking, K fold models per task give out-of-fold predictions, so no row's sibling
    feature was produced by a model that saw that row's label; (3) a stacked model per task on
    the same rows; it replaces the plain model only when its gain exceeds 1.5 bootstrap standard
    errors: measured on the validation rows, or, for tasks with at most 20,000 labelled rows, on
    out-of-fold predictions of all labelled rows (K more stage-2 fits on the same folds), since
    a small validation part cannot show a label-scarce task's gain beyond noise. At predict time the plain models give the sibling features.
    """

    def __init__(
        self,
        tasks=None,
        backend: str = "lightgbm",
        params: dict[str, Any] | None = None,
        stacking: str = "oof",
        siblings: dict[str, list[str]] | None = None,
        n_folds: int = 5,
        cv=None,
        shared_features=None,
        early_stopping_rounds: int | None = 50,
        random_state=None,
        n_jobs: int | None = None,
        verbose: int = 0,
        calibration=None,
    ):
        self.tasks = tasks
        self.backend = backend
        self.params = params
        self.stacking = stacking
        self.siblings = siblings
        self.n_folds = n_folds
        self.cv = cv
        self.shared_features = shared_features
        self.early_stopping_rounds = early_stopping_rounds
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.calibration = calibration

    # -- validation --------------------------------------------------------------------------------

    def _check_params(self) -> None:
        if self.backend not in ("lightgbm", "xgboost"):
            raise ValueError(f"backend: expected 'lightgbm' or 'xgboost', got {self.backend!r}")
        if self.stacking not in ("oof", "none"):
            raise ValueError(f"stacking: expected 'oof' or 'none', got {self.stacking!r}")
        if not isinstance(self.n_folds, (int, np.integer)) or self.n_folds < 2:
            raise ValueError(f"n_folds: expected an integer >= 2, got {self.n_folds!r}")
        cv_ok = (self.cv is None
                 or (isinstance(self.cv, (int, np.integer)) and self.cv >= 2)
                 or (not isinstance(self.cv, str) and hasattr(self.cv, "split")))
        if not cv_ok:
            raise ValueError(
                "cv: expected None, a number of folds >= 2, or a scikit-learn splitter with a "
                f"split() method; got {self.cv!r}"
            )
        if self.early_stopping_rounds is not None and (
            not isinstance(self.early_stopping_rounds, (int, np.integer))
            or self.early_stopping_rounds < 1
        ):
            raise ValueError(
                f"early_stopping_rounds: expected None or an integer >= 1, "
                f"got {self.early_stopping_rounds!r}"
            )
        if self.params is not None and not isinstance(self.params, dict):
            raise ValueError(f"params: expected a dict or None, got {type(self.params).__name__}")
        if self.n_jobs is not None and (not isinstance(self.n_jobs, (int, np.integer))
                                        or self.n_jobs == 0):
            raise ValueError(f"n_jobs: expected None, -1 or a positive integer, got {self.n_jobs!r}")

    def _check_siblings(self, names: list[str]) -> dict[str, list[str]] | None:
        if self.siblings is None:
            return None
        if not isinstance(self.siblings, dict):
            raise ValueError("siblings: expected None or a dict task -> list of sibling tasks")
        for task, sibs in self.siblings.items():
            if task not in names:
                raise ValueError(f"siblings: unknown task {task!r}; tasks are {names}")
            unknown = [s for s in sibs if s not in names]
            if unknown:
                raise ValueError(f"siblings[{task!r}]: unknown sibling tasks {unknown}")
        return {k: list(v) for k, v in self.siblings.items()}

    def _n_threads(self) -> int:
        cores = os.cpu_count() or 1
        if self.n_jobs is None or self.n_jobs < 0:
            return cores
        return int(self.n_jobs)

    # -- fit ---------------------------------------------------------------------------------------

    def fit(self, X, Y, sample_weight=None, groups=None) -> MultiTaskBooster:
        """Fit every task.

        Parameters
        ----------
        X : DataFrame or array of shape (n, p)
        Y : DataFrame or array of shape (n, n_tasks) (or 1-D for one task); NaN = label unknown.
        sample_weight : array of shape (n,) or (n, n_tasks), optional
        groups : array of shape (n,), optional
            Rows of one group (e.g. a customer) stay in one fold and one side of the split.

        Returns
        -------
        self
        """
        self._check_params()
        X = as_frame_X(X)
        if len(X) == 0:
            raise ValueError("X has no rows")
        Y = as_frame_Y(Y, len(X), X.index)
        tasks = resolve_tasks(self.tasks, Y, self.backend)
        names = [t.name for t in tasks]
        siblings = self._check_siblings(names)
        calibration = resolve_calibration(self.calibration, tasks)
        weights = check_sample_weight(sample_weight, len(X), names)
        groups = check_groups(groups, len(X))

        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.shared_ = SharedFeatures(self.shared_features)
        F = self.shared_.fit_transform(X).reset_index(drop=True)

        encoded = {t.name: encode_labels(Y[t.name], t.kind) for t in tasks}
        for t in tasks:
            classes = encoded[t.name].classes
            if classes is not None:
                counts = np.bincount(encoded[t.name].y[encoded[t.name].labelled].astype(int))
                rare = classes[counts < 2]
                if len(rare):
                    raise ValueError(
                        f"Task {t.name!r}: classes {rare.tolist()} have fewer than 2 labelled "
                        "rows; drop or merge them"
                    )
        seed = (self.random_state if isinstance(self.random_state, (int, np.integer))
                else int(check_random_state(self.random_state).randint(0, 2**31 - 1)))
        stacking = self.stacking if self.early_stopping_rounds else "none"
        n_folds, cv = self.n_folds, self.cv
        if isinstance(cv, (int, np.integer)):
            n_folds, cv = int(cv), None
        engine = StackingEngine(
            params=dict(self.params or {}),
            stacking=stacking,
            siblings=siblings,
            n_folds=n_folds,
            cv=cv,
            early_stopping_rounds=self.early_stopping_rounds,
            seed=int(seed),
            n_jobs=self._n_threads(),
        )
        progress = None
        if self.verbose:
            from tqdm.auto import tqdm

            n_splits = cv.get_n_splits() if cv is not None and hasattr(
                cv, "get_n_splits") else n_folds
            progress = tqdm(total=engine.n_steps(len(tasks), n_splits), desc="gbmtl fit",
                            unit="model")
            engine.progress = progress
            if self.verbose > 1:
                logging.getLogger("gbmtl").setLevel(logging.INFO)
        try:
            fits = engine.fit(F, tasks, encoded, weights, groups)
        finally:
            if progress is not None:
                progress.close()
        self._set_fitted(fits, tasks, X.index)
        self.calibrators_ = {
            name: self._fit_calibrator(self._fit_of(name), method, weights, F)
            for name, method in calibration.items()
        }
        return self

    def _fit_calibrator(self, tf: TaskFit, method: str, weights, F: pd.DataFrame) -> Calibrator:
        """Calibrate on held-out predictions: OOF for a plain model, else validation rows."""
        w = None if weights is None else weights[tf.task.name]
        if not tf.siblings and tf.oof is not None:
            rows = tf.enc.labelled[~np.isnan(tf.oof[tf.enc.labelled, 0])]
            p, source = tf.oof[rows, 0], "out-of-fold predictions"
        elif tf.val_rows is not None and len(tf.val_rows):
            rows = tf.val_rows
            # The sibling features of these rows as stage 2 saw them in training: out-of-fold.
            F = F.iloc[rows].reset_index(drop=True)
            blocks = [as_feature_block(self._fit_of(s).oof[rows], self._sibling_cols(s))
                      for s in tf.siblings]
            p = tf.final.predict(pd.concat([F] + blocks, axis=1))
            source = "early-stopping validation rows"
        else:
            raise ValueError(
                f"calibration of task {tf.task.name!r} needs held-out predictions: use "
                "early_stopping_rounds (a validation part) or stacking='oof'"
            )
        return fit_calibrator(method, p, tf.enc.y[rows], None if w is None else w[rows], source)

    def _set_fitted(self, fits: list[TaskFit], tasks: list[Task], index: pd.Index) -> None:
        self.tasks_ = tasks
        self.classes_ = {tf.task.name: tf.enc.classes for tf in fits if tf.enc.classes is not None}
        self._fits = fits
        names = [t.name for t in tasks]
        affinity = pd.DataFrame(np.nan, index=pd.Index(names, name="task"),
                                columns=pd.Index(names, name="sibling"))
        report = []
        for tf in fits:
            for sib, gain in tf.affinity.items():
                affinity.loc[tf.task.name, sib] = gain
            report.append({
                "task": tf.task.name,
                "kind": tf.task.kind,
                "backend": tf.task.backend,
                "siblings_used": ", ".join(tf.siblings),
                "stacking_gain": tf.sibling_gain,
                "gain_se": tf.sibling_gain_se,
                "selection_basis": tf.selection_basis,
                "n_labelled": len(tf.enc.labelled),
                "rounds": tf.final.best_iteration,
            })
        self.task_affinity_ = affinity
        self.stacking_report_ = pd.DataFrame(report).set_index("task")
        if all(tf.oof is not None for tf in fits):
            self.oof_predictions_ = self._oof_frame(fits, index)
        else:
            self.oof_predictions_ = pd.DataFrame(index=index)
        self.feature_importances_ = self._importances(fits)

    def _oof_frame(self, fits: list[TaskFit], index: pd.Index) -> pd.DataFrame:
        cols = {}
        for tf in fits:
            if tf.task.kind == "multiclass":
                for k, cls in enumerate(tf.enc.classes):
                    cols[f"{tf.task.name}_{cls}"] = tf.oof[:, k]
            else:
                cols[tf.task.name] = tf.oof[:, 0]
        return pd.DataFrame(cols, index=index)

    def _importances(self, fits: list[TaskFit]) -> pd.DataFrame:
        series = {}
        for tf in fits:
            names = list(self.shared_.columns_) + [
                c for s in tf.siblings for c in self._sibling_cols(s)
            ]
            series[tf.task.name] = pd.Series(tf.final.feature_importance(), index=names)
        return pd.DataFrame(series).fillna(0.0)

    def _sibling_cols(self, name: str) -> list[str]:
        tf = self._fit_of(name)
        return sibling_columns(tf.task, tf.n_classes)

    def _fit_of(self, name: str) -> TaskFit:
        for tf in self._fits:
            if tf.task.name == name:
                return tf
        raise ValueError(f"Unknown task {name!r}; tasks are {[t.name for t in self.tasks_]}")

    # -- predict -----------------------------------------------------------------------------------

    def _features(self, X) -> tuple[pd.DataFrame, pd.Index]:
        check_is_fitted(self, "tasks_")
        X = as_frame_X(X, list(self.feature_names_in_))
        X = check_predict_columns(X, list(self.feature_names_in_))
        return self.shared_.transform(X).reset_index(drop=True), X.index

    def _sibling_block(self, F: pd.DataFrame, name: str) -> pd.DataFrame:
        """Stage-1 predictions of task ``name`` as sibling-feature columns."""
        return as_feature_block(self._fit_of(name).stage1.predict(F), self._sibling_cols(name))

    def _raw_predictions(self, F: pd.DataFrame) -> dict[str, np.ndarray]:
        """Stage-1 predictions of every task needed as a sibling, then each task's final one.

        Calibrated tasks come out calibrated."""
        needed = {s for tf in self._fits for s in tf.siblings}
        stage1 = {tf.task.name: tf.stage1.predict(F) for tf in self._fits}
        out = {}
        blocks = {
            name: as_feature_block(stage1[name], self._sibling_cols(name)) for name in needed
        }
        for tf in self._fits:
            if tf.siblings:
                X2 = pd.concat([F] + [blocks[s] for s in tf.siblings], axis=1)
                out[tf.task.name] = tf.stage2.predict(X2)
            else:
                out[tf.task.name] = stage1[tf.task.name]
            calibrator = getattr(self, "calibrators_", {}).get(tf.task.name)
            if calibrator is not None:
                out[tf.task.name] = calibrator(out[tf.task.name])
        return out

    def predict(self, X) -> pd.DataFrame:
        """Predictions of every task: classes in the labels' own values, values for regression."""
        F, index = self._features(X)
        raw = self._raw_predictions(F)
        out = {}
        for tf in self._fits:
            p = raw[tf.task.name]
            if tf.task.kind == "binary":
                out[tf.task.name] = tf.enc.classes[(p >= 0.5).astype(int)]
            elif tf.task.kind == "multiclass":
                out[tf.task.name] = tf.enc.classes[p.argmax(axis=1)]
            else:
                out[tf.task.name] = p
        return pd.DataFrame(out, index=index)

    def predict_proba(self, X) -> dict[str, np.ndarray]:
        """Class probabilities ``(n, n_classes)`` of each classification task, classes sorted."""
        F, _ = self._features(X)
        raw = self._raw_predictions(F)
        out = {}
        for tf in self._fits:
            p = raw[tf.task.name]
            if tf.task.kind == "binary":
                out[tf.task.name] = np.column_stack([1.0 - p, p])
            elif tf.task.kind == "multiclass":
                out[tf.task.name] = p
        return out

    # -- evaluation --------------------------------------------------------------------------------

    def _labelled_scores(self, X, Y, sample_weight=None):
        """Yield (task fit, encoded y, raw predictions, weights) on each task's labelled rows."""
        F, index = self._features(X)
        Y = as_frame_Y(Y, len(F), index)
        names = [t.name for t in self.tasks_]
        missing = [n for n in names if n not in Y.columns]
        if missing:
            raise ValueError(f"Y lacks columns for tasks {missing}")
        weights = check_sample_weight(sample_weight, len(F), names)
        raw = self._raw_predictions(F)
        for tf in self._fits:
            y = encode_with_classes(Y[tf.task.name], tf.enc.classes, tf.task.name)
            mask = ~np.isnan(y)
            w = None if weights is None else weights[tf.task.name][mask]
            yield tf, y[mask], raw[tf.task.name][mask], w

    def evaluate(self, X, Y, sample_weight=None) -> pd.DataFrame:
        """Each task's metric on its labelled rows of ``(X, Y)``.

        Returns
        -------
        DataFrame indexed by task with columns ``metric``, ``value``, ``n_labelled`` and
        ``score`` (the common scale of :meth:`score`).
        """
        rows = []
        for tf, y, p, w in self._labelled_scores(X, Y, sample_weight):
            metric = get_metric(tf.task.metric, tf.task.kind)
            has = len(y) > 0
            rows.append({
                "task": tf.task.name,
                "metric": metric.name,
                "value": metric(y, p, w) if has else np.nan,
                "n_labelled": int(len(y)),
                "score": task_score(tf.task.kind, y, p, w) if has else np.nan,
            })
        return pd.DataFrame(rows).set_index("task")

    def task_scores(self, X, Y, sample_weight=None) -> pd.Series:
        """Per-task scores on the common scale of :func:`gbmtl.metrics.task_score`."""
        return self.evaluate(X, Y, sample_weight)["score"]

    def score(self, X, Y, sample_weight=None) -> float:
        """Weighted mean of the tasks' common-scale scores (higher is better).

        The scale is ROC AUC for binary tasks, macro one-vs-rest AUC for multiclass tasks and the
        skill score ``1 - RMSE / std(y)`` for regression; weights are the tasks' ``weight``.
        Tasks without labels in ``Y`` are left out.
        """
        scores = self.task_scores(X, Y, sample_weight)
        weights = pd.Series({t.name: t.weight for t in self.tasks_})
        ok = scores.notna() & (weights > 0)
        if not ok.any():
            raise ValueError("score: no task has labelled rows (and positive weight) in Y")
        return float((scores[ok] * weights[ok]).sum() / weights[ok].sum())

    # -- explanations ------------------------------------------------------------------------------

    def explain(self, X, task: str, class_index: int | None = None) -> pd.DataFrame:
        """Per-row feature contributions (native SHAP) of ``task``; see :func:`gbmtl.explain.explain`."""
        from gbmtl.explain import explain

        return explain(self, X, task, class_index)

    def reason_codes(self, X, task: str, k: int = 4, include_siblings: bool = False,
                     class_index: int | None = None) -> pd.DataFrame:
        """Top-``k`` features pushing each row's score up; see :func:`gbmtl.explain.reason_codes`."""
        from gbmtl.explain import reason_codes

        return reason_codes(self, X, task, k, include_siblings, class_index)

    # -- persistence -------------------------------------------------------------------------------

    def save(self, path) -> None:
        """Save to a directory: a JSON manifest plus each booster in its native format."""
        from gbmtl.persistence import save_model

        save_model(self, path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.target_tags.multi_output = True
        tags.target_tags.required = True
        return tags
