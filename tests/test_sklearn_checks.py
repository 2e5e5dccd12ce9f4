"""scikit-learn's own estimator checks on the thin classifier and regressor."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from gbmtl.sklearn_api import MultiTaskClassifier, MultiTaskRegressor

# Few rounds at a fast rate: the checks fit dozens of times on tables of a few hundred rows.
_FAST = {"params": {"n_estimators": 30, "learning_rate": 0.2}, "n_folds": 3, "random_state": 0,
         "n_jobs": 1}

_WEIGHT_REASON = (
    "weights are not equivalent to repeated rows: repeats change the random validation split "
    "and the folds, and LightGBM's min_data_in_leaf counts rows, not weight"
)
EXPECTED_FAILURES: dict = {
    name: {"check_sample_weight_equivalence_on_dense_data": _WEIGHT_REASON}
    for name in ("MultiTaskClassifier", "MultiTaskRegressor")
}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks(
    [MultiTaskClassifier(**_FAST), MultiTaskRegressor(**_FAST)],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
