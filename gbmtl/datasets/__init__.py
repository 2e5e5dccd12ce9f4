"""Data sets: a synthetic finance table, a correlated-tasks generator, and real finance data.

Loaders look for files in ``data_home``, then ``$GBMTL_DATA_HOME``, then ``~/.cache/gbmtl``, and
download from the original public source (checksum-verified) when missing.
"""

from gbmtl.datasets._base import ChecksumError, DownloadError, get_data_home
from gbmtl.datasets._fintech import make_fintech
from gbmtl.datasets._loaders import (
    load_census_income,
    load_credit_default_taiwan,
    load_lending_club,
    load_vehicle_fraud,
)
from gbmtl.datasets._sp500 import load_sp500, load_sp500_prices
from gbmtl.datasets._synthetic import make_correlated_tasks

__all__ = [
    "ChecksumError",
    "DownloadError",
    "get_data_home",
    "load_census_income",
    "load_credit_default_taiwan",
    "load_lending_club",
    "load_sp500",
    "load_sp500_prices",
    "load_vehicle_fraud",
    "make_correlated_tasks",
    "make_fintech",
]
