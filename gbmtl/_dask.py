"""Model-parallel fits on a Dask cluster: the fit's model jobs run on the workers.

The fit itself (splits, out-of-fold predictions, the sibling GLMs, the choice of mechanism) stays
in this process; only training moves. Each worker receives the fit's feature table, labels and
plans once per fit (``Client.scatter(..., broadcast=True)``), and the shared-trees data once per
ensemble; a job then carries only what is its own: rows, rounds, seed, init scores, and for
stacking the sibling columns it adds to the table. A worker trains one model at a time (the
same lock as in this process) on its threads. Models come back pickled and predict exactly as
the same models trained here: training does not depend on where or on how many threads it runs,
so a fit with ``executor="dask"`` gives the predictions of a local fit with the same seed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
import uuid
from collections.abc import Sequence
from typing import Any

import pandas as pd

from gbmtl._executor import TRAIN_LOCK, Callback, Job


def current_client():
    """The Dask client of this process (``distributed.get_client``), with a clear error."""
    try:
        from distributed import get_client
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError("executor='dask' needs dask.distributed: pip install "
                          "'gbmtl[dask]'") from exc
    try:
        return get_client()
    except ValueError as exc:
        raise ValueError("executor='dask' found no Dask client: create one first, e.g. "
                         "distributed.Client(LocalCluster()) or Client('tcp://scheduler:8786')"
                         ) from exc


#: Each worker's binned tables, per shipped context. The shipped context itself must stay as it
#: arrived: Dask copies it between workers, and a binned LightGBM table cannot be pickled.
_WORKER_CACHES: dict[str, dict] = {}


def _shippable_context(ctx):
    """The fit context without what stays here: the executor, caches and GLMs."""
    return dataclasses.replace(ctx, executor=None, cache={}, glms={})


#: Each worker's stage-2 tables (the shipped table plus a job's sibling columns), per shipped
#: context and content. Kept alive, so that a table's ``id`` (the binned-table cache key) is
#: never reused for another table while the fit runs.
_WORKER_TABLES: dict[str, dict[str, pd.DataFrame]] = {}


def _forget(token: str) -> None:
    _WORKER_CACHES.pop(token, None)
    _WORKER_TABLES.pop(token, None)


def _content_key(extra: pd.DataFrame) -> str:
    values = pd.util.hash_pandas_object(extra, index=False).to_numpy()
    return hashlib.sha1(values.tobytes() + repr(list(extra.columns)).encode()).hexdigest()


def _worker_threads() -> int:
    from distributed import get_worker

    return max(1, int(get_worker().state.nthreads))


def _train_remote(token: str, ctx, job, extra: tuple[str, pd.DataFrame] | None, shared_data
                  ) -> tuple[Any, float]:
    """Runs on a worker: rebuild the job's table from the shipped one and train."""
    ctx = dataclasses.replace(ctx, cache=_WORKER_CACHES.setdefault(token, {}))
    if extra is not None:
        key, block = extra
        tables = _WORKER_TABLES.setdefault(token, {})
        if key not in tables:
            tables[key] = pd.concat([ctx.X, block], axis=1)
        job = dataclasses.replace(job, table=tables[key])
    if shared_data is not None:
        job = dataclasses.replace(job, data=shared_data)
    with TRAIN_LOCK:
        start = time.perf_counter()
        model = job.train(ctx, _worker_threads())
        return _portable(model), time.perf_counter() - start


def _portable(model):
    """A trained model as plain bytes, for :func:`_rebuild` in the fitting thread.

    Dask unpickles results in threads of its own, and loading a LightGBM booster runs an OpenMP
    team in the loading thread; a team that lives on in another thread made every later
    LightGBM training in the process about 8 times slower (more OpenMP threads than cores, so
    libgomp stops spinning and every parallel region waits on the kernel). Rebuilding the
    boosters in the thread that fits keeps one team."""
    import xgboost as xgb

    from gbmtl.backends._lightgbm import LightGBMModel
    from gbmtl.backends._xgboost import XGBoostModel

    if isinstance(model, LightGBMModel):
        return ("lightgbm", model.booster.model_to_string(num_iteration=-1),
                model.best_iteration)
    if isinstance(model, XGBoostModel):
        return ("xgboost", bytes(model.booster.save_raw(raw_format="ubj")), model.best_iteration,
                model.n_outputs, model.offset)
    if isinstance(model, tuple) and model and isinstance(model[0], xgb.Booster):  # shared trees
        return ("shared_trees", bytes(model[0].save_raw(raw_format="ubj")), *model[1:])
    return ("object", model)


