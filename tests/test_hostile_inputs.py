"""Inputs that once gave silent wrong answers or obscure errors: each now gives the right answer
or an error (or warning) that names the column, task or parameter."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import pytest

from gbmtl import MultiTaskBooster, Task
from tests._helpers import FAST, related_tasks

QUICK = dict(params=FAST, n_folds=3, random_state=0, sharing="none", n_jobs=1)


@pytest.fixture(scope="module")
def data():
    return related_tasks(300, seed=5)


@pytest.fixture(scope="module")
def fitted(data):
    X, Y = data
    return MultiTaskBooster(**QUICK).fit(X, Y)


# -- 9. polars: columns matched by name, names kept ---------------------------------------------


def test_polars_frames_are_read_by_name(data):
    pl = pytest.importorskip("polars")
    X, Y = data
    Xn = X.drop(columns="segment")
    m = MultiTaskBooster(**QUICK).fit(pl.from_pandas(Xn), pl.from_pandas(Y))
    assert [t.name for t in m.tasks_] == ["a", "b", "r"]
    assert list(m.feature_names_in_) == list(Xn.columns)
    np.testing.assert_allclose(m.predict_proba(pl.from_pandas(Xn))["a"],
                               m.predict_proba(Xn)["a"])
    with pytest.raises(ValueError, match="different order"):  # as for pandas, never by position
        m.predict(pl.from_pandas(Xn[Xn.columns[::-1]]))
    with pytest.raises(ValueError, match="f0"):
        m.predict(pl.from_pandas(Xn.rename(columns={"f0": "g0"})))


# -- 10. object arrays keep numeric columns numeric ---------------------------------------------


def test_object_array_keeps_numbers_numeric(data):
    X, Y = data
    arr = X.astype(object).to_numpy()
    m = MultiTaskBooster(**QUICK).fit(arr, Y)
    assert list(m.shared_.categories_) == [m.feature_names_in_[6]]  # only the text column
    nudged = arr.copy()
    nudged[:, 0] = nudged[:, 0].astype(float) * 1.0001
    moved = np.abs(m.predict_proba(nudged)["a"] - m.predict_proba(arr)["a"])
    assert moved.max() < 0.1  # a number not seen at fit is still a number, not missing


# -- 11. category codes at predict --------------------------------------------------------------


def test_category_codes_at_predict_are_refused(fitted, data):
    X, _ = data
    with pytest.raises(ValueError, match="'segment'.*category codes"):
        fitted.predict(X.assign(segment=X["segment"].cat.codes))


def test_mostly_unseen_categories_warn(fitted, data):
    X, _ = data
    with pytest.warns(UserWarning, match="'segment'.*not seen at fit"):
        fitted.predict(X.assign(segment=pd.Categorical(["zz"] * len(X))))


# -- 12. weights beyond float32 -----------------------------------------------------------------


@pytest.mark.parametrize("big", [1e39, 1e300])
def test_weights_that_overflow_float32_are_refused(data, big):
    X, Y = data
    w = np.ones(len(X))
    w[0] = big
    with pytest.raises(ValueError, match="sample_weight.*float32"):
        MultiTaskBooster(**QUICK).fit(X, Y, sample_weight=w)


# -- 13. objectives that do not fit the task ----------------------------------------------------


def test_binary_objective_on_a_regression_task_is_refused(data):
    X, Y = data
    tasks = ["a", "b", Task("r", params={"objective": "binary"})]
    with pytest.raises(ValueError, match="'r'.*regression.*'binary'"):
        MultiTaskBooster(tasks=tasks, **QUICK).fit(X, Y)


def test_regression_objective_on_a_binary_task_is_refused(data):
    X, Y = data
    tasks = [Task("a", backend="xgboost", params={"objective": "reg:squarederror"}), "b", "r"]
    with pytest.raises(ValueError, match="'a'.*binary.*reg:squarederror"):
        MultiTaskBooster(tasks=tasks, **QUICK).fit(X, Y)


# -- 14. a task named like a class column -------------------------------------------------------


def test_task_named_like_a_class_column_keeps_its_oof_column(data):
    X, Y = data
    rng = np.random.default_rng(0)
    Y2 = pd.DataFrame({"g": rng.choice(["a", "b", "c"], len(X)), "g_a": Y["b"]})
    m = MultiTaskBooster(**QUICK).fit(X, Y2)
    oof = m.oof_predictions_
    assert {"g_a", "g[a]", "g_b", "g_c"} <= set(oof.columns)
    labelled = Y2["g_a"].notna().to_numpy()
    assert not np.allclose(oof["g_a"].to_numpy()[labelled], oof["g[a]"].to_numpy()[labelled])


# -- 15. misspelled parameters ------------------------------------------------------------------


def test_misspelled_lightgbm_parameter_is_refused_with_a_suggestion(data):
    X, Y = data
    with pytest.raises(ValueError, match="'num_leafs'.*did you mean 'num_leaves'"):
        MultiTaskBooster(**{**QUICK, "params": {"num_leafs": 8}}).fit(X, Y)


def test_misspelled_xgboost_parameter_is_refused_with_a_suggestion(data):
    X, Y = data
    tasks = [Task("a", backend="xgboost", params={"max_dept": 3}), "b", "r"]
    with pytest.raises(ValueError, match="'a'.*'max_dept'.*did you mean 'max_depth'"):
        MultiTaskBooster(tasks=tasks, **QUICK).fit(X, Y)


def test_estimator_params_of_the_other_backend_are_kept_to_their_backend(data):
    X, Y = data
    tasks = [Task("a", backend="xgboost"), "b", "r"]
    m = MultiTaskBooster(tasks=tasks, **{**QUICK, "params": {**FAST, "max_depth": 3}}).fit(X, Y)
    assert m.predict_proba(X)["a"].shape == (len(X), 2)


def test_tuner_refuses_a_misspelled_search_space_before_any_trial(data):
    from gbmtl.tuning import MultiTaskTuner

    X, Y = data
    tuner = MultiTaskTuner(MultiTaskBooster(**QUICK), n_trials=2,
                           search_space={"num_leafs": ("int", 4, 16)})
    with pytest.raises(ValueError, match="num_leafs.*num_leaves"):
        tuner.fit(X, Y)


# -- 16. folds that leak ------------------------------------------------------------------------


class FixedFolds:
    """A user's splitter that hands out the folds it was given."""

    def __init__(self, folds):
        self.folds = folds

    def split(self, X, y=None, groups=None):
        yield from self.folds

    def get_n_splits(self, X=None, y=None, groups=None):
        return len(self.folds)


