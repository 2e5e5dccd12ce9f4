"""A synthetic but realistic lending-and-payments table with related finance tasks."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

__all__ = ["make_fintech"]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _intercept_for_rate(z: np.ndarray, rate: float) -> float:
    """The shift that gives ``sigmoid(z + shift)`` the wanted mean (bisection; no closed form)."""
    lo, hi = -30.0, 30.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if _sigmoid(z + mid).mean() > rate:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


def make_fintech(n_samples: int = 20_000, random_state=None, n_features: int | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate loan applications with card activity and five related targets.

    One latent credit-risk factor drives default, late payment and the risk grade; a fraud factor
    partly shares it (stressed borrowers commit more first-party fraud). Labels are missing where
    they would be missing in a real book.

    Parameters
    ----------
    n_samples : int, default 20000
    random_state : int, RandomState or None
    n_features : int or None
        Widen ``X`` to this many columns with noisy copies of its numeric columns
        (``<column>_copy<k>``: the column plus Gaussian noise of half its spread), as real
        tables carry many correlated, weaker versions of the same signals. None keeps the 17
        columns.

    Returns
    -------
    X : DataFrame
        Numeric features and three categorical ones (``home_ownership``, ``purpose``,
        ``channel``, pandas ``category`` dtype).
    Y : DataFrame with the tasks

        - ``fraud`` (binary, about 4 % of investigated rows): known only for the ~50 % of
          transactions that were investigated, chosen more often when they look suspicious;
        - ``default`` (binary, about 15 % positive): known only for matured loans (~15 % of rows: a young loan
          book, where default labels are scarce);
        - ``late_payment`` (binary): 30+ days late within a year; known for loans at least a year
          old (~80 %), a cheap and plentiful sibling of ``default``;
        - ``loss_amount`` (regression): money lost, known only for defaulted loans;
        - ``risk_grade`` (multiclass ``"A"`` .. ``"E"``): the internal grade, known for all rows.

    Examples
    --------
    >>> from gbmtl.datasets import make_fintech
    >>> X, Y = make_fintech(n_samples=1000, random_state=0)
    >>> list(Y.columns)
    ['fraud', 'default', 'late_payment', 'loss_amount', 'risk_grade']
    """
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 100:
        raise ValueError(f"n_samples: expected an integer >= 100, got {n_samples!r}")
    if n_features is not None and (not isinstance(n_features, (int, np.integer))
                                   or n_features < 17):
        raise ValueError(f"n_features: expected None or an integer >= 17, got {n_features!r}")
    rng = check_random_state(random_state)
    n = int(n_samples)

    age = rng.uniform(21, 75, n).round()
    income = np.exp(rng.normal(10.8, 0.55, n)).round(-2)
    months_employed = np.minimum(rng.exponential(60, n), (age - 18) * 12).round()
    utilization = rng.beta(2, 3, n)
    n_delinquencies = rng.poisson(0.25 + 0.8 * utilization, n)
    open_accounts = rng.poisson(6, n)
    loan_amount = (income * rng.uniform(0.05, 0.6, n)).round(-2)
    debt_to_income = np.clip(rng.gamma(2.0, 0.09, n) + loan_amount / income / 5, 0, 1.5)
    term = rng.choice([36, 60], n, p=[0.7, 0.3])
    home = rng.choice(["rent", "mortgage", "own"], n, p=[0.45, 0.4, 0.15])
    purpose = rng.choice(
        ["debt_consolidation", "credit_card", "home_improvement", "car", "business", "other"],
        n, p=[0.45, 0.2, 0.1, 0.08, 0.07, 0.1],
    )
    channel = rng.choice(["branch", "web", "mobile", "broker"], n, p=[0.2, 0.4, 0.3, 0.1])
    txn_amount = np.exp(rng.normal(4.0, 1.1, n)).round(2)
    txn_hour = rng.randint(0, 24, n)
    foreign = (rng.random(n) < 0.08).astype(int)
    device_age_days = rng.exponential(300, n).round()
    txn_24h = rng.poisson(3, n)

    # Latent credit risk: non-linear in the features, plus what no feature shows.
    hidden = rng.normal(0, 1, n)
    risk = (
        1.6 * (debt_to_income - 0.35)
        + 2.2 * (utilization - 0.4) ** 2 * np.sign(utilization - 0.4)
        + 0.45 * np.minimum(n_delinquencies, 4)
        - 0.35 * np.log(income / 50_000)
        - 0.004 * months_employed
        + 0.25 * (term == 60)
        + 0.3 * (purpose == "business")
        - 0.2 * (home == "own")
        + 0.015 * np.abs(age - 45)
        + 0.35 * hidden
    )
    z_default = 2.0 * risk
    default = rng.random(n) < _sigmoid(z_default + _intercept_for_rate(z_default, 0.15))
    late = rng.random(n) < _sigmoid(z_default + 0.8 + _intercept_for_rate(z_default, 0.15))
    late = late | (default & (rng.random(n) < 0.8))

    # Fraud: new devices, odd hours, abroad, bursts of activity, and partly stressed borrowers.
    night = ((txn_hour < 5) | (txn_hour > 22)).astype(float)
    z_fraud = (
        1.3 * (device_age_days < 15)
        + 0.9 * night
        + 1.1 * foreign
        + 0.25 * np.maximum(txn_24h - 4, 0)
        + 0.6 * np.log1p(txn_amount) / 4
        + 0.5 * risk
        + 0.5 * (channel == "mobile")
    )
    z_fraud = 1.6 * z_fraud
    fraud = rng.random(n) < _sigmoid(z_fraud + _intercept_for_rate(z_fraud, 0.03))

    # Loss given default: share of the loan lost, higher for unsecured purposes.
    lgd = np.clip(
        0.45 + 0.15 * (purpose == "business") - 0.2 * (home == "mortgage") + 0.1 * risk
        + rng.normal(0, 0.12, n), 0.05, 1.0,
    )
    loss = (loan_amount * lgd).round(2)

    grade_score = risk + rng.normal(0, 0.35, n)
    grade = np.array(list("ABCDE"))[np.searchsorted(np.quantile(grade_score, [0.2, 0.45, 0.7, 0.88]),
                                                    grade_score)]

    X = pd.DataFrame({
        "age": age,
        "annual_income": income,
        "months_employed": months_employed,
        "credit_utilization": utilization.round(4),
        "delinquencies_2y": n_delinquencies,
        "open_accounts": open_accounts,
        "loan_amount": loan_amount,
        "debt_to_income": debt_to_income.round(4),
        "term_months": term,
        "home_ownership": pd.Categorical(home),
        "purpose": pd.Categorical(purpose),
        "channel": pd.Categorical(channel),
        "txn_amount": txn_amount,
        "txn_hour": txn_hour,
        "is_foreign": foreign,
        "device_age_days": device_age_days,
        "txns_last_24h": txn_24h,
    })

    if n_features is not None and n_features > X.shape[1]:
        numeric = [c for c in X.columns if not isinstance(X[c].dtype, pd.CategoricalDtype)]
        copies = {}
        for k in range(n_features - X.shape[1]):
            col = numeric[k % len(numeric)]
            base = X[col].to_numpy(dtype=float)
            noisy = base + rng.normal(0, 0.5 * (base.std() or 1.0), n)
            copies[f"{col}_copy{k // len(numeric)}"] = noisy.astype(np.float32)
        X = pd.concat([X, pd.DataFrame(copies)], axis=1)

    # Which labels are known.
    investigated = rng.random(n) < np.clip(0.35 + 0.4 * _sigmoid(z_fraud - 3.0), 0, 1)
    matured = rng.random(n) < 0.15
    seasoned = matured | (rng.random(n) < 0.75)
    Y = pd.DataFrame({
        "fraud": np.where(investigated, fraud.astype(float), np.nan),
        "default": np.where(matured, default.astype(float), np.nan),
        "late_payment": np.where(seasoned, late.astype(float), np.nan),
        "loss_amount": np.where(matured & default, loss, np.nan),
        "risk_grade": pd.array(grade, dtype="string"),
    })
    return X, Y
