"""Shared fixtures: where the real data sets live, and small synthetic tables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _data_home() -> Path | None:
    env = os.environ.get("GBMTL_DATA_HOME")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_ROOT.parent / "shared" / "data")
    for path in candidates:
        if path.is_dir():
            return path
    return None


@pytest.fixture(scope="session")
def data_home() -> Path:
    """The folder of real data sets (GBMTL_DATA_HOME, else ../shared/data beside the repository)."""
    path = _data_home()
    if path is None:
        pytest.skip("real data sets not found: set GBMTL_DATA_HOME or place them in ../shared/data "
                    "(README 'Data sets' lists each file, its source and where it goes; the "
                    "loaders download them with download_if_missing=True)")
    return path


@pytest.fixture(scope="module")
def client():
    """A Dask LocalCluster of 2 worker processes x 1 thread (the cluster CI's Dask tests run
    on), one per test module."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()
