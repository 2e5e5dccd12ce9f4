"""Execute the analyst notebooks at their small defaults (and check they match their sources).

Each notebook runs in a fresh ``python3`` kernel with ``GBMTL_NOTEBOOK_SIZE=small``, once on its
real data (``GBMTL_NOTEBOOK_DATA=real``; skipped when the data home lacks the files) and, for the
notebooks on real data, once on the synthetic stand-ins (``GBMTL_NOTEBOOK_DATA=synthetic``: what a
reader without the files, or offline, gets). ``GBMTL_DATA_HOME`` is passed through (else
``../shared/data`` beside the repository, as for the other real-data tests).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, _data_home

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = REPO_ROOT / "notebooks"
TIMEOUT = 600  # seconds per cell; a busy 2-core machine runs each notebook in about a minute

# Notebook -> data files it reads, relative to the data home.
DATA_FILES = {
    "01_credit_risk_taiwan.ipynb": [
        "credit_card_default_taiwan/default_of_credit_card_clients.csv.gz"],
    "02_fraud_and_credit.ipynb": ["vehicle_insurance_fraud/fraud_oracle.csv.gz"],
    "03_portfolio_sp500.ipynb": ["sp500_stocks_5yr/all_stocks_5yr.csv.gz"],
    "04_tuning.ipynb": [],
}


def _missing_data(files: list[str]) -> str | None:
    """Why the notebook cannot run here, or None when every file it reads is present."""
    if not files:
        return None
    home = _data_home()
    if home is None:
        return ("real data sets not found: set GBMTL_DATA_HOME or place them in ../shared/data "
                "(README 'Data sets' lists each file, its source and where it goes)")
    missing = [f for f in files if not (home / f).is_file()]
    if missing:
        return f"data files missing from {home}: {', '.join(missing)}"
    return None


def test_every_notebook_is_listed():
    found = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert found == sorted(DATA_FILES)


def test_notebooks_match_their_sources():
    result = subprocess.run([sys.executable, str(NOTEBOOKS / "_build" / "build.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


RUNS = [(name, "real") for name in sorted(DATA_FILES)] + [
    (name, "synthetic") for name in sorted(DATA_FILES) if DATA_FILES[name]]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "data"), RUNS)
def test_notebook_runs(name, data, monkeypatch, tmp_path):
    if data == "real":
        reason = _missing_data(DATA_FILES[name])
        if reason:
            pytest.skip(f"{name}: {reason} (the synthetic run of this notebook still runs)")
        if DATA_FILES[name]:
            monkeypatch.setenv("GBMTL_DATA_HOME", str(_data_home()))
    else:  # an empty data home: nothing may be read or downloaded
        monkeypatch.setenv("GBMTL_DATA_HOME", str(tmp_path))
    monkeypatch.setenv("GBMTL_NOTEBOOK_DATA", data)
    monkeypatch.setenv("GBMTL_NOTEBOOK_SIZE", "small")
    # The python3 kernel spec runs "python" from PATH: make that this interpreter.
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent),
                                                os.environ.get("PATH", "")]))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert nb.cells[0].cell_type == "markdown"
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "GBMTL_NOTEBOOK_SIZE" in first_code.source, "first code cell must hold the parameters"
    if DATA_FILES[name]:
        assert "GBMTL_NOTEBOOK_DATA" in first_code.source, "first code cell must choose the data"
    client = nbclient.NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    start = time.perf_counter()
    client.execute(env=dict(os.environ))
    elapsed = time.perf_counter() - start
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                 for o in c.get("outputs", []))
    assert images >= 1, f"{name} drew no figure"
    assert not list(tmp_path.iterdir()), "the synthetic run wrote into the data home"
    print(f"{name} ({data} data): {elapsed:.0f} s")


def test_notebooks_are_committed_without_outputs():
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name
