"""MultiTaskBooster: gradient-boosted trees for several targets, sharing between them per task."""

from __future__ import annotations

import contextlib
import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from gbmtl._executor import ProgressBar, SequentialExecutor
from gbmtl._features import SharedFeatures
from gbmtl._labels import encode_labels, encode_with_classes
from gbmtl._links import link
from gbmtl._planning import parse_sharing, plan_fit, planned_jobs
from gbmtl._threads import LoadAwareThreads, available_cores
from gbmtl._validation import (
    as_frame_X,
    as_frame_Y,
    check_feature_values,
    check_groups,
    check_labelled_weights,
    check_predict_columns,
    check_sample_weight,
)
from gbmtl.backends import BACKENDS
from gbmtl.backends._lightgbm import SMALL_ROWS
from gbmtl.calibration import Calibrator, fit_calibrator, resolve_calibration
from gbmtl.metrics import get_metric, task_score
from gbmtl.sharing import CHOICES, SHARING_NAMES
from gbmtl.sharing._fit import TaskResult, fit_all
from gbmtl.sharing._siblings import SiblingInputs
from gbmtl.tasks import Task, resolve_tasks

__all__ = ["MultiTaskBooster"]

logger = logging.getLogger("gbmtl")

#: Calls of at most ``SMALL_ROWS`` rows (the size the LightGBM backend treats as small too),
#: from the model's :data:`ROW_SCORER_CALLS`-th such call on, are scored by a
#: :class:`gbmtl.RowScorer` built once (about 2 s for the ``gbmtl demo`` model): on one row the
#: table path costs tens of milliseconds in per-call overhead, the scorer about one, with the
#: same doubles. A one-off call on a few rows does not repay the build.
ROW_SCORER_CALLS = 10

#: A class with fewer labelled rows than this gets a warning (naming the task and the count):
#: split into folds, most fold models see two or three of its rows, or none.
MIN_CLASS_ROWS = 10