def _two_full_tasks(data):
    X, Y = data
    return X, pd.DataFrame({"b": Y["b"], "c": Y["b"].to_numpy()[::-1]})


def test_cv_with_overlapping_train_and_test_rows_is_refused(data):
    X, Y = _two_full_tasks(data)
    n = len(X)
    leaky = FixedFolds([(np.arange(n), np.arange(0, n // 2)),
                        (np.arange(n), np.arange(n // 2, n))])
    with pytest.raises(ValueError, match="cv fold 0 of task 'b' trains on 150 of the rows"):
        MultiTaskBooster(**{**QUICK, "cv": leaky, "sharing": "stacking"}).fit(X, Y)


def test_cv_with_an_empty_fold_or_rows_out_of_range_is_refused(data):
    X, Y = _two_full_tasks(data)
    n = len(X)
    empty = FixedFolds([(np.arange(n // 2), np.arange(n // 2, n)),
                        (np.arange(n), np.array([], int))])
    with pytest.raises(ValueError, match="cv fold 1 of task 'b' has no test rows"):
        MultiTaskBooster(**{**QUICK, "cv": empty, "sharing": "stacking"}).fit(X, Y)
    outside = FixedFolds([(np.arange(n // 2), np.arange(n // 2, n + 5)),
                          (np.arange(n // 2, n), np.arange(n // 2))])
    with pytest.raises(ValueError, match="cv returned row positions outside 0..299"):
        MultiTaskBooster(**{**QUICK, "cv": outside, "sharing": "stacking"}).fit(X, Y)


# -- 17. score() says which task it drops -------------------------------------------------------


def test_score_warns_about_a_task_it_cannot_score(fitted, data):
    X, Y = data
    Y1 = Y.assign(b=np.where(Y["b"].notna(), 1.0, np.nan))
    with pytest.warns(UserWarning, match=r"score: tasks \['b'\]"):
        fitted.score(X, Y1)


# -- 18. thin classes, two-valued regression ----------------------------------------------------


def test_thin_class_warns_with_the_task_the_class_and_the_folds(data):
    X, _ = data
    g = np.where(np.arange(len(X)) % 2 == 0, "x", "y").astype(object)
    g[:3] = "rare"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        MultiTaskBooster(**QUICK).fit(X, pd.DataFrame({"g": g}))
    texts = [str(w.message) for w in caught]
    assert any("'g'" in t and "'rare': 3" in t and "3 folds" in t for t in texts), texts
    assert not any("least populated class" in t for t in texts)


def test_two_valued_non_integer_target_is_regression(data):
    X, _ = data
    y = np.where(np.arange(len(X)) % 2 == 0, 0.25, 1.75)
    m = MultiTaskBooster(**QUICK).fit(X, pd.DataFrame({"rate": y}))
    assert m.tasks_[0].kind == "regression"


# -- obscure errors made clear ------------------------------------------------------------------


@pytest.mark.parametrize("column", [
    pd.Series(pd.date_range("2026-01-01", periods=300)),
    pd.Series(pd.to_timedelta(np.arange(300), "D")),
])
def test_date_and_duration_columns_are_refused_by_name(data, column):
    X, Y = data
    with pytest.raises(ValueError, match="'when'.*dates or durations"):
        MultiTaskBooster(**QUICK).fit(X.assign(when=column.to_numpy()), Y)


@pytest.mark.parametrize("backend", ["lightgbm", "xgboost"])
def test_any_pandas_names_work_with_both_backends(data, backend):
    X, Y = data
    names = ["a b", "a_b", 'age:"years"', "fraud:90d", "age<30", "[x]", "segment"]
    Xn = X.set_axis(names, axis=1)
    rng = np.random.default_rng(1)
    Yn = pd.DataFrame({"g": rng.choice(["0", "1", "2"], len(X)), "g_0": Y["b"],
                       "risk:90d": Y["a"]})
    m = MultiTaskBooster(**{**QUICK, "backend": backend}).fit(Xn, Yn)
    assert set(m.predict(Xn).columns) == {"g", "g_0", "risk:90d"}
    assert list(m.feature_importances_.index) == names or set(m.feature_importances_.index) \
        <= set(names)


@pytest.mark.parametrize("backend", ["lightgbm", "xgboost"])
def test_infinity_in_x_is_refused_by_column(data, backend):
    X, Y = data
    Xi = X.copy()
    Xi.loc[3, "f2"] = np.inf
    with pytest.raises(ValueError, match=r"\['f2'\].*infinite"):
        MultiTaskBooster(**{**QUICK, "backend": backend}).fit(Xi, Y)
    m = MultiTaskBooster(**{**QUICK, "backend": backend}).fit(X, Y)
    with pytest.raises(ValueError, match=r"\['f2'\].*infinite"):
        m.predict(Xi)


def test_a_table_with_no_columns_is_refused(data):
    _, Y = data
    with pytest.raises(ValueError, match="no columns"):
        MultiTaskBooster(**QUICK).fit(pd.DataFrame(index=Y.index), Y)


def test_zero_weight_on_a_tasks_labelled_rows_is_refused(data):
    X, Y = data
    w = pd.DataFrame({"a": np.where(Y["a"].notna(), 0.0, 1.0), "b": 1.0, "r": 1.0})
    with pytest.raises(ValueError, match=r"labelled row of tasks \['a'\]"):
        MultiTaskBooster(**QUICK).fit(X, Y, sample_weight=w)


@pytest.mark.parametrize("params, match", [
    ({"learning_rate": "fast"}, "'learning_rate' must be a number"),
    ({"n_estimators": "abc"}, "n_estimators"),
])
def test_parameters_of_the_wrong_type_are_refused(data, params, match):
    X, Y = data
    with pytest.raises((ValueError, TypeError), match=match):
        MultiTaskBooster(**{**QUICK, "params": {**FAST, **params}}).fit(X, Y)


def test_task_weight_of_the_wrong_type_is_refused(data):
    X, Y = data
    with pytest.raises(ValueError, match="Task 'a': weight must be a finite number"):
        MultiTaskBooster(tasks=[Task("a", weight="2"), "b", "r"], **QUICK).fit(X, Y)


def test_mixed_text_and_number_labels_are_refused_by_task(data):
    X, _ = data
    y = np.array([1, "a", 2] * 100, dtype=object)
    with pytest.raises(ValueError, match="'mixed'.*text and numbers"):
        MultiTaskBooster(**QUICK).fit(X, pd.DataFrame({"mixed": y}))


@pytest.mark.parametrize("value, match", [("high", "'r'.*number"), (np.inf, "'r'.*inf")])
def test_evaluate_with_bad_regression_labels_names_the_task(fitted, data, value, match):
    X, Y = data
    bad = Y.astype(object)
    bad.loc[0, "r"] = value
    with pytest.raises(ValueError, match=match):
        fitted.evaluate(X, bad)


def test_predict_on_zero_rows_returns_empty_outputs(fitted, data):
    X, _ = data
    out = fitted.predict(X.iloc[:0])
    assert list(out.columns) == ["a", "b", "r"] and len(out) == 0
    assert fitted.predict_proba(X.iloc[:0])["a"].shape[0] == 0


# -- also: logging and threads ------------------------------------------------------------------


def test_verbose_fit_leaves_the_logger_as_it_found_it(data, capsys):
    X, Y = data
    log = logging.getLogger("gbmtl")
    before = (log.level, log.propagate, list(log.handlers))
    MultiTaskBooster(**{**QUICK, "verbose": 2, "sharing": "auto"}).fit(X, Y)
    assert (log.level, log.propagate, list(log.handlers)) == before
    assert "task a:" in capsys.readouterr().err


def test_fits_in_threads_match_sequential_fits(data):
    from concurrent.futures import ThreadPoolExecutor

    X, Y = data
    seeds = [0, 1, 2, 3]

    def fit(seed):
        return MultiTaskBooster(**{**QUICK, "random_state": seed}).fit(X, Y).predict_proba(X)["a"]

    alone = [fit(s) for s in seeds]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(fit, seeds))
    for a, b in zip(alone, together, strict=True):
        np.testing.assert_array_equal(a, b)


def test_tuner_caps_threads_across_parallel_trials(data, monkeypatch):
    from gbmtl.tuning import MultiTaskTuner

    monkeypatch.setattr("gbmtl.tuning._tuner.available_cores", lambda: 4)
    tuner = MultiTaskTuner(MultiTaskBooster(**{**QUICK, "n_jobs": 4}), n_trials=2, n_jobs=2)
    with pytest.warns(UserWarning, match="8 threads on 4 cores"):
        capped = tuner._thread_budget(tuner.estimator)
    assert capped.n_jobs == 2


@pytest.mark.parametrize("sharing", ["none", "auto", "offset", "stacking", "shared_trees"])
def test_progress_total_is_known_at_the_start_and_met_exactly(data, sharing, monkeypatch):
    import gbmtl.booster as booster_module
    from gbmtl._executor import Callback

    X, Y = data
    planned = []
    real = booster_module.planned_jobs
    monkeypatch.setattr(booster_module, "planned_jobs", lambda ctx: planned.append(real(ctx))
                        or planned[-1])

    class Count(Callback):
        done = 0

        def on_end(self, job, seconds):
            Count.done += 1

        def on_skip(self, n_jobs):
            Count.done += n_jobs

    MultiTaskBooster(**{**QUICK, "sharing": sharing, "verbose": 1}).fit(X, Y, callbacks=[Count()])
    assert planned == [Count.done]


def test_binary_task_with_a_handful_of_positives_warns(data):
    X, _ = data
    y = np.zeros(len(X))
    y[[5, 50, 150]] = 1
    with pytest.warns(UserWarning, match=r"Task 'rare_event'.*\{1.0: 3\} \(of 300\)"):
        MultiTaskBooster(**QUICK).fit(X, pd.DataFrame({"rare_event": y}))


@pytest.mark.parametrize("rows", [5, 2000])  # small tables go through one copy, large per column
def test_read_only_tables_are_checked_without_writing_to_them(rows):
    from gbmtl._validation import check_feature_values

    values = np.arange(rows * 3, dtype=float).reshape(rows, 3)
    values[0, 1] = np.nan
    values.flags.writeable = False  # as a memory-mapped table
    check_feature_values(pd.DataFrame(values, columns=["a", "b", "c"]))
    bad = values.copy()
    bad[1, 2] = -np.inf
    bad.flags.writeable = False
    with pytest.raises(ValueError, match=r"columns \['c'\] hold infinite values"):
        check_feature_values(pd.DataFrame(bad, columns=["a", "b", "c"]))
