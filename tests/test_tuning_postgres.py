"""Tuning on PostgreSQL: workers cooperating through a server, and a killed worker's trial retried.

The server comes from ``GBMTL_TEST_POSTGRES_URL`` (e.g. after ``eval "$(.ci/postgres.sh start)"``);
when unset, the fixture tries to start a throwaway one with ``.ci/postgres.sh`` and stops it after
the session; otherwise the tests are skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

sys.path.insert(0, str(Path(__file__).parent))
from test_tuning import write_config  # noqa: E402
from test_tuning_distributed import (  # noqa: E402
    SLOW,
    check_numbers,
    cli,
    kill_mid_trial_and_resume,
    run_workers,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "postgres.sh"


@pytest.fixture(scope="session")
def postgres_url():
    url = os.environ.get("GBMTL_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    pytest.importorskip("psycopg2", reason="PostgreSQL tests need psycopg2 (gbmtl[postgres])")
    if not SCRIPT.exists():
        pytest.skip("GBMTL_TEST_POSTGRES_URL is unset and .ci/postgres.sh is missing")
    try:
        proc = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True,
                              timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"GBMTL_TEST_POSTGRES_URL is unset and no server could be started: {exc}")
    env = dict(line.removeprefix("export ").split("=", 1)
               for line in proc.stdout.splitlines() if line.startswith("export "))
    if proc.returncode != 0 or "GBMTL_TEST_POSTGRES_URL" not in env:
        pytest.skip("GBMTL_TEST_POSTGRES_URL is unset and .ci/postgres.sh could not start a "
                    f"server: {proc.stderr.strip()[-500:]}")
    yield env["GBMTL_TEST_POSTGRES_URL"]
    subprocess.run(["bash", str(SCRIPT), "stop", env["GBMTL_TEST_POSTGRES_DIR"]],
                   capture_output=True, timeout=120)


def test_postgres_workers_share_a_study(tmp_path, postgres_url):
    config = write_config(tmp_path, **SLOW)
    name = f"shared-{uuid.uuid4().hex[:8]}"
    command = cli(config, postgres_url, name, 6)
    run_workers([command, command])
    from gbmtl.tuning import make_storage

    study = optuna.load_study(study_name=name, storage=make_storage(postgres_url))
    states = Counter(t.state for t in study.trials)
    assert 6 <= states[TrialState.COMPLETE] <= 7, states
    assert states[TrialState.COMPLETE] == len(study.trials)
    check_numbers(study)
    assert len({t.user_attrs["worker"] for t in study.trials}) == 2


def test_postgres_worker_killed_mid_trial(tmp_path, postgres_url):
    from gbmtl.tuning._storage import make_storage

    # the test's own storage needs the same driver choice as the workers
    url = make_storage(postgres_url, heartbeat_interval=None).url
    kill_mid_trial_and_resume(tmp_path, url, f"killed-{uuid.uuid4().hex[:8]}")
