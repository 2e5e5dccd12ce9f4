"""Where data sets live on disk, and how a missing file is downloaded and checked.

The folder layout matches the project's shared data folder: ``<data_home>/<folder>/<file>.csv.gz``.
Every remote file is described by a :class:`RemoteFileSpec` in :data:`REMOTE_FILES`; loaders ask
:func:`fetch_file` for a path and never build URLs themselves.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = [
    "REMOTE_FILES",
    "ChecksumError",
    "DownloadError",
    "RemoteFileSpec",
    "fetch_file",
    "get_data_home",
]

logger = logging.getLogger(__name__)

#: Type of the ``data_home`` argument of every loader.
DataHome = str | os.PathLike | None

#: Environment variable naming the data home; overridden by an explicit ``data_home=``.
DATA_HOME_ENV = "GBMTL_DATA_HOME"

_GITHUB_RAW = "https://raw.githubusercontent.com"


class DownloadError(OSError):
    """A data file could not be fetched from its public source."""


class ChecksumError(DownloadError):
    """A downloaded data file does not have the expected content."""


@dataclass(frozen=True)
class RemoteFileSpec:
    """Where one data file comes from and how to check it.

    Parameters
    ----------
    folder, filename : str
        Location under the data home: ``<data_home>/<folder>/<filename>`` (gzip-compressed CSV).
    urls : tuple of str
        Source URL(s). Several URLs are parts of one table: each part's header line is dropped
        except the first one's, and the parts are joined in the given order.
    md5 : str or None
        MD5 of the uncompressed content as stored (after ``header`` is added). When None the
        row count ``n_rows`` is checked instead.
    header : str or None
        Header line to put in front of a source file that has none.
    n_rows : int or None
        Number of data lines expected (header excluded).
    """

    folder: str
    filename: str
    urls: tuple[str, ...]
    md5: str | None = None
    header: str | None = None
    n_rows: int | None = None


_CENSUS_COLUMNS = (
    "age,class_of_worker,detailed_industry_recode,detailed_occupation_recode,education,"
    "wage_per_hour,enroll_in_edu_inst_last_wk,marital_stat,major_industry_code,"
    "major_occupation_code,race,hispanic_origin,sex,member_of_a_labor_union,"
    "reason_for_unemployment,full_or_part_time_employment_stat,capital_gains,capital_losses,"
    "dividends_from_stocks,tax_filer_stat,region_of_previous_residence,"
    "state_of_previous_residence,detailed_household_and_family_stat,"
    "detailed_household_summary_in_household,instance_weight,migration_code_change_in_msa,"
    "migration_code_change_in_reg,migration_code_move_within_reg,"
    "live_in_this_house_1_year_ago,migration_prev_res_in_sunbelt,"
    "num_persons_worked_for_employer,family_members_under_18,country_of_birth_father,"
    "country_of_birth_mother,country_of_birth_self,citizenship,own_business_or_self_employed,"
    "fill_inc_questionnaire_for_veterans_admin,veterans_benefits,weeks_worked_in_year,year,income"
)
#: Column names of the UCI census-income files (from ``census-income.names``), in file order.
CENSUS_COLUMNS: tuple[str, ...] = tuple(_CENSUS_COLUMNS.split(","))

_MMOE = f"{_GITHUB_RAW}/drawbridge/keras-mmoe/2718f56e4313716fd3a86e9510bc2df0cc366238/data"

#: Every downloadable file, by data set key. Tests replace entries to point at a local server.
REMOTE_FILES: dict[str, RemoteFileSpec] = {
    "census_income_test": RemoteFileSpec(
        folder="census_income_kdd",
        filename="census-income.test.csv.gz",
        urls=(f"{_MMOE}/census-income.test.gz",),
        md5="1161c04ac83fadb442c0478473913a24",
        header=_CENSUS_COLUMNS,
    ),
    "census_income_train": RemoteFileSpec(
        folder="census_income_kdd",
        filename="census-income.data.csv.gz",
        urls=(f"{_MMOE}/census-income.data.gz",),
        header=_CENSUS_COLUMNS,
        n_rows=199_523,
    ),
    "credit_default_taiwan": RemoteFileSpec(
        folder="credit_card_default_taiwan",
        filename="default_of_credit_card_clients.csv.gz",
        urls=(
            f"{_GITHUB_RAW}/dhavalptl630007/DataSets/c31a7ae62231225146d364eb057181571ebfc191/"
            "default_of_credit_card_clients.csv",
        ),
        md5="50b58a0155974d8d22a10691158c2694",
    ),
    "lending_club": RemoteFileSpec(
        folder="lending_club",
        filename="lending_club.csv.gz",
        urls=(
            f"{_GITHUB_RAW}/vincentarelbundock/Rdatasets/1dcc2bf5f955cc1224a3e1307256e1fe86b68dae/"
            "csv/modeldata/lending_club.csv",
        ),
        md5="6b284ae074e7bf8a76307ab9a71445dd",
    ),
    "vehicle_fraud": RemoteFileSpec(
        folder="vehicle_insurance_fraud",
        filename="fraud_oracle.csv.gz",
        urls=(
            f"{_GITHUB_RAW}/TeamAlphaTingyu/MachineLearningHW1/"
            "ac5721eadbba07613151e6a7ec24287f835721c9/fraud_oracle.csv",
        ),
        md5="426533cc544e692d9a51c258f60e3046",
    ),
}


# The S&P 500 file is the join of one file per ticker, in file-name order, under one header.
_SP500_TICKERS = """
    A AAL AAP AAPL ABBV ABC ABT ACN ADBE ADI ADM ADP ADS ADSK AEE AEP AES AET AFL AGN AIG
    AIV AIZ AJG AKAM ALB ALGN ALK ALL ALLE ALXN AMAT AMD AME AMG AMGN AMP AMT AMZN ANDV ANSS
    ANTM AON AOS APA APC APD APH APTV ARE ARNC ATVI AVB AVGO AVY AWK AXP AYI AZO BA BAC BAX
    BBT BBY BDX BEN BF.B BHF BHGE BIIB BK BLK BLL BMY BRK.B BSX BWA BXP C CA CAG CAH CAT CB
    CBG CBOE CBS CCI CCL CDNS CELG CERN CF CFG CHD CHK CHRW CHTR CI CINF CL CLX CMA CMCSA
    CME CMG CMI CMS CNC CNP COF COG COL COO COP COST COTY CPB CRM CSCO CSRA CSX CTAS CTL
    CTSH CTXS CVS CVX CXO D DAL DE DFS DG DGX DHI DHR DIS DISCA DISCK DISH DLR DLTR DOV DPS
    DRE DRI DTE DUK DVA DVN DWDP DXC EA EBAY ECL ED EFX EIX EL EMN EMR EOG EQIX EQR EQT ES
    ESRX ESS ETFC ETN ETR EVHC EW EXC EXPD EXPE EXR F FAST FB FBHS FCX FDX FE FFIV FIS FISV
    FITB FL FLIR FLR FLS FMC FOX FOXA FRT FTI FTV GD GE GGP GILD GIS GLW GM GOOG GOOGL GPC
    GPN GPS GRMN GS GT GWW HAL HAS HBAN HBI HCA HCN HCP HD HES HIG HII HLT HOG HOLX HON HP
    HPE HPQ HRB HRL HRS HSIC HST HSY HUM IBM ICE IDXX IFF ILMN INCY INFO INTC INTU IP IPG
    IQV IR IRM ISRG IT ITW IVZ JBHT JCI JEC JNJ JNPR JPM JWN K KEY KHC KIM KLAC KMB KMI KMX
    KO KORS KR KSS KSU L LB LEG LEN LH LKQ LLL LLY LMT LNC LNT LOW LRCX LUK LUV LYB M MA MAA
    MAC MAR MAS MAT MCD MCHP MCK MCO MDLZ MDT MET MGM MHK MKC MLM MMC MMM MNST MO MON MOS
    MPC MRK MRO MS MSFT MSI MTB MTD MU MYL NAVI NBL NCLH NDAQ NEE NEM NFLX NFX NI NKE NLSN
    NOC NOV NRG NSC NTAP NTRS NUE NVDA NWL NWS NWSA O OKE OMC ORCL ORLY OXY PAYX PBCT PCAR
    PCG PCLN PDCO PEG PEP PFE PFG PG PGR PH PHM PKG PKI PLD PM PNC PNR PNW PPG PPL PRGO PRU
    PSA PSX PVH PWR PX PXD PYPL QCOM QRVO RCL RE REG REGN RF RHI RHT RJF RL RMD ROK ROP ROST
    RRC RSG RTN SBAC SBUX SCG SCHW SEE SHW SIG SJM SLB SLG SNA SNI SNPS SO SPG SPGI SRCL SRE
    STI STT STX STZ SWK SWKS SYF SYK SYMC SYY T TAP TDG TEL TGT TIF TJX TMK TMO TPR TRIP
    TROW TRV TSCO TSN TSS TWX TXN TXT UA UAA UAL UDR UHS ULTA UNH UNM UNP UPS URI USB UTX V
    VAR VFC VIAB VLO VMC VNO VRSK VRSN VRTX VTR VZ WAT WBA WDC WEC WFC WHR WLTW WM WMB WMT
    WRK WU WY WYN WYNN XEC XEL XL XLNX XOM XRAY XRX XYL YUM ZBH ZION ZTS
