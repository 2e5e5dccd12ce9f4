"""Model-parallel fits on a Dask LocalCluster (2 workers, 1 thread each): equal predictions."""

from __future__ import annotations

import pandas as pd
import pytest

from gbmtl import MultiTaskBooster
from gbmtl._executor import JobTimer
from tests._helpers import FAST, related_tasks

distributed = pytest.importorskip("distributed")

SHARED_FAST = {"shared_trees": {"n_estimators": 40, "learning_rate": 0.2}}


def _model(**kw):
    return MultiTaskBooster(params=FAST, n_folds=3, random_state=3, sharing_params=SHARED_FAST,
                            n_jobs=1, **kw)


def test_dask_executor_without_a_client_says_what_to_do():
    X, Y = related_tasks(300)
    try:
        distributed.get_client()
        pytest.skip("a Dask client exists in this process")
    except ValueError:
        pass
    with pytest.raises(ValueError, match="found no Dask client"):
        _model(sharing="none", executor="dask").fit(X, Y)


def test_executor_must_be_known():
    X, Y = related_tasks(300)
    with pytest.raises(ValueError, match="executor: expected 'local' or 'dask'"):
        _model(executor="ray").fit(X, Y)


@pytest.mark.slow
@pytest.mark.parametrize("sharing", ["auto", "shared_trees", "stacking", "offset"])
def test_model_parallel_fit_predicts_as_a_local_fit(client, sharing):
    X, Y = related_tasks(900)
    local = _model(sharing=sharing).fit(X, Y)
    timer = JobTimer()
    remote = _model(sharing=sharing, executor="dask").fit(X, Y, callbacks=[timer])
    pd.testing.assert_frame_equal(local.predict(X), remote.predict(X))
    for task, p in local.predict_proba(X).items():
        pd.testing.assert_frame_equal(pd.DataFrame(p), pd.DataFrame(remote.predict_proba(X)[task]))
    pd.testing.assert_frame_equal(local.sharing_report_, remote.sharing_report_)
    assert len(timer.frame()) > 0  # callbacks saw every remote job


@pytest.mark.slow
def test_the_table_goes_to_the_workers_once_per_fit(client, monkeypatch):
    from gbmtl import _dask

    made = []
    original = _dask.DaskExecutor.__init__

    def spy(self, *a, **kw):
        original(self, *a, **kw)
        made.append(self)

    monkeypatch.setattr(_dask.DaskExecutor, "__init__", spy)
    X, Y = related_tasks(600)
    timer = JobTimer()
    _model(sharing="auto", executor="dask").fit(X, Y, callbacks=[timer])
    n_jobs = len(timer.frame())
    assert n_jobs > 10
    # The context once, and the shared-trees data once: never once per job.
    assert made[0].shipments == 2


@pytest.mark.slow
def test_one_study_runs_one_trial_at_a_time_on_every_worker(client, tmp_path):
    import optuna

    from gbmtl.tuning import MultiTaskTuner, tune_on_dask

    X, Y = related_tasks(500)
    storage = str(tmp_path / "sweep.log")  # a journal file both workers reach
    tuner = MultiTaskTuner(_model(sharing="none"), n_trials=6, cv=2, storage=storage,
                           study_name="dask", random_state=0)
    tune_on_dask(tuner, X, Y, client=client)
    study = optuna.load_study(study_name="dask", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(storage)))
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert 6 <= len(complete) <= 7  # a worker may finish the trial it started at the end
    workers = {t.user_attrs["worker"] for t in complete}
    assert len(workers) == 2  # both Dask workers ran trials
    assert tuner.best_params_ and hasattr(tuner, "best_estimator_")


def test_tune_on_dask_needs_a_shared_storage_and_a_study_name():
    from gbmtl.tuning import MultiTaskTuner, tune_on_dask

    X, Y = related_tasks(200)
    with pytest.raises(ValueError, match="storage must be a URL every Dask worker"):
        tune_on_dask(MultiTaskTuner(_model(), study_name="s"), X, Y)
    with pytest.raises(ValueError, match="set the tuner's study_name"):
        tune_on_dask(MultiTaskTuner(_model(), storage="x.log"), X, Y)


@pytest.mark.slow
def test_stacking_tables_of_different_widths_never_share_a_binned_table(client):
    """A multiclass sibling widens some tasks' stacking tables: each worker must bin every
    table it rebuilds on its own (a cache keyed by a reused id once mixed them up)."""
    import numpy as np

    X, Y = related_tasks(900, seed=4)
    rng = np.random.default_rng(4)
    Y["grade"] = pd.cut(X["f0"] + rng.normal(0, 0.5, 900), 4, labels=list("ABCD")).astype(str)
    for seed in (0, 1):  # two fits in a row on the same workers
        local = _model(sharing="stacking").set_params(random_state=seed).fit(X, Y)
        remote = _model(sharing="stacking", executor="dask").set_params(
            random_state=seed).fit(X, Y)
        pd.testing.assert_frame_equal(local.predict(X), remote.predict(X))


def test_a_worker_keeps_each_rebuilt_table_alive_under_its_content(monkeypatch):
    """Binned tables are cached by the table's id; a rebuilt table that died could hand its id
    to the next one, whose binning would then be the wrong one. Rebuilt tables are therefore
    kept per content for the whole fit."""
    import dataclasses

    from gbmtl import _dask

    @dataclasses.dataclass
    class Probe:
        table: object = None

        def train(self, ctx, n_threads):
            return id(self.table), self.table.shape

    table = pd.DataFrame({"f0": [1.0, 2.0], "f1": [3.0, 4.0]})
    ctx = dataclasses.make_dataclass("C", [("X", object), ("cache", dict)])(table, {})
    narrow = pd.DataFrame({"s0": [0.1, 0.2]})
    wide = pd.DataFrame({"s0": [0.1, 0.2], "s1": [0.3, 0.4]})
    monkeypatch.setattr(_dask, "_worker_threads", lambda: 1)  # no Dask worker here
    token = "t"
    try:
        seen = [_dask._rebuild(_dask._train_remote(token, ctx, Probe(),
                                                   (_dask._content_key(b), b), None)[0])
                for b in (narrow, wide, narrow)]
        assert seen[0] == seen[2] and seen[0][0] != seen[1][0]
        assert seen[0][1] == (2, 3) and seen[1][1] == (2, 4)
        assert len(_dask._WORKER_TABLES[token]) == 2
    finally:
        _dask._forget(token)
    assert token not in _dask._WORKER_TABLES


@pytest.mark.slow
def test_local_training_keeps_its_speed_after_a_dask_fit(client):
    """Boosters come back as bytes and are rebuilt in the fitting thread: a LightGBM booster
    loaded in one of Dask's threads left an OpenMP team there that slowed every later
    LightGBM training in the process about eight-fold."""
    import threading

    import lightgbm as lgb

    X, Y = related_tasks(600)
    seen = []
    original = lgb.Booster.__init__

    def spy(self, *a, **kw):
        seen.append(threading.current_thread() is threading.main_thread())
        original(self, *a, **kw)

    lgb.Booster.__init__ = spy
    try:
        _model(sharing="stacking", executor="dask").fit(X, Y)
    finally:
        lgb.Booster.__init__ = original
    assert seen and all(seen)  # every booster of the fit was built in the fitting thread
