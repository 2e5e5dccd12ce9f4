"""Data sets: a synthetic finance table, a correlated-tasks generator, and real finance data.

Loaders look for files in ``data_home``, then ``$GBMTL_DATA_HOME``, then ``~/.cache/gbmtl``, and
download from their public source (checksum-verified) when missing. ``load_or_stand_in`` gives
a synthetic stand-in with the same tasks where the real files are absent (offline examples).
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
from gbmtl.datasets._stand_in import (
    has_real_data,
    load_or_stand_in,
    make_price_panel,
    make_stand_in,
)
from gbmtl.datasets._synthetic import make_correlated_tasks

__all__ = [
    "ChecksumError",
    "DownloadError",
    "get_data_home",
    "has_real_data",
    "load_census_income",
    "load_credit_default_taiwan",
    "load_lending_club",
    "load_or_stand_in",
    "load_sp500",
    "load_sp500_prices",
    "load_vehicle_fraud",
    "make_correlated_tasks",
    "make_fintech",
    "make_price_panel",
    "make_stand_in",
]
