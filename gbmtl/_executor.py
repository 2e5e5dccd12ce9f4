"""Typed model jobs and the executor that runs them.

Every model of a fit is a job: which mechanism it serves (``role``), which task, which fold
(None: the model trained on the task's fitting rows, early-stopped on its validation part), its
rows, its number of rounds and the init score it boosts from. Mechanisms only build jobs and read
their results; the executor decides where and how they run, and reports each job to callbacks
(progress, timing) instead of anyone patching the training code.

The sequential executor trains models one after another, each on ``n_threads`` threads (by
default the cores other processes leave idle, see :mod:`gbmtl._threads`):
training several LightGBM models at once from Python threads was measured 35 % faster on two
cores, but LightGBM's booster initialisation is not thread-safe and crashed the process
(segmentation fault) in about one fit in ten. Results do not depend on the thread count.

Thread contract: fits may run in several threads of one process (the tuner's ``n_jobs``, a
web server); every model's training holds :data:`TRAIN_LOCK`, so models of different fits
never train at once, while their other work (splits, predictions, scoring) overlaps. Each fit
has its own binned-data cache, so nothing else is shared between threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from gbmtl.backends import TrainData, get_backend

#: Held while a model trains (see the module docstring).
TRAIN_LOCK = threading.Lock()


class Job(Protocol):
    role: str
    task: str
    fold: int | None

    def train(self, ctx, n_threads: int) -> Any: ...


@dataclass(eq=False)
class ModelJob:
    """One task model: rows, validation rows (early stopping), rounds and init score."""

    role: str
    task: str
    fold: int | None
    rows: np.ndarray
    val_rows: np.ndarray | None
    rounds: int
    seed: int
    init_score: np.ndarray | None = None  # (table rows, outputs) raw scores to boost from
    table: pd.DataFrame | None = None  # None: the context's feature table

    def train(self, ctx, n_threads: int):
        plan = ctx.plan(self.task)
        X = ctx.X if self.table is None else self.table
        esr = ctx.early_stopping_rounds if self.val_rows is not None else None
        data = TrainData(X=X, y=plan.enc.y, rows=self.rows, weight=plan.weight,
                         val_rows=self.val_rows if esr else None, cache=ctx.cache,
                         base=None if X is ctx.X else ctx.X, init_score=self.init_score)
        return get_backend(plan.task.backend).train(
            data, kind=plan.kind, n_classes=plan.n_classes, params=dict(plan.params),
            num_boost_round=self.rounds, early_stopping_rounds=esr, seed=self.seed,
            n_threads=n_threads,
        )


class Callback:
    """Hooks around every job an executor runs; subclass and override what you need."""

    def on_start(self, job: Job) -> None:
        pass

    def on_end(self, job: Job, seconds: float) -> None:
        pass

    def on_skip(self, n_jobs: int) -> None:
        """``n_jobs`` planned models turned out not to be needed (e.g. zero extra rounds)."""


class ProgressBar(Callback):
    """One tick per job on a tqdm bar whose total is the fit's planned number of models."""

    def __init__(self, bar):
        self.bar = bar

    def on_end(self, job: Job, seconds: float) -> None:
        self.bar.update(1)

    def on_skip(self, n_jobs: int) -> None:
        self.bar.update(n_jobs)


class JobTimer(Callback):
    """Seconds of every job by role and fold, for benchmarks' cost breakdowns."""

    def __init__(self):
        self.records: list[dict[str, Any]] = []

    def on_end(self, job: Job, seconds: float) -> None:
        self.records.append({"role": job.role, "task": job.task, "fold": job.fold,
                             "seconds": seconds})

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.records, columns=["role", "task", "fold", "seconds"])


class SequentialExecutor:
    """Runs jobs one after another in this process, each on ``n_threads`` threads (a number,
    or a callable asked before each job, such as :class:`gbmtl._threads.LoadAwareThreads`)."""

    def __init__(self, n_threads: int | Callable[[], int], callbacks: Sequence[Callback] = ()):
        self.n_threads = n_threads
        self.callbacks = list(callbacks)

    def threads(self) -> int:
        return self.n_threads() if callable(self.n_threads) else self.n_threads

    def run(self, ctx, jobs: Sequence[Job]) -> list:
        out = []
        for job in jobs:
            for cb in self.callbacks:
                cb.on_start(job)
            with TRAIN_LOCK:
                start = time.perf_counter()
                out.append(job.train(ctx, self.threads()))
                seconds = time.perf_counter() - start
            for cb in self.callbacks:
                cb.on_end(job, seconds)
        return out

    def skip(self, n_jobs: int) -> None:
        for cb in self.callbacks:
            cb.on_skip(n_jobs)
