"""Study storages from a URL: in memory, SQLite, a journal file, or a server database.

Which to use:

- ``None``: in memory, one process; nothing survives the process.
- ``"sqlite:///tune.db"``: one process (or a few, lightly); resumable.
- ``"journal:///path/tune.log"`` or a path ending in ``.log`` / ``.journal``: several processes
  on one machine (an append-only file with a file lock; works where SQLite locking struggles).
- ``"postgresql://user@host:port/db"`` (or ``mysql://...``): several machines.

Database storages get heartbeats: every running trial writes a heartbeat every
``heartbeat_interval`` seconds; a trial whose heartbeat is older than ``grace_period`` (its worker
was killed) is marked FAIL by the next worker that starts a trial, and a copy with the same
parameters is queued (WAITING) so that it is retried. Journal files have no heartbeat in Optuna:
a killed worker's trial stays RUNNING and is never retried, but it does not count towards
``n_trials`` (see :class:`~gbmtl.tuning.MultiTaskTuner`), so the study still completes. The same
holds for a worker killed in the few milliseconds between creating a trial and writing its first
heartbeat (Optuna only fails trials that have a heartbeat).
"""

from __future__ import annotations

import os
import warnings

import optuna

__all__ = ["make_storage", "storage_kind"]

_JOURNAL_PREFIX = "journal://"
_JOURNAL_SUFFIXES = (".log", ".journal")


def storage_kind(storage) -> str:
    """``"memory"``, ``"journal"``, ``"rdb"`` or ``"object"`` for a storage argument."""
    if storage is None:
        return "memory"
    if not isinstance(storage, str | os.PathLike):
        return "object"
    text = os.fspath(storage)
    if text.startswith(_JOURNAL_PREFIX) or text.endswith(_JOURNAL_SUFFIXES):
        return "journal"
    if "://" in text:
        return "rdb"
    raise ValueError(
        f"storage: cannot tell what {text!r} is; give a database URL (sqlite:///..., "
        "postgresql://...), 'journal:///path/file.log' or a path ending in .log/.journal"
    )


def _journal_path(text: str) -> str:
    if text.startswith(_JOURNAL_PREFIX):
        text = text[len(_JOURNAL_PREFIX) :]
    if not text:
        raise ValueError("storage: a journal storage needs a file path, e.g. journal://sweeps/census.log")
    return text


def _retry_callback(max_retry: int | None):
    # Optuna 4.9 renamed RetryFailedTrialCallback (kept as a deprecated alias until 6.0).
    cls = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
    if cls is not None:
        return "heartbeat_stale_trial_callback", cls(max_retry=max_retry)
    return "failed_trial_callback", optuna.storages.RetryFailedTrialCallback(max_retry=max_retry)


def make_storage(
    storage,
    *,
    heartbeat_interval: int | None = 60,
    grace_period: int | None = None,
    max_retry: int | None = 3,
):
    """Turn a storage argument into an Optuna storage.

    Parameters
    ----------
    storage : None, str, path or optuna.storages.BaseStorage
        See the module docstring; a storage object is returned unchanged.
    heartbeat_interval : int or None, default 60
        Seconds between heartbeats of a running trial (database storages only); None disables
        heartbeats and so the detection of killed workers.
    grace_period : int or None
        Seconds without a heartbeat after which a running trial is taken as dead; Optuna's
        default (twice the interval) when None.
    max_retry : int or None, default 3
        How many times a trial of a killed worker is re-queued; None retries forever.

    Returns
    -------
    optuna.storages.BaseStorage or None
        None for in-memory studies.

    Examples
    --------
    >>> make_storage(None) is None
    True
    """
    kind = storage_kind(storage)
    if kind in ("memory", "object"):
        return storage
    text = os.fspath(storage)
    if kind == "journal":
        from optuna.storages import JournalStorage

        try:
            from optuna.storages.journal import JournalFileBackend
        except ImportError:  # Optuna < 4.0 named it JournalFileStorage
            from optuna.storages import JournalFileStorage as JournalFileBackend

        path = _journal_path(text)
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        return JournalStorage(JournalFileBackend(path))
    if text.startswith("postgres://"):  # SQLAlchemy only knows the long scheme name
        text = "postgresql://" + text[len("postgres://") :]
    if text.startswith("postgresql://"):
        text = "postgresql+" + _postgres_driver() + text[len("postgresql") :]
    # pool_pre_ping: a server restart or an idle timeout must not kill a long tuning run.
    engine_kwargs = {} if text.startswith("sqlite") else {"pool_pre_ping": True}
    with warnings.catch_warnings():
        # Heartbeats are marked experimental in Optuna; the warning says nothing actionable here.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        kwargs = {}
        if heartbeat_interval is not None:
            key, callback = _retry_callback(max_retry)
            kwargs = {
                "heartbeat_interval": int(heartbeat_interval),
                "grace_period": None if grace_period is None else int(grace_period),
                key: callback,
            }
        return _rdb_storage(text, engine_kwargs, kwargs)


def _rdb_storage(url: str, engine_kwargs: dict, kwargs: dict, attempts: int = 5):
    """RDBStorage, retried: workers starting together on a fresh database race to create the
    schema, and all but one get an integrity error that is harmless on the next attempt."""
    import random
    import time

    from sqlalchemy.exc import SQLAlchemyError

    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)
        except SQLAlchemyError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 + random.random())


def _postgres_driver() -> str:
    """The installed PostgreSQL driver; SQLAlchemy's default for a bare URL differs by version."""
    import importlib.util

    for module in ("psycopg2", "psycopg"):
        if importlib.util.find_spec(module) is not None:
            return module
    raise ImportError(
        "a PostgreSQL storage needs a driver: pip install 'gbmtl[postgres]' (psycopg2-binary)"
    )
