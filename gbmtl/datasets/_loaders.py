"""Loaders for the real tabular data sets: each returns features ``X`` and task targets ``Y``.

Every loader drops the columns that define or directly encode a target, turns text columns
into ``category`` dtype, and records the task kinds in ``Y.attrs["task_kinds"]`` (a dict that
can be passed as ``tasks=`` to the estimators).
"""

from __future__ import annotations

import gzip
import logging

import numpy as np
import pandas as pd

from gbmtl.datasets._base import (
    CENSUS_COLUMNS,
    REMOTE_FILES,
    DataHome,
    fetch_file,
    get_data_home,
    read_csv_file,
    set_dataset_attrs,
    to_category,
)

__all__ = [
    "load_census_income",
    "load_credit_default_taiwan",
    "load_lending_club",
    "load_vehicle_fraud",
]

logger = logging.getLogger(__name__)

_CENSUS_READ = dict(skipinitialspace=True, na_values=["?"], keep_default_na=False)
_COLLEGE = (
    "Bachelors degree(BA AB BS)",
    "Masters degree(MA MS MEng MEd MSW MBA)",
    "Prof school degree (MD DDS DVM LLB JD)",
    "Doctorate degree(PhD EdD)",
)
# Columns whose values spell out marital status ("Child 18+ never marr ...", "Spouse of
# householder", joint tax filing): near-copies of the never_married target.
_CENSUS_MARITAL_PROXIES = (
    "detailed_household_and_family_stat",
    "detailed_household_summary_in_household",
    "tax_filer_stat",
)
# Integer-coded nominal columns of the census files.
_CENSUS_CODES = (
    "detailed_industry_recode",
    "detailed_occupation_recode",
    "own_business_or_self_employed",
    "veterans_benefits",
)
_SUBSETS = ("train", "test", "all")