def task_predictions(tasks: list[Task], classes: dict[str, np.ndarray],
                     probabilities: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each task's prediction from its probabilities (or values): classes in the labels' own
    values, values for regression. Shared by ``predict`` and ``RowScorer``."""
    out = {}
    for t in tasks:
        p = probabilities[t.name]
        if t.kind == "binary":
            out[t.name] = classes[t.name][(p >= 0.5).astype(int)]
        elif t.kind == "multiclass":
            out[t.name] = classes[t.name][p.argmax(axis=1)]
        else:
            out[t.name] = p
    return out


def task_probabilities(tasks: list[Task], probabilities: dict[str, np.ndarray]
                       ) -> dict[str, np.ndarray]:
    """Class probabilities ``(n, n_classes)`` of each classification task."""
    out = {}
    for t in tasks:
        p = probabilities[t.name]
        if t.kind == "binary":
            out[t.name] = np.column_stack([1.0 - p, p])
        elif t.kind == "multiclass":
            out[t.name] = p
    return out


@contextlib.contextmanager
def _decision_log(verbose: int):
    """With ``verbose >= 2``, each task's sharing decision reaches stderr during the fit, even
    where the application configured no logging; the ``gbmtl`` logger is restored afterwards
    (its level and handlers are the application's, not the fit's)."""
    if verbose < 2 or logger.hasHandlers() and logger.getEffectiveLevel() <= logging.INFO:
        yield
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("gbmtl: %(message)s"))
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # an application's own handlers would print it twice
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


class MultiTaskBooster(BaseEstimator):
    """Gradient-boosted trees for several related targets on the same rows.

    Each task gets its own LightGBM or XGBoost model trained on the rows where its label is known
    (the *independent* model). Tasks may also learn from their siblings through three sharing
    mechanisms, compared per task on held-out predictions and kept only where they win beyond
    noise (see Notes and ``sharing_report_``).

    Parameters
    ----------
    tasks : None, list of Task, or dict name -> kind
        None infers one task per column of ``Y``.
    backend : {"lightgbm", "xgboost"}, default "lightgbm"
        Backend of tasks that do not name their own.
    params : dict or None
        Backend parameters shared by all tasks; a task's own ``params`` override them.
        ``n_estimators`` is the maximum number of boosting rounds (default 1000 with early
        stopping, 100 without). Tasks with at most 20,000 labelled rows start from smaller,
        regularised defaults (see :mod:`gbmtl._defaults`); any parameter given here wins.
    sharing : "auto", "none", a mechanism name, or a list of names, default "auto"
        How tasks learn from each other: ``"offset"`` (trees boost from a GLM on the siblings'
        scores), ``"stacking"`` (siblings' predictions as extra columns), ``"shared_trees"``
        (one ensemble of multi-output trees over all tasks). One name forces that mechanism on
        every task; a list makes each task choose among its independent model and those;
        ``"auto"`` chooses among all of them (shared trees only for tasks with at most 20,000
        labelled rows, on tables of at most 200,000 rows, where its cost pays); ``"none"`` keeps
        independent models. A task's own ``Task.sharing`` overrides it for that task.
    siblings : dict task -> list of task names, or None
        Tasks each task may learn from; None makes every other task a sibling.
    n_folds : int, default 5
        Folds for the out-of-fold predictions when ``cv`` is None.
    cv : int, scikit-learn splitter or None
        A number of folds (like ``n_folds``) or a splitter for the out-of-fold predictions
        (applied to each task's labelled rows). It may leave rows without a test fold (e.g.
        time-ordered splitters); their sibling inputs are then missing, which the trees handle
        natively. Fold models are averaged (``bagging``) only with the default folds.
    shared_features : scikit-learn transformer or None
        Fit once on all rows of ``X`` (never on labels) and shared by every task.
    early_stopping_rounds : int or None, default 50
        Patience of early stopping on a validation part (20 %) of each task's own labelled rows.
        None trains for ``n_estimators`` rounds on all labelled rows; nothing is then left to
        compare mechanisms on, so sharing and bagging are off.
    random_state : int, RandomState or None
        Seeds every split and model; the same value gives identical predictions.
    n_jobs : int or None
        Threads each model trains with. None (the default) adapts to the machine: before each
        model it counts the allowed cores that other processes kept busy over the last half
        second and uses the rest (at least one), because threads on busy cores spin against
        other jobs and made fits several times slower (``benchmarks/threads.py``). -1 uses all
        allowed cores regardless; a positive number is used as given. Models train one after
        another (LightGBM's booster set-up is not thread-safe). Results do not depend on it.
    verbose : int, default 0
        0 is silent; 1 shows a progress bar whose total is the fit's number of models; 2 also
        prints each task's sharing decision (through the ``gbmtl`` logger: to stderr unless the
        application already handles that logger at INFO level).
    calibration : None, "sigmoid", "isotonic", or dict task -> method
        Calibrate the probabilities of binary tasks (all of them for a method name). The
        calibrator is fit on held-out predictions of the task's final mechanism: out-of-fold
        where the task has fold models, else its early-stopping validation rows.
    bagging : "auto", True or False, default "auto"
        Predict with the average of a task's fold models (each already trained for the
        out-of-fold predictions) instead of the one model fit on 80 % of its rows, as AutoML
        tools do. ``"auto"`` bags tasks with at most 20,000 labelled rows, where a single
        model's variance costs most; predicting then costs ``n_folds`` models per mechanism.
    sharing_params : dict mechanism -> dict, or None
        Settings of a mechanism: ``{"shared_trees": {...}}`` takes XGBoost parameters of the
        shared ensemble (``n_estimators`` is its maximum number of rounds).
    stacking : {"oof", "none"} or None
        Deprecated: ``stacking="oof"`` is ``sharing=["stacking"]``, ``"none"`` is
        ``sharing="none"``.
    executor : {"local", "dask"}, default "local"
        Where the models train. ``"dask"`` sends each batch of model jobs (task x fold x
        mechanism) to the workers of the current Dask client (``distributed.get_client()``),
        shipping the table to each worker once per fit; the rest of the fit runs here, and the
        predictions equal a local fit's with the same ``random_state``. ``n_jobs`` is then
        ignored: a worker trains one model at a time on its own threads.

    Attributes
    ----------
    tasks_ : list of Task
        Tasks with kind, metric and backend filled in.
    classes_ : dict task -> ndarray
        Sorted classes of each classification task.
    sharing_report_ : DataFrame
        Per task: the mechanism chosen, why, the basis of the comparison (``"out-of-fold"`` or
        ``"validation"``), the gain of each compared mechanism over the independent model with
        its bootstrap standard error (in the task's metric, higher is better), whether the task
        predicts with bagged fold models, and its number of rounds.
    oof_predictions_ : DataFrame
        Out-of-fold predictions of the independent models for every training row (the sibling
        inputs), for tasks that have fold models; rows a task never labels are predicted by
        models that never saw them.
    task_affinity_ : DataFrame
        Rows are tasks, columns siblings: the drop in the task's validation metric (in the
        metric's own units, positive = the sibling helps) when that sibling's inputs are
        permuted, measured with the task's chosen sibling mechanism (else offset or stacking).
    calibrators_ : dict task -> Calibrator
    feature_importances_ : DataFrame
        Total gain per feature (and per sibling, ``"sibling:<task>"``) of each task's final
        model.
    feature_names_in_ : ndarray of str
    n_features_in_ : int

    Notes
    -----
    A fit (1) trains every task's independent model, early-stopped on 20 % of its labelled rows,
    and fold models at the same number of rounds, whose out-of-fold scores are the sibling
    inputs: no row's sibling input was produced by a model that saw that row's label; (2) fits
    each sharing mechanism a task compares; (3) keeps a mechanism only if its gain over the
    independent model exceeds ``z`` bootstrap standard errors (1.5 for one candidate, 2.04 for
    three: at most 6.7 % false picks where siblings carry nothing), measured on out-of-fold
    predictions of all labelled rows for tasks with at most 20,000 of them (every mechanism then
    trains fold models too), else on the validation rows. At predict time the independent models
    give the sibling inputs.
    """

    def __init__(
        self,
        tasks=None,
        backend: str = "lightgbm",
        params: dict[str, Any] | None = None,
        sharing="auto",
        siblings: dict[str, list[str]] | None = None,
        n_folds: int = 5,
        cv=None,
        shared_features=None,
        early_stopping_rounds: int | None = 50,
        random_state=None,
        n_jobs: int | None = None,
        verbose: int = 0,
        calibration=None,
        bagging="auto",
        sharing_params: dict[str, dict[str, Any]] | None = None,
        stacking: str | None = None,
        executor: str = "local",
    ):
        self.tasks = tasks
        self.backend = backend
        self.params = params
        self.sharing = sharing
        self.siblings = siblings
        self.n_folds = n_folds
        self.cv = cv
        self.shared_features = shared_features
        self.early_stopping_rounds = early_stopping_rounds
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.calibration = calibration
        self.bagging = bagging
        self.sharing_params = sharing_params
        self.stacking = stacking
        self.executor = executor

    # -- validation --------------------------------------------------------------------------------

    def _check_params(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend: expected one of {sorted(BACKENDS)}, got {self.backend!r}")
        parse_sharing(self.sharing)
        if self.stacking is not None and self.stacking not in ("oof", "none"):
            raise ValueError(f"stacking: expected 'oof' or 'none', got {self.stacking!r}")
        if self.executor not in ("local", "dask"):
            raise ValueError(f"executor: expected 'local' or 'dask', got {self.executor!r}")
        if self.bagging not in ("auto", True, False):
            raise ValueError(f"bagging: expected 'auto', True or False, got {self.bagging!r}")
        if self.sharing_params is not None:
            bad = ([] if isinstance(self.sharing_params, dict) else [self.sharing_params]) or [
                k for k, v in self.sharing_params.items()
                if k not in SHARING_NAMES or not isinstance(v, dict)]
            if bad:
                raise ValueError(
                    f"sharing_params: expected a dict mechanism -> dict of settings with "
                    f"mechanisms among {list(SHARING_NAMES)}; got {bad!r}"
                )
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

    def _sharing(self):
        """The ``sharing`` value in force, mapping the deprecated ``stacking`` onto it."""
        if self.stacking is None:
            return self.sharing
        if self.sharing != "auto":
            raise ValueError("stacking is deprecated and cannot be combined with sharing; "
                             "give sharing alone")
        new = "['stacking']" if self.stacking == "oof" else "'none'"
        warnings.warn(
            f"stacking={self.stacking!r} is deprecated and will be removed; write "
            f"sharing={new} (or leave sharing='auto' to compare every mechanism)",
            DeprecationWarning, stacklevel=3,
        )
        return ["stacking"] if self.stacking == "oof" else "none"

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

    def _n_threads(self) -> int | LoadAwareThreads:
        if self.n_jobs is None:
            return LoadAwareThreads()
        if self.n_jobs < 0:
            return available_cores()
        return int(self.n_jobs)

    # -- fit ---------------------------------------------------------------------------------------

    def fit(self, X, Y, sample_weight=None, groups=None, callbacks=None) -> MultiTaskBooster:
        """Fit every task.

        Parameters
        ----------
        X : DataFrame or array of shape (n, p)
        Y : DataFrame or array of shape (n, n_tasks) (or 1-D for one task); NaN = label unknown.
        sample_weight : array of shape (n,) or (n, n_tasks), optional
        groups : array of shape (n,), optional
            Rows of one group (e.g. a customer) stay in one fold and one side of the split.
        callbacks : list of gbmtl._executor.Callback, optional
            Told about every model job the fit runs (e.g. ``JobTimer`` for a cost breakdown).

        Returns
        -------
        self
        """
        self._check_params()
        sharing = self._sharing()
        X = as_frame_X(X)
        if len(X) == 0:
            raise ValueError("X has no rows")
        check_feature_values(X)
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
        check_labelled_weights(weights, encoded)
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
                thin = {c: int(k) for c, k in zip(classes.tolist(), counts, strict=True)
                        if k < MIN_CLASS_ROWS}
                if thin:
                    warnings.warn(
                        f"Task {t.name!r}: classes with fewer than {MIN_CLASS_ROWS} labelled rows "
                        f"{thin} (of {len(encoded[t.name].labelled)}); with {self.n_folds} folds "
                        "most models see a handful of them or none, so their probabilities are "
                        "unreliable. Label more rows, merge classes, or leave the task out.",
                        UserWarning, stacklevel=2)
        seed = (self.random_state if isinstance(self.random_state, (int, np.integer))
                else int(check_random_state(self.random_state).randint(0, 2**31 - 1)))
        self._fit_seed = int(seed)
        n_folds, cv = self.n_folds, self.cv
        if isinstance(cv, (int, np.integer)):
            n_folds, cv = int(cv), None
        if self.executor == "dask":
            from gbmtl._dask import DaskExecutor, current_client

            executor = DaskExecutor(current_client(), list(callbacks or []))
        else:
            executor = SequentialExecutor(self._n_threads(), list(callbacks or []))
        ctx = plan_fit(
            F, tasks, encoded, weights, groups, params=self.params, sharing=sharing,
            siblings=siblings, bagging=self.bagging, n_folds=int(n_folds), cv=cv,
            early_stopping_rounds=self.early_stopping_rounds, seed=int(seed),
            executor=executor, sharing_params=self.sharing_params,
        )
        progress = None
        if self.verbose:
            from tqdm.auto import tqdm

            progress = tqdm(total=planned_jobs(ctx), desc="gbmtl fit", unit="model")
            executor.callbacks.append(ProgressBar(progress))
        try:
            with _decision_log(self.verbose):
                results = fit_all(ctx)
                self._set_fitted(results, tasks, encoded, ctx, X.index)
        finally:
            if progress is not None:
                progress.close()
            if hasattr(executor, "close"):
                executor.close()
        self.calibrators_ = {}
        for name, method in calibration.items():
            self.calibrators_[name] = self._fit_calibrator(name, method, encoded[name], weights)
        return self

    def _fit_calibrator(self, name: str, method: str, enc, weights) -> Calibrator:
        """Calibrate on the final mechanism's held-out predictions (see ``calibration``)."""
        res = self._result(name)
        if res.heldout is None:
            raise ValueError(
                f"calibration of task {name!r} needs held-out predictions: use "
                "early_stopping_rounds (a validation part)"
            )
        rows, raw, source = res.heldout
        w = None if weights is None else weights[name][rows]
        return fit_calibrator(method, link("binary", raw), enc.y[rows], w, source)

    def _set_fitted(self, results: list[TaskResult], tasks: list[Task], encoded, ctx,
                    index: pd.Index) -> None:
        self.tasks_ = tasks
        self.classes_ = {t.name: encoded[t.name].classes for t in tasks
                         if encoded[t.name].classes is not None}
        self._results = results
        self._n_labelled = {t.name: len(encoded[t.name].labelled) for t in tasks}
        self._build_reports()
        cols = {}
        for res, t in zip(results, tasks, strict=True):
            if res.oof is None:
                continue
            out = link(t.kind, res.oof).reshape(len(res.oof), -1)
            if t.kind == "multiclass":
                for k, cls in enumerate(encoded[t.name].classes):
                    cols[(t.name, cls)] = out[:, k]
            else:
                cols[(t.name, None)] = out[:, 0]
        self.oof_predictions_ = pd.DataFrame(
            {self._oof_column(task, cls, cols): v for (task, cls), v in cols.items()}, index=index)

    @staticmethod
    def _oof_column(task: str, cls, cols: dict) -> str:
        """``task`` or ``task_class``; a name taken by a task (``g_a`` beside a class ``a`` of
        ``g``) keeps the class column apart with a ``[class]`` suffix instead."""
        if cls is None:
            return task
        name = f"{task}_{cls}"
        return f"{task}[{cls}]" if (name, None) in cols else name

    def _build_reports(self) -> None:
        """``sharing_report_``, ``task_affinity_`` and ``feature_importances_`` from the fit."""
        names = [t.name for t in self.tasks_]
        affinity = pd.DataFrame(np.nan, index=pd.Index(names, name="task"),
                                columns=pd.Index(names, name="sibling"))
        report = []
        for res, t in zip(self._results, self.tasks_, strict=True):
            for sib, gain in res.affinity.items():
                affinity.loc[t.name, sib] = gain
            d = res.decision
            chosen_gain, chosen_se = d.gains.get(d.mechanism, (np.nan, np.nan))
            row = {
                "task": t.name, "kind": t.kind, "backend": t.backend, "mechanism": d.mechanism,
                "decision": d.reason, "basis": d.basis, "gain": chosen_gain,
                "gain_se": chosen_se, "z": d.z,
                "siblings_information": d.information[0],
                "siblings_information_se": d.information[1],
                "siblings_used": ", ".join(res.final.siblings),
                "bagged": res.final.n_models > 1, "n_models": res.final.n_models,
                "n_labelled": self._n_labelled[t.name], "rounds": res.final.rounds,
            }
            for m in CHOICES:
                g, se = d.gains.get(m, (np.nan, np.nan))
                row[f"gain_{m}"], row[f"se_{m}"] = g, se
            report.append(row)
            logger.info("task %s: %s (%s; basis %s)", t.name, d.mechanism, d.reason,
                        d.basis or "-")
        self.task_affinity_ = affinity
        self.sharing_report_ = pd.DataFrame(report).set_index("task")
        features = list(self.shared_.columns_)
        self.feature_importances_ = pd.DataFrame(
            {res.name: res.final.feature_importance(features) for res in self._results}
        ).fillna(0.0)

    @property
    def stacking_report_(self) -> pd.DataFrame:
        """Deprecated: see ``sharing_report_``."""
        warnings.warn("stacking_report_ is deprecated; use sharing_report_", DeprecationWarning,
                      stacklevel=2)
        return self.sharing_report_

    def _result(self, name: str) -> TaskResult:
        check_is_fitted(self, "tasks_")
        for res in self._results:
            if res.name == name:
                return res
        raise ValueError(f"Unknown task {name!r}; tasks are {[t.name for t in self.tasks_]}")

    def _task(self, name: str) -> Task:
        return next(t for t in self.tasks_ if t.name == name)

    # -- predict -----------------------------------------------------------------------------------

    def _features(self, X) -> tuple[pd.DataFrame, pd.Index]:
        check_is_fitted(self, "tasks_")
        X = as_frame_X(X, list(self.feature_names_in_))
        X = check_predict_columns(X, list(self.feature_names_in_))
        check_feature_values(X)
        return self.shared_.transform(X).reset_index(drop=True), X.index

    def _sibling_inputs(self, F: pd.DataFrame, names) -> SiblingInputs:
        """Stage-1 raw scores of the tasks ``names`` for the rows of ``F``."""
        raw = {n: self._result(n).stage1.predict_raw(F) for n in names}
        return SiblingInputs(raw, {t.name: t.kind for t in self.tasks_})

    def _raw_predictions(self, F: pd.DataFrame) -> dict[str, np.ndarray]:
        """Each task's final predictions (probabilities or values), calibrated where asked."""
        if len(F) == 0:  # nothing to predict: empty outputs of the right shapes
            return {t.name: np.zeros((0, len(self.classes_[t.name])) if t.kind == "multiclass"
                                     else 0) for t in self.tasks_}
        scorer = self._row_scorer() if len(F) <= SMALL_ROWS else None
        if scorer is not None:
            return scorer._probabilities(scorer.encoded_matrix(F), prepared=True)
        needed = {s for res in self._results for s in res.final.siblings}
        inputs = self._sibling_inputs(F, needed)
        out = {}
        for res, t in zip(self._results, self.tasks_, strict=True):
            if res.final is res.stage1 and res.name in inputs.raw:
                raw = inputs.raw[res.name]
            else:
                raw = res.final.predict_raw(F, inputs)
            p = link(t.kind, raw)
            calibrator = getattr(self, "calibrators_", {}).get(res.name)
            out[res.name] = p if calibrator is None else calibrator(p)
        return out

    def _row_scorer(self):
        """The RowScorer of this fit for small calls, built from the :data:`ROW_SCORER_CALLS`-th
        one on; None before, or where the model has no such path (a shared_features
        transformer). Rebuilt when the fit or the calibrators change."""
        from gbmtl.scoring import RowScorer

        calibrators = getattr(self, "calibrators_", None)
        fitted = (self._results, calibrators, tuple(calibrators or ()))
        state = self.__dict__.get("_small_calls")
        if (state is None or state["fitted"][0] is not fitted[0]
                or state["fitted"][1] is not fitted[1] or state["fitted"][2] != fitted[2]):
            state = self.__dict__["_small_calls"] = {"fitted": fitted, "calls": 0,
                                                     "scorer": None}
        if state["scorer"] is None:
            state["calls"] += 1
            if state["calls"] < ROW_SCORER_CALLS:
                return None
            try:
                state["scorer"] = RowScorer(self)
            except ValueError:
                state["scorer"] = False
        return state["scorer"] or None

    def __getstate__(self) -> dict:
        # The row scorer is a cache of the fitted models: rebuilt on demand, never stored.
        state = dict(super().__getstate__())
        state.pop("_small_calls", None)
        return state

    def predict(self, X) -> pd.DataFrame:
        """Predictions of every task: classes in the labels' own values, values for regression."""
        F, index = self._features(X)
        return pd.DataFrame(task_predictions(self.tasks_, self.classes_,
                                             self._raw_predictions(F)), index=index)

    def predict_proba(self, X) -> dict[str, np.ndarray]:
        """Class probabilities ``(n, n_classes)`` of each classification task, classes sorted."""
        F, _ = self._features(X)
        return task_probabilities(self.tasks_, self._raw_predictions(F))

    # -- evaluation --------------------------------------------------------------------------------

    def _labelled_scores(self, X, Y, sample_weight=None):
        """Yield (task, encoded y, predictions, weights) on each task's labelled rows."""
        F, index = self._features(X)
        Y = as_frame_Y(Y, len(F), index)
        names = [t.name for t in self.tasks_]
        missing = [n for n in names if n not in Y.columns]
        if missing:
            raise ValueError(f"Y lacks columns for tasks {missing}")
        weights = check_sample_weight(sample_weight, len(F), names)
        raw = self._raw_predictions(F)
        for t in self.tasks_:
            y = encode_with_classes(Y[t.name], self.classes_.get(t.name), t.name)
            mask = ~np.isnan(y)
            w = None if weights is None else weights[t.name][mask]
            yield t, y[mask], raw[t.name][mask], w

    def evaluate(self, X, Y, sample_weight=None) -> pd.DataFrame:
        """Each task's metric on its labelled rows of ``(X, Y)``.

        Returns
        -------
        DataFrame indexed by task with columns ``metric``, ``value``, ``n_labelled`` and
        ``score`` (the common scale of :meth:`score`).
        """
        rows = []
        for t, y, p, w in self._labelled_scores(X, Y, sample_weight):
            metric = get_metric(t.metric, t.kind)
            has = len(y) > 0
            rows.append({
                "task": t.name,
                "metric": metric.name,
                "value": metric(y, p, w) if has else np.nan,
                "n_labelled": int(len(y)),
                "score": task_score(t.kind, y, p, w) if has else np.nan,
            })
        return pd.DataFrame(rows).set_index("task")

    def task_scores(self, X, Y, sample_weight=None) -> pd.Series:
        """Per-task scores on the common scale of :func:`gbmtl.metrics.task_score`."""
        return self.evaluate(X, Y, sample_weight)["score"]

    def score(self, X, Y, sample_weight=None) -> float:
        """Weighted mean of the tasks' common-scale scores (higher is better).

        The scale is ROC AUC for binary tasks, macro one-vs-rest AUC for multiclass tasks and the
        skill score ``1 - RMSE / std(y)`` for regression; weights are the tasks' ``weight``.
        Tasks without labels in ``Y`` are left out; tasks whose labels in ``Y`` cannot be scored
        (a single class) are left out with a warning.
        """
        ev = self.evaluate(X, Y, sample_weight)
        scores = ev["score"]
        weights = pd.Series({t.name: t.weight for t in self.tasks_})
        dropped = ev.index[scores.isna() & (ev["n_labelled"] > 0)].tolist()
        if dropped:
            warnings.warn(
                f"score: tasks {dropped} have labelled rows in Y but no score (a binary or "
                "multiclass task needs at least two classes among them); they are left out of "
                "the weighted mean", UserWarning, stacklevel=2)
        ok = scores.notna() & (weights > 0)
        if not ok.any():
            raise ValueError("score: no task has labelled rows (and positive weight) in Y")
        return float((scores[ok] * weights[ok]).sum() / weights[ok].sum())

    # -- explanations ------------------------------------------------------------------------------

    def explain(self, X, task: str, class_index: int | None = None) -> pd.DataFrame:
        """Per-row feature contributions of ``task``; see :func:`gbmtl.explain.explain`."""
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