""".split()
_SP500 = f"{_GITHUB_RAW}/CNuge/kaggle-code/f1109438d6cfb3ffdaa7d4480437cfbaaedd3236"
REMOTE_FILES["sp500"] = RemoteFileSpec(
    folder="sp500_stocks_5yr",
    filename="all_stocks_5yr.csv.gz",
    urls=tuple(
        f"{_SP500}/stock_data/individual_stocks_5yr/{name}"
        for name in sorted(f"{t}_data.csv" for t in _SP500_TICKERS)
    ),
    md5="6d2f3f2529cf6d8b443c8f4beee5638b",
)


def get_data_home(data_home: DataHome = None) -> Path:
    """Return the folder that holds the data sets.

    Look-up order: the ``data_home`` argument, then the ``GBMTL_DATA_HOME`` environment
    variable, then the user cache ``$XDG_CACHE_HOME/gbmtl`` (``~/.cache/gbmtl`` by default).
    The folder is not created here; a download creates it.

    Parameters
    ----------
    data_home : str or path-like, optional
        Explicit folder; ``~`` is expanded.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> from gbmtl.datasets import get_data_home
    >>> get_data_home("~/gbmtl_data").name
    'gbmtl_data'
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or None
    if data_home is None:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
        data_home = os.path.join(cache, "gbmtl")
    return Path(data_home).expanduser()


