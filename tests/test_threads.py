"""The load-aware thread policy: idle cores from /proc/stat, never fewer than one thread."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gbmtl._threads as threads
from gbmtl import MultiTaskBooster
from gbmtl._threads import LoadAwareThreads, available_cores


class FakeClock:
    """Machine-wide busy seconds, this process's CPU seconds and the time, advanced by hand."""

    def __init__(self, monkeypatch, cores: int = 4):
        self.t, self.busy, self.own = 100.0, 0.0, 0.0
        monkeypatch.setattr(threads, "_allowed_cpus", lambda: set(range(cores)))
        monkeypatch.setattr(threads, "available_cores", lambda: cores)
        monkeypatch.setattr(threads, "_busy_seconds", lambda cpus: self.busy)
        monkeypatch.setattr(threads, "_own_seconds", lambda: self.own)
        monkeypatch.setattr(threads.time, "monotonic", lambda: self.t)
        monkeypatch.setattr(threads.time, "sleep", self.advance_quiet)

    def advance_quiet(self, seconds: float) -> None:
        self.t += seconds

    def run(self, seconds: float, others: float, own: float) -> None:
        """``seconds`` pass with ``others`` cores busy elsewhere and ``own`` cores used here."""
        self.t += seconds
        self.busy += seconds * (others + own)
        self.own += seconds * own


def test_quiet_machine_uses_every_core(monkeypatch):
    clock = FakeClock(monkeypatch)
    policy = LoadAwareThreads()
    assert policy() == 4
    clock.run(1.0, others=0.0, own=4.0)  # our own threads never count as load
    assert policy() == 4


def test_busy_cores_are_left_to_the_other_processes(monkeypatch):
    clock = FakeClock(monkeypatch)
    policy = LoadAwareThreads()
    policy()
    clock.run(1.0, others=2.0, own=2.0)
    assert policy() == 2
    assert policy.others_busy == pytest.approx(2.0)
    clock.run(1.0, others=4.0, own=1.0)
    assert policy() == 1  # never fewer than one thread
    clock.run(0.1, others=0.0, own=1.0)
    assert policy() == 1  # a window under half a second keeps the last answer
    clock.run(1.0, others=0.0, own=1.0)
    assert policy() == 4


def test_without_proc_stat_every_core_is_used(monkeypatch):
    monkeypatch.setattr(threads, "_busy_seconds", lambda cpus: None)
    policy = LoadAwareThreads(cores=3)
    assert policy() == 3 and policy() == 3


def test_proc_stat_reading_is_plausible():
    if threads._busy_seconds(threads._allowed_cpus() or {0}) is None:
        pytest.skip("no /proc/stat here")
    n = LoadAwareThreads()()
    assert 1 <= n <= available_cores()


def test_n_jobs_choices_reach_the_executor():
    assert isinstance(MultiTaskBooster()._n_threads(), LoadAwareThreads)
    assert MultiTaskBooster(n_jobs=-1)._n_threads() == available_cores()
    assert MultiTaskBooster(n_jobs=3)._n_threads() == 3


def test_the_default_policy_gives_the_predictions_of_one_thread():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, 4)), columns=list("abcd"))
    Y = pd.DataFrame({"y": (X["a"] + rng.normal(size=400) > 0).astype(float),
                      "z": X["b"] + X["a"] + rng.normal(size=400)})
    kw = dict(params={"n_estimators": 30, "verbose": -1}, n_folds=3, random_state=0)
    p_default = MultiTaskBooster(**kw).fit(X, Y).predict(X)
    p_one = MultiTaskBooster(**kw, n_jobs=1).fit(X, Y).predict(X)
    pd.testing.assert_frame_equal(p_default, p_one)