def load_census_income(
    *,
    subset: str = "train",
    protocol: str = "auto",
    test_size: float = 0.5,
    random_state: int = 0,
    drop_proxies: bool = True,
    targets: tuple[str, ...] = ("income_50k", "never_married", "education_college"),
    data_home: DataHome = None,
    download_if_missing: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load UCI Census-Income (KDD) 1994/95 with the MMoE/PLE tasks.

    Tasks (``Y`` columns):

    - ``income_50k`` (binary): income above 50,000 USD (label ``50000+.``); about 6 % positive.
    - ``never_married`` (binary): ``marital_stat == "Never married"``; about 43 %.
    - ``education_college`` (binary): education is Bachelors or higher (Bachelors, Masters,
      professional school, Doctorate); about 15 %.

    Dropped from the features: the columns that define the requested ``targets`` (``income``,
    ``marital_stat``, ``education``) and ``instance_weight`` (a sampling weight, not an
    attribute of the person). A column whose target is not requested stays a feature, as in the
    published protocol: with ``targets=("income_50k", "never_married")``, ``education`` is a
    feature. With
    ``drop_proxies=True`` also ``detailed_household_and_family_stat``,
    ``detailed_household_summary_in_household`` and ``tax_filer_stat``, whose values spell out
    the marital status ("Child 18+ never marr ...", "Spouse of householder", joint filing).
    The MMoE/PLE papers kept them; pass ``drop_proxies=False`` to compare with their numbers.

    Protocols:

    - ``"uci-train-test"``: train on ``census-income.data`` (199,523 rows), test on
      ``census-income.test`` (99,762 rows), the UCI split.
    - ``"test-file-seeded-split"``: only the test file is used; its rows are split at random
      (``numpy.random.default_rng(random_state)``) into ``test_size`` test rows and the rest
      train rows. Results are not comparable with papers trained on the full train file.
    - ``"auto"`` (default): ``"uci-train-test"`` when ``census_income_kdd/census-income.data.csv.gz``
      exists in the data home, else the seeded split. The train file is never downloaded in
      this mode.

    The protocol used is written to ``X.attrs["protocol"]`` and ``Y.attrs["protocol"]``, e.g.
    ``"test-file-seeded-split(seed=0, test_size=0.5)"``; quote it with any result.

    Parameters
    ----------
    subset : {"train", "test", "all"}, default "train"
    protocol : {"auto", "uci-train-test", "test-file-seeded-split"}, default "auto"
    test_size : float, default 0.5
        Share of the test file's rows put in the ``"test"`` subset (seeded split only).
    random_state : int, default 0
        Seed of the split (seeded split only).
    drop_proxies : bool, default True
        Drop the three columns that encode marital status (see above).
    targets : tuple of str, default all three
        The ``Y`` columns to return, among ``"income_50k"``, ``"never_married"`` and
        ``"education_college"``.
    data_home : str or path-like, optional
        See :func:`get_data_home`.
    download_if_missing : bool, default True

    Returns
    -------
    X : pandas.DataFrame
        38 features (35 with ``drop_proxies=True``); text and coded columns as ``category``.
        The index is the row number within the source file.
    Y : pandas.DataFrame
        The three binary targets as 0/1 integers.

    Examples
    --------
    >>> X, Y = load_census_income(subset="test")  # doctest: +SKIP
    >>> X.attrs["protocol"]  # doctest: +SKIP
    'test-file-seeded-split(seed=0, test_size=0.5)'
    """
    if subset not in _SUBSETS:
        raise ValueError(f"subset must be one of {_SUBSETS}, got {subset!r}")
    protocols = ("auto", "uci-train-test", "test-file-seeded-split")
    if protocol not in protocols:
        raise ValueError(f"protocol must be one of {protocols}, got {protocol!r}")
    if protocol == "auto":
        spec = REMOTE_FILES["census_income_train"]
        train_path = get_data_home(data_home) / spec.folder / spec.filename
        protocol = "uci-train-test" if train_path.is_file() else "test-file-seeded-split"
    kw = dict(data_home=data_home, download_if_missing=download_if_missing)
    test = _read_census("census_income_test", **kw)
    if protocol == "uci-train-test":
        train = _read_census("census_income_train", **kw)
        frame = pd.concat([train, test], ignore_index=True)
        is_test = np.r_[np.zeros(len(train), bool), np.ones(len(test), bool)]
        index = np.r_[np.arange(len(train)), np.arange(len(test))]
        label = protocol
    else:
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"test_size must be in (0, 1), got {test_size!r}")
        frame = test
        n_test = int(round(test_size * len(frame)))
        order = np.random.default_rng(random_state).permutation(len(frame))
        is_test = np.zeros(len(frame), bool)
        is_test[order[:n_test]] = True
        index = np.arange(len(frame))
        label = f"test-file-seeded-split(seed={random_state}, test_size={test_size})"
    frame.index = pd.Index(index, name="row")

    sources = {"income_50k": "income", "never_married": "marital_stat",
               "education_college": "education"}
    unknown = [t for t in targets if t not in sources]
    if unknown or not targets:
        raise ValueError(f"targets: expected some of {list(sources)}, got {list(targets)}")
    Y = pd.DataFrame(
        {
            "income_50k": (frame["income"] == "50000+.").astype("int64"),
            "never_married": (frame["marital_stat"] == "Never married").astype("int64"),
            "education_college": frame["education"].isin(_COLLEGE).astype("int64"),
        },
        index=frame.index,
    )[list(targets)]
    drop = [sources[t] for t in targets] + ["instance_weight"]
    if drop_proxies:
        drop += list(_CENSUS_MARITAL_PROXIES)
    X = frame.drop(columns=drop)
    # Categories come from all rows, so the train and test subsets share one coding.
    to_category(X)
    to_category(X, _CENSUS_CODES)
    if subset != "all":
        keep = is_test if subset == "test" else ~is_test
        X, Y = X[keep], Y[keep]
    kinds = dict.fromkeys(Y.columns, "binary")
    logger.info("census-income %s subset: %d rows (%s)", subset, len(X), label)
    return set_dataset_attrs(X, Y, "census_income", kinds, protocol=label, subset=subset)


def _read_census(name: str, **kw) -> pd.DataFrame:
    """Read a census file; a file placed by hand without the header line is read too."""
    path = fetch_file(name, **kw)
    with gzip.open(path, "rt") as fh:
        has_header = fh.readline().startswith("age,")
    names = None if has_header else list(CENSUS_COLUMNS)
    return pd.read_csv(path, names=names, **_CENSUS_READ)


def load_credit_default_taiwan(
    *, siblings: bool = True, data_home: DataHome = None, download_if_missing: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load UCI "default of credit card clients" (Taiwan, April-September 2005).

    The main task is next month's default. The sibling tasks describe September 2005, the
    last month of history: with them, every task is "predict the newest month from April to
    August", so the September columns they come from leave the features.

    Tasks (``Y`` columns):

    - ``default`` (binary): "default payment next month" (October 2005); about 22 % positive.
    - ``pay_0_late`` (binary, sibling): September repayment status ``PAY_0 >= 1`` (payment
      delayed one month or more); about 23 %.
    - ``log_bill_amt1`` (regression, sibling): September bill statement, signed log1p
      ``sign(x) * log1p(|x|)`` (bills can be negative: a credit balance).
    - ``log_pay_amt1`` (regression, sibling): amount paid in September, ``log1p``.

    Dropped from the features: ``ID`` (a row number) and the target column; with
    ``siblings=True`` also ``PAY_0``, ``BILL_AMT1`` and ``PAY_AMT1``. ``PAY_0`` is the
    strongest single predictor of default, so ``default`` alone is harder here than in the
    usual single-task setting; pass ``siblings=False`` for that setting (``Y`` then holds
    ``default`` only and the September columns are features).

    Parameters
    ----------
    siblings : bool, default True
    data_home : str or path-like, optional
        See :func:`get_data_home`.
    download_if_missing : bool, default True

    Returns
    -------
    X : pandas.DataFrame
        30,000 rows; ``SEX``, ``EDUCATION`` and ``MARRIAGE`` (integer codes, see UCI) as
        ``category``, the rest integers. 20 columns with siblings, 23 without.
    Y : pandas.DataFrame
    """
    frame = read_csv_file(
        "credit_default_taiwan", data_home=data_home, download_if_missing=download_if_missing
    )
    Y = pd.DataFrame({"default": frame["default payment next month"].astype("int64")})
    drop = ["ID", "default payment next month"]
    if siblings:
        bill = frame["BILL_AMT1"].to_numpy(dtype=float)
        Y["pay_0_late"] = (frame["PAY_0"] >= 1).astype("int64")
        Y["log_bill_amt1"] = np.sign(bill) * np.log1p(np.abs(bill))
        Y["log_pay_amt1"] = np.log1p(frame["PAY_AMT1"].to_numpy(dtype=float))
        drop += ["PAY_0", "BILL_AMT1", "PAY_AMT1"]
    X = to_category(frame.drop(columns=drop), ["SEX", "EDUCATION", "MARRIAGE"])
    kinds = {"default": "binary", "pay_0_late": "binary"}
    kinds.update({"log_bill_amt1": "regression", "log_pay_amt1": "regression"})
    kinds = {k: v for k, v in kinds.items() if k in Y.columns}
    return set_dataset_attrs(X, Y, "credit_default_taiwan", kinds)


def load_lending_club(
    *, data_home: DataHome = None, download_if_missing: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load the LendingClub 2016 Q1 loans subset of the R package ``modeldata``.

    Tasks (``Y`` columns):

    - ``bad`` (binary): ``Class == "bad"`` (the loan went bad); about 5 % positive.
    - ``int_rate`` (regression): interest rate in percent.
    - ``sub_grade`` (multiclass): LendingClub's 35 risk sub-grades ``A1`` .. ``G5``, as an
      ordered ``category``.

    Dropped from the features: ``Class``, ``int_rate``, ``sub_grade`` (targets). The interest
    rate is set from the sub-grade, so each of the two would leak the other. The remaining 20
    columns are known when the loan is made: loan amount and term, the applicant's income,
    state, employment length and verification status, and credit-bureau counts. No
    post-origination payment fields (``total_pymnt``, ``recoveries``) exist in this subset.

    Parameters
    ----------
    data_home : str or path-like, optional
        See :func:`get_data_home`.
    download_if_missing : bool, default True

    Returns
    -------
    X : pandas.DataFrame
        9,857 rows, indexed by the source ``rownames``; ``term``, ``addr_state``,
        ``verification_status`` and ``emp_length`` as ``category``.
    Y : pandas.DataFrame
    """
    frame = read_csv_file(
        "lending_club",
        data_home=data_home,
        download_if_missing=download_if_missing,
        index_col="rownames",
    )
    grades = sorted(frame["sub_grade"].dropna().unique())
    Y = pd.DataFrame(
        {
            "bad": (frame["Class"] == "bad").astype("int64").where(frame["Class"].notna()),
            "int_rate": frame["int_rate"].astype(float),
            "sub_grade": pd.Categorical(frame["sub_grade"], categories=grades, ordered=True),
        },
        index=frame.index,
    )
    if Y["bad"].notna().all():
        Y["bad"] = Y["bad"].astype("int64")
    X = to_category(frame.drop(columns=["Class", "int_rate", "sub_grade"]))
    kinds = {"bad": "binary", "int_rate": "regression", "sub_grade": "multiclass"}
    return set_dataset_attrs(X, Y, "lending_club", kinds)


_PAST_CLAIMS = ("none", "1", "2 to 4", "more than 4")


def load_vehicle_fraud(
    *, siblings: bool = True, data_home: DataHome = None, download_if_missing: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load the vehicle insurance claim fraud data (Angoss sample, claims of 1994-1996).

    Tasks (``Y`` columns):

    - ``fraud`` (binary): ``FraudFound_P``; about 6 % positive.
    - ``fault_policy_holder`` (binary, sibling): ``Fault == "Policy Holder"``; about 73 %.
      Who caused the accident is settled by the same investigation as fraud and shares its
      signals (policy type, police report, witness), so it is a natural auxiliary task.
    - ``past_claims`` (multiclass, sibling): ``PastNumberOfClaims`` as an ordered ``category``
      ``none < 1 < 2 to 4 < more than 4``: the claimant's history, a known fraud risk factor.

    Dropped from the features: ``FraudFound_P`` (target) and ``PolicyNumber`` (a row number
    1..15420 that follows the file order); with ``siblings=True`` also ``Fault`` and
    ``PastNumberOfClaims``. ``Deductible`` and ``DriverRating`` stay features: the deductible
    takes four values (mostly 400) and the driver rating looks uniformly random, so neither
    makes a useful task.

    Parameters
    ----------
    siblings : bool, default True
        When False ``Y`` holds ``fraud`` only and ``Fault``/``PastNumberOfClaims`` are features.
    data_home : str or path-like, optional
        See :func:`get_data_home`.
    download_if_missing : bool, default True

    Returns
    -------
    X : pandas.DataFrame
        15,420 rows; text columns as ``category``, 29 columns with siblings (31 without).
    Y : pandas.DataFrame
    """
    frame = read_csv_file(
        "vehicle_fraud", data_home=data_home, download_if_missing=download_if_missing
    )
    Y = pd.DataFrame({"fraud": frame["FraudFound_P"].astype("int64")})
    drop = ["FraudFound_P", "PolicyNumber"]
    if siblings:
        Y["fault_policy_holder"] = (frame["Fault"] == "Policy Holder").astype("int64")
        Y["past_claims"] = pd.Categorical(
            frame["PastNumberOfClaims"], categories=list(_PAST_CLAIMS), ordered=True
        )
        drop += ["Fault", "PastNumberOfClaims"]
    X = to_category(frame.drop(columns=drop))
    kinds = {"fraud": "binary", "fault_policy_holder": "binary", "past_claims": "multiclass"}
    kinds = {k: v for k, v in kinds.items() if k in Y.columns}
    return set_dataset_attrs(X, Y, "vehicle_fraud", kinds)
