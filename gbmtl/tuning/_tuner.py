"""MultiTaskTuner: joint hyperparameter search over every task of a MultiTaskBooster with Optuna."""

from __future__ import annotations

import logging
import numbers
import os
import socket
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import GroupKFold, KFold
from sklearn.utils.validation import check_is_fitted

from gbmtl._threads import available_cores
from gbmtl._validation import as_frame_X, as_frame_Y
from gbmtl.tasks import Task, resolve_tasks
from gbmtl.tuning._search_space import (
    build_estimator,
    check_names,
    default_search_space,
    effective_params,
    expand_search_space,
    suggest,
)
from gbmtl.tuning._storage import make_storage, storage_kind

__all__ = ["MultiTaskTuner"]

logger = logging.getLogger("gbmtl")

OBJECTIVES = ("weighted", "pareto")
#: Study user attribute recording the task names, checked when a study is resumed.
_STUDY_TASKS_ATTR = "gbmtl_tasks"


class MultiTaskTuner(BaseEstimator):
    """Tune the hyperparameters of all tasks of a multi-task booster jointly.

    Every trial samples per-task parameters (``"<task>/num_leaves"``) and shared ones
    (``"<task>/sharing"``, ``"<task>/use_siblings"``), fits the booster on ``cv`` folds and scores every
    task on its validation fold on the common scale of :func:`gbmtl.metrics.task_score` (AUC for
    binary tasks, macro one-vs-rest AUC for multiclass, ``1 - RMSE/std(y)`` for regression;
    unlabelled rows skipped).

    Parameters
    ----------
    estimator : MultiTaskBooster or None
        The template; its tasks, backend and other parameters are kept unless the search space
        sets them. None uses ``MultiTaskBooster()``.
    n_trials : int, default 50
        Finished (COMPLETE or PRUNED) trials the *study* should hold when ``fit`` returns. With a
        persistent storage, re-running the same ``fit`` resumes the study and runs only the
        trials still missing; failed trials do not count. Several workers on one study stop
        once the total is reached (it may be exceeded by trials that were already running).
    timeout : float or None
        Stop starting new trials after this many seconds.
    objective : {"weighted", "pareto"}, default "weighted"
        ``"weighted"`` maximises the weighted mean of the per-task CV scores (the weighted sum
        with weights normalised to sum to one). ``"pareto"`` runs a multi-objective study, one
        objective per task, and exposes the Pareto front.
    weights : dict task -> float or None
        Task weights of the weighted score; default the tasks' own ``Task.weight``. In Pareto
        mode they only choose ``best_params_`` among the Pareto-optimal trials.
    search_space : dict, callable or None
        A dict mapping names to Optuna distributions (``FloatDistribution``,
        ``IntDistribution``, ``CategoricalDistribution``) or fixed values, or a callable
        ``(trial, tasks) -> dict`` that calls ``trial.suggest_*`` and returns the values.
        Names: ``"<task>/<param>"`` (one task's backend parameter), ``"*/<param>"`` (sampled
        separately for every task), ``"<task>/use_siblings"`` (bool), an estimator parameter
        (``"sharing"``, ``"n_folds"``) or another name (a backend parameter shared by all
        tasks). None uses :func:`default_search_space` for the estimator's backend (each task
        gets the space of its own backend).
    cv : int, splitter or iterable of (train, test) index pairs, default 3
        Folds scoring each trial. An int gives shuffled ``KFold`` (``GroupKFold`` with
        ``groups``). The folds are drawn once per ``fit`` and shared by all its trials.
    storage : None, str or optuna storage
        None (in memory), ``"sqlite:///file.db"``, ``"journal:///file.log"`` (or a path ending
        in ``.log`` / ``.journal``) for several processes on one machine,
        ``"postgresql://..."`` for several machines; see :func:`gbmtl.tuning.make_storage`
        for heartbeats and the retry of trials of killed workers.
    study_name : str or None
        Name of the study in ``storage``; an existing study of that name is resumed.
    sampler : optuna.samplers.BaseSampler or None
        None uses ``TPESampler(seed=random_state, constant_liar=True)``.
    pruner : optuna.pruners.BasePruner or None
        Stops bad trials after a fold: the running mean of the weighted score is reported after
        each fold (``step`` = fold index). None disables pruning. Optuna prunes single-objective
        studies only, so in Pareto mode a pruner is ignored with a warning.
    n_jobs : int, default 1
        Trials run in parallel threads of this process (-1: one per core). For several processes
        use a shared storage and start the same command several times.
    random_state : int or None
        Seeds the folds and the default sampler. With a persistent storage the sampler seed is
        mixed with the process id and the start time, so that cooperating or resumed workers do
        not propose the same parameters (such runs are not reproducible trial for trial).
    show_progress_bar : bool, default False
        Optuna's progress bar over trials.
    refit : bool, default True
        Refit the estimator with ``best_params_`` on all rows as ``best_estimator_``.

    Attributes
    ----------
    study_ : optuna.Study
    tasks_ : list of Task
        The tasks with kinds resolved.
    weights_ : pandas.Series
        Normalised task weights of the weighted score.
    best_trial_ : optuna.trial.FrozenTrial
    best_params_ : dict
        Namespaced parameters of the best trial (what :func:`~gbmtl.tuning.build_estimator`
        takes), without those that had no effect (``effective_params``: no ``use_siblings``
        next to a sharing of ``"none"``). In Pareto mode: the Pareto-optimal trial with the
        best weighted score.
    best_score_ : float
        Weighted CV score of that trial.
    best_task_scores_ : pandas.Series
        Its per-task CV scores.
    best_estimator_ : MultiTaskBooster
        Refit on all rows with ``best_params_`` (when ``refit``); models are never stored in
        the study.
    pareto_front_ : pandas.DataFrame
        Pareto mode only: one row per Pareto-optimal trial with ``number``, ``weighted_score``,
        ``score_<task>`` columns and the parameters, best weighted score first.

    Notes
    -----
    Each trial records user attributes ``score_<task>``, ``weighted_score``, ``fit_seconds``,
    ``fold_scores``, ``params`` and ``worker`` (host:pid); they appear in
    :meth:`trials_dataframe`.

    Examples
    --------
    >>> from gbmtl import MultiTaskBooster
    >>> from gbmtl.tuning import MultiTaskTuner
    >>> tuner = MultiTaskTuner(MultiTaskBooster(params={"n_estimators": 50}), n_trials=20)
    >>> tuner.fit(X, Y).best_params_  # doctest: +SKIP
    """

    def __init__(
        self,
        estimator=None,
        n_trials: int = 50,
        timeout: float | None = None,
        objective: str = "weighted",
        weights: dict[str, float] | None = None,
        search_space: dict[str, Any] | Callable | None = None,
        cv=3,
        storage=None,
        study_name: str | None = None,
        sampler=None,
        pruner=None,
        n_jobs: int = 1,
        random_state: int | None = None,
        show_progress_bar: bool = False,
        refit: bool = True,
    ):
        self.estimator = estimator
        self.n_trials = n_trials
        self.timeout = timeout
        self.objective = objective
        self.weights = weights
        self.search_space = search_space
        self.cv = cv
        self.storage = storage
        self.study_name = study_name
        self.sampler = sampler
        self.pruner = pruner
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.show_progress_bar = show_progress_bar
        self.refit = refit

    # -- validation --------------------------------------------------------------------------------

    def _check_params(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective: expected one of {OBJECTIVES}, got {self.objective!r}")
        if (
            not isinstance(self.n_trials, numbers.Integral)
            or isinstance(self.n_trials, bool)
            or self.n_trials < 1
        ):
            raise ValueError(f"n_trials: expected an integer >= 1, got {self.n_trials!r}")
        if self.timeout is not None and not (
            isinstance(self.timeout, numbers.Real) and self.timeout > 0
        ):
            raise ValueError(f"timeout: expected None or a positive number, got {self.timeout!r}")
        if isinstance(self.cv, numbers.Integral) and self.cv < 2:
            raise ValueError(f"cv: expected an integer >= 2, got {self.cv!r}")
        if not isinstance(self.n_jobs, numbers.Integral) or self.n_jobs == 0:
            raise ValueError(f"n_jobs: expected -1 or a positive integer, got {self.n_jobs!r}")
        if self.search_space is not None and not (
            isinstance(self.search_space, Mapping) or callable(self.search_space)
        ):
            raise ValueError(
                "search_space: expected None, a dict of distributions or a callable "
                f"(trial, tasks) -> dict, got {type(self.search_space).__name__}"
            )
        if self.weights is not None and not isinstance(self.weights, Mapping):
            raise ValueError(f"weights: expected a dict task -> weight, got {self.weights!r}")
        storage_kind(self.storage)  # raises on a string it cannot interpret

    def _task_weights(self, tasks: list[Task]) -> pd.Series:
        names = [t.name for t in tasks]
        given = dict(self.weights) if self.weights is not None else {}
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise ValueError(f"weights: unknown tasks {unknown}; tasks are {names}")
        raw = pd.Series({t.name: float(given.get(t.name, t.weight)) for t in tasks})
        if (raw < 0).any() or not np.isfinite(raw).all() or raw.sum() <= 0:
            raise ValueError(
                f"weights: expected finite non-negative weights, not all zero; got {raw.to_dict()}"
            )
        return raw / raw.sum()

    def _space(self, estimator, tasks: list[Task]):
        if callable(self.search_space) and not isinstance(self.search_space, Mapping):
            return self.search_space
        if self.search_space is None:
            space: dict[str, Any] = {}
            for task in tasks:
                backend = task.backend or estimator.backend
                for name, dist in default_search_space(backend, len(tasks)).items():
                    prefix, _, param = name.rpartition("/")
                    space[f"{task.name}/{param}" if prefix else name] = dist
            return expand_search_space(space, tasks)
        return expand_search_space(self.search_space, tasks)

    def _splits(self, X: pd.DataFrame, groups) -> list[tuple[np.ndarray, np.ndarray]]:
        cv = self.cv
        if isinstance(cv, numbers.Integral):
            if groups is not None:
                cv = GroupKFold(n_splits=int(cv))
            else:
                seed = self.random_state
                cv = KFold(n_splits=int(cv), shuffle=True, random_state=seed)
        if hasattr(cv, "split"):
            splits = list(cv.split(X, None, groups))
        else:
            splits = list(cv)
        if not splits:
            raise ValueError("cv: produced no folds")
        return [(np.asarray(tr), np.asarray(te)) for tr, te in splits]

    # -- the study ---------------------------------------------------------------------------------

    def _create_study(self, names: list[str]):
        import optuna

        storage = make_storage(self.storage)
        n_objectives = 1 if self.objective == "weighted" else len(names)
        directions = ["maximize"] * n_objectives
        study = optuna.create_study(
            storage=storage,
            study_name=self.study_name,
            directions=directions,
            sampler=self._sampler(storage, n_objectives),
            pruner=self._pruner(),
            load_if_exists=True,
        )
        if len(study.directions) != n_objectives:
            raise ValueError(
                f"study {study.study_name!r} has {len(study.directions)} objectives but "
                f"objective={self.objective!r} needs {n_objectives}; use another study_name"
            )
        recorded = study.user_attrs.get(_STUDY_TASKS_ATTR)
        if recorded is None:
            study.set_user_attr(_STUDY_TASKS_ATTR, names)
            study.set_user_attr("gbmtl_objective", self.objective)
            if n_objectives > 1:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    study.set_metric_names(names)  # trials_dataframe: values_<task> columns
        elif list(recorded) != names:
            raise ValueError(
                f"study {study.study_name!r} was tuned for tasks {recorded}, not {names}; "
                "use another study_name"
            )
        return study

    def _sampler(self, storage, n_objectives: int):
        import optuna

        if self.sampler is not None:
            return self.sampler
        seed = self.random_state
        if seed is not None and storage is not None:
            seed = int(np.random.SeedSequence([int(seed), os.getpid(), time.time_ns() % 2**32])
                       .generate_state(1)[0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, constant_liar=True)

    def _pruner(self):
        import optuna

        if self.pruner is None:
            return optuna.pruners.NopPruner()
        if self.objective == "pareto":
            warnings.warn(
                "MultiTaskTuner: Optuna prunes single-objective studies only; the pruner is "
                "ignored with objective='pareto'",
                UserWarning,
                stacklevel=3,
            )
            return optuna.pruners.NopPruner()
        return self.pruner

    # -- fit ---------------------------------------------------------------------------------------

    def _trial_threads(self) -> int:
        cores = available_cores()
        return cores if self.n_jobs == -1 else min(int(self.n_jobs), cores)

    def _thread_budget(self, estimator):
        """Trials in parallel threads share the cores: each trial's models get
        ``cores // n_jobs`` threads (at least one), so that the total stays at the core count.
        Model training itself is serialised across threads (see ``gbmtl._executor``)."""
        parallel = self._trial_threads()
        if parallel <= 1:
            return estimator
        cores = available_cores()
        budget = max(1, cores // parallel)
        own = estimator.get_params(deep=False).get("n_jobs")
        if own is not None and own > 0 and own * parallel > cores:
            warnings.warn(
                f"n_jobs={self.n_jobs} trials in parallel with estimator n_jobs={own} would run "
                f"{own * parallel} threads on {cores} cores; each trial's models get "
                f"{budget} instead", UserWarning, stacklevel=3)
        return clone(estimator).set_params(n_jobs=budget)

    def _check_space_names(self, space, tasks, estimator) -> None:
        """Refuse a search space over a parameter the backends do not know, before any trial
        spends time on it (a misspelled name would otherwise be tuned as noise)."""
        if not isinstance(space, Mapping):
            return
        from gbmtl._params import check_params
        from gbmtl.tuning._search_space import SHARING, USE_SIBLINGS, split_name

        own = set(estimator.get_params(deep=False))
        by_name = {t.name: t for t in tasks}
        for name in space:
            task, param = split_name(name)
            if param in (SHARING, USE_SIBLINGS) or ":" in param or (task is None and param in own):
                continue
            targets = [by_name[task]] if task in by_name else tasks
            for t in targets:
                check_params(f"search_space[{name!r}]", None, t.backend or estimator.backend,
                             {param: 1.0})

    def fit(self, X, Y, sample_weight=None, groups=None) -> MultiTaskTuner:
        """Run (or resume) the study, then refit the best parameters on all rows.

        Parameters
        ----------
        X : DataFrame or array of shape (n, p)
        Y : DataFrame of shape (n, n_tasks); NaN = label unknown.
        sample_weight : array of shape (n,) or (n, n_tasks), optional
            Passed to every fit (not to scoring).
        groups : array of shape (n,), optional
            Keeps a group's rows in one CV fold, and is passed to every fit.

        Returns
        -------
        self
        """
        import optuna

        self._check_params()
        estimator = self.estimator
        if estimator is None:
            from gbmtl.booster import MultiTaskBooster

            estimator = MultiTaskBooster()
        X = as_frame_X(X)
        Y = as_frame_Y(Y, len(X), X.index)
        Y.index = X.index  # as_frame_Y resets it; the folds slice X and Y together
        tasks = resolve_tasks(estimator.tasks, Y, estimator.backend)
        names = [t.name for t in tasks]
        weights = self._task_weights(tasks)
        if isinstance(self.search_space, Mapping):
            check_names(self.search_space, names)
        space = self._space(estimator, tasks)
        self._check_space_names(space, tasks, estimator)
        splits = self._splits(X, groups)
        _check_class_coverage(tasks, Y, splits)
        estimator = self._thread_budget(estimator)

        objective = _Objective(
            estimator=estimator,
            tasks=tasks,
            weights=weights,
            space=space,
            splits=splits,
            data=(X, Y, sample_weight, groups),
            pareto=self.objective == "pareto",
            report=self.pruner is not None and self.objective == "weighted",
        )
        study = self._create_study(names)
        counted = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        done = len(study.get_trials(deepcopy=False, states=counted))
        remaining = int(self.n_trials) - done
        if remaining > 0:
            logger.info("study %r: %d finished trials, running up to %d more",
                        study.study_name, done, remaining)
            study.optimize(
                objective,
                n_trials=remaining,
                timeout=self.timeout,
                n_jobs=int(self.n_jobs),
                callbacks=[optuna.study.MaxTrialsCallback(int(self.n_trials), states=counted)],
                show_progress_bar=self.show_progress_bar,
            )
        else:
            logger.info("study %r already holds %d finished trials", study.study_name, done)

        self.study_ = study
        self.tasks_ = tasks
        self.weights_ = weights
        self._set_best(study, names)
        if self.refit:
            self.best_estimator_ = build_estimator(estimator, tasks, self.best_params_)
            self.best_estimator_.fit(X, Y, sample_weight=sample_weight, groups=groups)
        return self

    def _set_best(self, study, names: list[str]) -> None:
        import optuna

        complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if not complete:
            raise RuntimeError(
                f"study {study.study_name!r} has no complete trial (all failed or pruned); "
                "see the log of the failed trials"
            )
        if self.objective == "weighted":
            best = study.best_trial
        else:
            front = study.best_trials
            best = max(front, key=lambda t: _finite(t.user_attrs.get("weighted_score")))
            self.pareto_front_ = _pareto_frame(front, names)
        self.best_trial_ = best
        self.best_params_ = effective_params(best.user_attrs.get("params", best.params))
        self.best_score_ = float(best.user_attrs.get("weighted_score", best.values[0]))
        self.best_task_scores_ = pd.Series(
            {n: best.user_attrs.get(f"score_{n}", np.nan) for n in names}, dtype=float
        )

    # -- results -----------------------------------------------------------------------------------

    def trials_dataframe(self, **kwargs) -> pd.DataFrame:
        """All trials of the study as a DataFrame (``optuna.Study.trials_dataframe``).

        Per-task scores are the ``user_attrs_score_<task>`` columns.
        """
        check_is_fitted(self, "study_")
        return self.study_.trials_dataframe(**kwargs)

    def _best(self):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_

    def predict(self, X) -> pd.DataFrame:
        """Predictions of ``best_estimator_``."""
        return self._best().predict(X)

    def predict_proba(self, X) -> dict[str, np.ndarray]:
        """Class probabilities of ``best_estimator_``."""
        return self._best().predict_proba(X)

    def task_scores(self, X, Y) -> pd.Series:
        """Per-task scores of ``best_estimator_`` on the common scale."""
        return self._best().task_scores(X, Y)

    def score(self, X, Y) -> float:
        """Weighted score of ``best_estimator_`` with this tuner's task weights."""
        scores = self.task_scores(X, Y)
        return float((scores * self.weights_.reindex(scores.index)).sum())


class _Objective:
    """One trial: sample, fit on each fold, score every task, report the running mean."""

    def __init__(self, *, estimator, tasks, weights, space, splits, data, pareto, report):
        self.estimator = estimator
        self.tasks = tasks
        self.names = [t.name for t in tasks]
        self.weights = weights
        self.space = space
        self.splits = splits
        self.data = data
        self.pareto = pareto
        self.report = report

    def weighted(self, scores: pd.Series) -> float:
        return float((scores.reindex(self.names) * self.weights).sum(min_count=len(self.names)))

    def __call__(self, trial):
        import optuna

        X, Y, sample_weight, groups = self.data
        params = suggest(trial, self.space, self.tasks)
        logger.info("trial %d started: %s", trial.number,
                    ", ".join(f"{k}={_plain(v)}" for k, v in params.items()))
        trial.set_user_attr("params", {k: _plain(v) for k, v in params.items()})
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        template = build_estimator(self.estimator, self.tasks, params)
        fold_scores: list[pd.Series] = []
        start = time.perf_counter()
        for step, (train, test) in enumerate(self.splits):
            est = clone(template)
            est.fit(
                X.iloc[train],
                Y.iloc[train],
                sample_weight=_take(sample_weight, train),
                groups=_take(groups, train),
            )
            fold_scores.append(est.task_scores(X.iloc[test], Y.iloc[test]).reindex(self.names))
            running = pd.DataFrame(fold_scores).mean()
            logger.info("trial %d: fold %d/%d done after %.1f s (running weighted score %.4f)",
                        trial.number, step + 1, len(self.splits), time.perf_counter() - start,
                        self.weighted(running))
            if self.report:
                value = self.weighted(running)
                if np.isfinite(value):
                    trial.report(value, step)
                if trial.should_prune():
                    self._record(trial, running, fold_scores, start)
                    raise optuna.TrialPruned(f"pruned after fold {step} (running score {value:.4f})")
        scores = pd.DataFrame(fold_scores).mean()
        self._record(trial, scores, fold_scores, start)
        logger.info("trial %d finished in %.1f s: weighted score %.4f", trial.number,
                    time.perf_counter() - start, self.weighted(scores))
        if self.pareto:
            return [float(scores[n]) for n in self.names]
        return self.weighted(scores)

    def _record(self, trial, scores: pd.Series, fold_scores, start: float) -> None:
        trial.set_user_attr("fit_seconds", round(time.perf_counter() - start, 3))
        trial.set_user_attr("weighted_score", _plain(self.weighted(scores)))
        for name in self.names:
            trial.set_user_attr(f"score_{name}", _plain(scores[name]))
        trial.set_user_attr(
            "fold_scores", [[_plain(v) for v in s.to_numpy()] for s in fold_scores]
        )


def _check_class_coverage(tasks: list[Task], Y: pd.DataFrame, splits) -> None:
    """Refuse, before any trial, folds that a classification task cannot be fit or scored on.

    Without this a thin class (2 positives in 6,000 rows) stops the sweep from inside a trial's
    fold with an error about that fold only; here the error names the task, the fold and the
    counts, and says what to change."""
    for task in tasks:
        if task.kind not in ("binary", "multiclass"):
            continue
        y = Y[task.name].to_numpy()
        known = pd.notna(y)
        classes = pd.unique(y[known])
        for k, (train, test) in enumerate(splits):
            for part, rows, need in (("training", train, 2), ("test", test, 1)):
                values = pd.Series(y[rows][known[rows]])
                counts = values.value_counts().reindex(classes, fill_value=0)
                short = counts[counts < need]
                if len(short) and (part == "training" or task.kind == "binary"):
                    total = pd.Series(y[known]).value_counts().reindex(classes).to_dict()
                    raise ValueError(
                        f"task {task.name!r}: the {part} part of tuning fold {k} has "
                        f"{short.to_dict()} labelled rows of classes that need at least {need} "
                        f"(all labelled rows: {total}); a trial could not "
                        f"{'fit' if part == 'training' else 'score'} it. Use fewer folds "
                        "(cv=2), label more rows, merge classes, or leave the task out.")


def _take(values, idx):
    if values is None:
        return None
    if isinstance(values, pd.DataFrame | pd.Series):
        return values.iloc[idx]
    return np.asarray(values)[idx]


def _plain(value):
    """A JSON-friendly Python value (storages serialise user attributes as JSON)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _finite(value) -> float:
    return float(value) if value is not None and np.isfinite(value) else -np.inf


def _pareto_frame(front, names: list[str]) -> pd.DataFrame:
    rows = []
    for t in front:
        row: dict[str, Any] = {"number": t.number,
                               "weighted_score": t.user_attrs.get("weighted_score")}
        for n, v in zip(names, t.values, strict=True):
            row[f"score_{n}"] = v
        row.update(t.user_attrs.get("params", t.params))
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame.sort_values("weighted_score", ascending=False, ignore_index=True)
