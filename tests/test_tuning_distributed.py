"""Several tuning processes on one study: a journal file shared by two workers, and a worker
killed with SIGKILL mid-trial on a database storage (its trial is failed by heartbeat and retried).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

sys.path.insert(0, str(Path(__file__).parent))
from test_tuning import write_config  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)

#: Trials of one to a few seconds whatever parameters the sampler draws (no early stop before
#: the last round), so that two workers overlap and a worker is reliably caught mid-trial.
SLOW = dict(n=10_000, params="n_estimators = 600, verbose = -1, min_child_samples = 5",
            early_stopping_rounds=600)


def cli(config: str, storage: str, study: str, n_trials: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "gbmtl.tuning", config, "--storage", storage, "--study", study,
            "--n-trials", str(n_trials), *extra]


def run_workers(commands: list[list[str]], timeout: float = 300) -> None:
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in commands]
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, f"worker failed ({p.returncode}):\n{err[-3000:]}"


def check_numbers(study) -> None:
    numbers = [t.number for t in study.get_trials(deepcopy=False)]
    assert sorted(numbers) == list(range(len(numbers))), numbers


@pytest.mark.slow
def test_journal_two_workers_share_a_study(tmp_path):
    config = write_config(tmp_path, **SLOW)
    journal = str(tmp_path / "tune.log")
    command = cli(config, f"journal://{journal}", "shared", 8)
    run_workers([command, command])
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(journal))
    study = optuna.load_study(study_name="shared", storage=storage)
    trials = study.get_trials(deepcopy=False)
    states = Counter(t.state for t in trials)
    # each worker stops once the study holds 8 finished trials; one already running may finish
    assert 8 <= states[TrialState.COMPLETE] <= 9, states
    assert states[TrialState.COMPLETE] == len(trials)
    check_numbers(study)
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) == 2, workers
    # running the command again resumes: nothing is missing, so nothing is added
    run_workers([command])
    assert len(optuna.load_study(study_name="shared", storage=storage).trials) == len(trials)


def kill_mid_trial_and_resume(tmp_path, url: str, study_name: str) -> None:
    """Kill a worker mid-trial, let its heartbeat go stale, resume; check what the study holds."""
    config = write_config(tmp_path, **SLOW)
    n_trials, grace = 4, 2
    command = cli(config, url, study_name, n_trials, "--heartbeat-interval", "1",
                  "--grace-period", str(grace))
    worker = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    storage = optuna.storages.RDBStorage(url)
    running = None
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline and worker.poll() is None:
            try:
                trials = optuna.load_study(study_name=study_name, storage=storage).trials
            except KeyError:  # the study does not exist yet
                trials = []
            done = [t for t in trials if t.state == TrialState.COMPLETE]
            running = [t for t in trials if t.state == TrialState.RUNNING]
            # Kill once the trial has run a little: a trial killed in the milliseconds before its
            # first heartbeat has no heartbeat row and Optuna never takes it as stale.
            if done and running and datetime.now() - running[0].datetime_start > timedelta(
                seconds=0.3
            ):
                os.kill(worker.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
    finally:
        if worker.poll() is None and not running:
            worker.kill()
        worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL, f"worker was not caught mid-trial: " \
        f"{worker.stderr.read()[-2000:]}"
    killed = running[0].number
    study = optuna.load_study(study_name=study_name, storage=storage)
    before = {t.number: t.state for t in study.trials}
    assert before[killed] == TrialState.RUNNING
    n_done = sum(s == TrialState.COMPLETE for s in before.values())

    time.sleep(grace + 1.5)  # the killed trial's heartbeat is now stale
    run_workers([command])

    study = optuna.load_study(study_name=study_name, storage=storage)
    trials = study.trials
    by_number = {t.number: t for t in trials}
    states = Counter(t.state for t in trials)
    assert states[TrialState.COMPLETE] == n_trials, states
    assert states[TrialState.FAIL] == 1 and by_number[killed].state == TrialState.FAIL
    # the trials completed before the kill are kept as they were
    assert all(by_number[n].state == TrialState.COMPLETE
               for n, s in before.items() if s == TrialState.COMPLETE)
    assert n_done >= 1
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert retries[0].params == by_number[killed].params
    check_numbers(study)


@pytest.mark.slow
def test_sqlite_worker_killed_mid_trial(tmp_path):
    kill_mid_trial_and_resume(tmp_path, f"sqlite:///{tmp_path / 'tune.db'}", "killed")