def _rebuild(portable):
    import lightgbm as lgb
    import xgboost as xgb

    from gbmtl.backends._lightgbm import LightGBMModel
    from gbmtl.backends._xgboost import XGBoostModel

    kind, *rest = portable
    if kind == "lightgbm":
        return LightGBMModel(lgb.Booster(model_str=rest[0]), rest[1])
    if kind in ("xgboost", "shared_trees"):
        booster = xgb.Booster(model_file=bytearray(rest[0]))
        if kind == "xgboost":
            return XGBoostModel(booster, rest[1], rest[2], rest[3])
        return (booster, *rest[1:])
    return rest[0]


class DaskExecutor:
    """Runs each batch of jobs on the workers of ``client``, in parallel, results in order."""

    def __init__(self, client, callbacks: Sequence[Callback] = ()):
        self.client = client
        self.callbacks = list(callbacks)
        self._context: tuple[int, Any] | None = None  # (id of the local context, its future)
        self._token = uuid.uuid4().hex  # names this fit's caches on the workers
        self._shared: dict[int, Any] = {}  # id of a shared-trees data object -> its future
        #: How many times a table went to the workers (the context, then shared-trees data).
        self.shipments = 0

    def _ship_context(self, ctx):
        if self._context is None or self._context[0] != id(ctx):
            future = self.client.scatter(_shippable_context(ctx), broadcast=True, hash=False)
            self._context = (id(ctx), future)
            self.shipments += 1
        return self._context[1]

    def _ship_shared(self, data):
        if id(data) not in self._shared:
            self._shared[id(data)] = self.client.scatter(data, broadcast=True, hash=False)
            self.shipments += 1
        return self._shared[id(data)]

    def _payload(self, ctx, job: Job, keys: dict[int, str]):
        """The job without what the workers already hold, and what to rebuild it from."""
        extra = shared = None
        table = getattr(job, "table", None)
        if table is not None:
            n = len(ctx.X.columns)
            if (len(table) == len(ctx.X) and list(table.columns[:n]) == list(ctx.X.columns)):
                block = table.iloc[:, n:]
                if id(table) not in keys:  # the tables live through this call: ids are unique
                    keys[id(table)] = _content_key(block)
                extra = (keys[id(table)], block)
                job = dataclasses.replace(job, table=None)
        data = getattr(job, "data", None)
        if data is not None:
            shared = self._ship_shared(data)
            job = dataclasses.replace(job, data=None)
        return job, extra, shared

    def run(self, ctx, jobs: Sequence[Job]) -> list:
        if not jobs:
            return []
        remote_ctx = self._ship_context(ctx)
        futures, keys = [], {}
        for job in jobs:
            for cb in self.callbacks:
                cb.on_start(job)
            payload, extra, shared = self._payload(ctx, job, keys)
            futures.append(self.client.submit(_train_remote, self._token, remote_ctx, payload,
                                              extra, shared, pure=False))
        out = []
        for job, (model, seconds) in zip(jobs, self.client.gather(futures), strict=True):
            for cb in self.callbacks:
                cb.on_end(job, seconds)
            out.append(_rebuild(model))
        return out

    def skip(self, n_jobs: int) -> None:
        for cb in self.callbacks:
            cb.on_skip(n_jobs)

    def close(self) -> None:
        """Drop the shipped tables and the binned ones from the workers' memory."""
        futures = [f for f in [self._context and self._context[1], *self._shared.values()] if f]
        if futures:
            self.client.cancel(futures)
            self.client.run(_forget, self._token)
        self._context, self._shared = None, {}