def fetch_file(
    name: str,
    *,
    data_home: DataHome = None,
    download_if_missing: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Return the local path of data file ``name``, downloading it first when it is missing.

    Parameters
    ----------
    name : str
        A key of :data:`REMOTE_FILES`.
    data_home : str or path-like, optional
        See :func:`get_data_home`.
    download_if_missing : bool, default True
        When False a missing file raises ``FileNotFoundError``.
    timeout : float, default 60.0
        Seconds to wait for each HTTP connection.

    Returns
    -------
    pathlib.Path
        ``<data_home>/<folder>/<filename>``.

    Raises
    ------
    FileNotFoundError
        The file is missing and ``download_if_missing`` is False.
    DownloadError
        The source could not be reached (for example offline); the message says where to
        place the file by hand.
    ChecksumError
        The downloaded content differs from the expected one; nothing is written.
    """
    try:
        spec = REMOTE_FILES[name]
    except KeyError:
        raise KeyError(f"unknown data file {name!r}; known: {sorted(REMOTE_FILES)}") from None
    home = get_data_home(data_home)
    path = home / spec.folder / spec.filename
    if path.is_file():
        return path
    if not download_if_missing:
        raise FileNotFoundError(
            f"Data set {name!r}: {path} does not exist. Place {spec.folder}/{spec.filename} "
            f"under the data home (data_home= argument, else the {DATA_HOME_ENV} environment "
            f"variable, else ~/.cache/gbmtl), or pass download_if_missing=True to download it "
            f"from {spec.urls[0]}"
        )
    content = _download(name, spec, path, timeout)
    _write_gzip_atomic(content, path)
    logger.info("Saved data set %r to %s", name, path)
    return path


def read_csv_file(
    name: str, *, data_home: DataHome = None, download_if_missing: bool = True, **read_kw
) -> pd.DataFrame:
    """Fetch data file ``name`` and read it with :func:`pandas.read_csv`; the loaders' one reader."""
    path = fetch_file(name, data_home=data_home, download_if_missing=download_if_missing)
    logger.debug("Reading %s", path)
    return pd.read_csv(path, **read_kw)


def _download(name: str, spec: RemoteFileSpec, path: Path, timeout: float) -> bytes:
    """Fetch and join the parts of ``spec``, then check them; returns the uncompressed bytes."""
    parts = []
    for i, url in enumerate(spec.urls):
        logger.info("Downloading data set %r from %s", name, url)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                raw = response.read()
        except (urllib.error.URLError, OSError) as exc:
            raise DownloadError(
                f"Could not download data set {name!r} from {url}: {exc}. If this machine is "
                f"offline, fetch that file elsewhere and place it gzip-compressed at {path} "
                f"(or set {DATA_HOME_ENV} to a folder holding {spec.folder}/{spec.filename})."
            ) from exc
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        if i > 0:
            raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
        if len(spec.urls) > 1 and raw and not raw.endswith(b"\n"):
            raw += b"\n"
        parts.append(raw)
    if spec.header is not None:
        parts.insert(0, spec.header.encode() + b"\n")
    content = b"".join(parts)
    if spec.md5 is not None:
        digest = hashlib.md5(content).hexdigest()
        if digest != spec.md5:
            raise ChecksumError(
                f"Data set {name!r} downloaded from {spec.urls[0]} has MD5 {digest}, expected "
                f"{spec.md5}; the source has changed or the transfer was corrupted. Nothing was "
                f"written to {path}."
            )
    if spec.n_rows is not None:
        n_lines = content.count(b"\n") + (not content.endswith(b"\n")) - 1  # minus header
        if n_lines != spec.n_rows:
            raise ChecksumError(
                f"Data set {name!r} downloaded from {spec.urls[0]} has {n_lines} data rows, "
                f"expected {spec.n_rows}. Nothing was written to {path}."
            )
    return content


def _write_gzip_atomic(content: bytes, path: Path) -> None:
    """Write ``content`` gzip-compressed to a temporary file, then rename: never a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz:
            gz.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def set_dataset_attrs(
    X: pd.DataFrame, Y: pd.DataFrame, dataset: str, kinds: dict[str, str], **attrs
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stamp both frames with the data set name, task kinds and extra attributes; returns them."""
    for frame in (X, Y):
        frame.attrs["dataset"] = dataset
        frame.attrs.update(attrs)
    Y.attrs["task_kinds"] = dict(kinds)
    return X, Y


def to_category(frame: pd.DataFrame, columns=None) -> pd.DataFrame:
    """Turn text columns (or the given ``columns``) into ``category`` dtype, in place."""
    if columns is None:
        columns = [
            c
            for c in frame.columns
            if frame[c].dtype == object or isinstance(frame[c].dtype, pd.StringDtype)
        ]
    for col in columns:
        frame[col] = frame[col].astype("category")
    return frame
