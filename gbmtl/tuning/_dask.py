"""One sweep over a Dask cluster: one tuning worker per Dask worker, sharing one Optuna study.

Optuna already lets processes cooperate on a study through its storage; this sends a copy of
the tuner to every Dask worker (the data once per worker), each running trials one at a time
until the study holds ``n_trials`` finished trials, then reads the study back here (and refits
the best parameters here when the tuner asks for it). The storage must be one every worker
reaches: a SQLite or journal file on a disk they share (one machine, or a network file system),
or a PostgreSQL URL.
"""

from __future__ import annotations

from sklearn.base import clone


def _tune_on_worker(tuner, X, Y, sample_weight, groups) -> int:
    tuner.fit(X, Y, sample_weight=sample_weight, groups=groups)
    return len(tuner.study_.trials)


def tune_on_dask(tuner, X, Y, *, sample_weight=None, groups=None, client=None):
    """Run ``tuner``'s study with one trial at a time on every worker of a Dask cluster.

    Parameters
    ----------
    tuner : MultiTaskTuner
        Its ``storage`` must be a URL every worker can open (``sqlite:///``, a journal file on
        a shared disk, ``postgresql://``) and its ``study_name`` set, so that the workers join
        one study; its ``n_trials`` is the study's total.
    X, Y, sample_weight, groups :
        As for :meth:`MultiTaskTuner.fit`; sent to each worker once.
    client : distributed.Client, optional
        Default: the current client (``distributed.get_client()``).

    Returns
    -------
    MultiTaskTuner
        ``tuner`` itself, fitted here on the finished study (``best_params_``, ``study_``, and
        ``best_estimator_`` when ``refit``).
    """
    from gbmtl._dask import current_client

    if not isinstance(tuner.storage, str) or tuner.storage in ("", "none", "memory"):
        raise ValueError(
            "tune_on_dask: the tuner's storage must be a URL every Dask worker can open "
            "(sqlite:///path on a shared disk, a journal file path, or postgresql://...); got "
            f"{tuner.storage!r}")
    if not tuner.study_name:
        raise ValueError("tune_on_dask: set the tuner's study_name, so that the workers join "
                         "one study instead of each starting its own")
    client = client or current_client()
    workers = list(client.scheduler_info()["workers"])
    if not workers:
        raise ValueError("tune_on_dask: the Dask cluster has no workers")
    # Trials run one at a time per worker process; each worker's models use its own threads.
    worker_tuner = clone(tuner).set_params(refit=False, n_jobs=1)
    data = client.scatter([X, Y, sample_weight, groups], broadcast=True, hash=False)
    futures = [client.submit(_tune_on_worker, worker_tuner, *data, workers=[w],
                             allow_other_workers=False, pure=False) for w in workers]
    client.gather(futures)
    client.cancel(data)
    return tuner.fit(X, Y, sample_weight=sample_weight, groups=groups)
