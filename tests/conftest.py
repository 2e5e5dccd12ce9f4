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
