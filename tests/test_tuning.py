"""MultiTaskTuner: objectives, pruning, resuming, search spaces, config/CLI, plots, errors."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import TrialState

from gbmtl.booster import MultiTaskBooster
from gbmtl.tasks import Task
from gbmtl.tuning import (
    MultiTaskTuner,
    build_estimator,
    default_search_space,
    make_storage,
    plot_optimization_history,
    plot_param_importances,
    plot_pareto_front,
    plot_task_scores,
)
from gbmtl.tuning._cli import tune_main
from gbmtl.tuning._search_space import expand_search_space

optuna.logging.set_verbosity(optuna.logging.WARNING)


def make_table(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A binary and a regression task sharing a signal, with some labels missing."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 5)), columns=[f"f{i}" for i in range(5)])
    z = X["f0"] + 0.5 * X["f1"]
    Y = pd.DataFrame({
        "default": (z + rng.normal(size=n) > 0).astype(float),
        "loss": 2 * z + X["f2"] + 0.5 * rng.normal(size=n),
    })
    Y.loc[rng.random(n) < 0.1, "default"] = np.nan
    Y.loc[rng.random(n) < 0.3, "loss"] = np.nan
    X.index = Y.index = pd.RangeIndex(1000, 1000 + n)  # an index that is not 0..n-1
    return X, Y


def tiny_booster(**kw) -> MultiTaskBooster:
    params = {"n_estimators": 20, "verbose": -1}
    return MultiTaskBooster(params=params, n_folds=2, early_stopping_rounds=5, random_state=0,
                            n_jobs=1, **kw)


@pytest.fixture(scope="module")
def table():
    return make_table()


def test_weighted_objective(table):
    X, Y = table
    tuner = MultiTaskTuner(tiny_booster(), n_trials=3, cv=2, random_state=0).fit(X, Y)
    assert len(tuner.study_.trials) == 3
    assert set(tuner.best_task_scores_.index) == {"default", "loss"}
    expected = float((tuner.best_task_scores_ * tuner.weights_).sum())
    assert tuner.best_score_ == pytest.approx(expected)
    assert tuner.best_score_ == pytest.approx(tuner.study_.best_value)
    assert "default/num_leaves" in tuner.best_params_ and "loss/sharing" in tuner.best_params_
    # the refit model carries the best trial's per-task parameters
    fitted = {t.name: t for t in tuner.best_estimator_.tasks}
    assert fitted["loss"].params["num_leaves"] == tuner.best_params_["loss/num_leaves"]
    assert fitted["loss"].sharing == tuner.best_params_["loss/sharing"]
    scores = tuner.task_scores(X, Y)
    assert list(scores.index) == ["default", "loss"]
    assert isinstance(tuner.predict(X), pd.DataFrame)
    frame = tuner.trials_dataframe()
    for col in ("user_attrs_score_default", "user_attrs_score_loss", "user_attrs_fit_seconds"):
        assert col in frame.columns


def test_weights_change_the_objective(table):
    X, Y = table
    tuner = MultiTaskTuner(tiny_booster(), n_trials=2, cv=2, random_state=0,
                           weights={"default": 1.0, "loss": 0.0}).fit(X, Y)
    assert tuner.best_score_ == pytest.approx(tuner.best_task_scores_["default"])
    assert tuner.weights_.to_dict() == {"default": 1.0, "loss": 0.0}


def test_pareto_objective(table):
    X, Y = table
    with pytest.warns(UserWarning, match="prunes single-objective"):
        tuner = MultiTaskTuner(tiny_booster(), n_trials=4, cv=2, random_state=1, objective="pareto",
                               pruner=optuna.pruners.MedianPruner(), refit=False).fit(X, Y)
    assert len(tuner.study_.directions) == 2
    front = tuner.pareto_front_
    assert {"number", "weighted_score", "score_default", "score_loss"} <= set(front.columns)
    assert set(front["number"]) == {t.number for t in tuner.study_.best_trials}
    # best_params_ is the Pareto-optimal trial with the best weighted score
    assert tuner.best_trial_.number == front["number"].iloc[0]
    assert tuner.best_score_ == pytest.approx(front["weighted_score"].max())
    assert not hasattr(tuner, "best_estimator_")
    assert "values_default" in tuner.trials_dataframe().columns


def test_pruning_stops_bad_trials(table):
    X, Y = table

    def space(trial, tasks):
        # Trials 0, 1 and every even trial are sensible; odd ones from 3 on cannot split a node.
        bad = trial.number >= 3 and trial.number % 2 == 1
        leaf = 5000 if bad else 5
        return {f"{t.name}/min_child_samples": leaf for t in tasks} | {"sharing": "none"}

    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    tuner = MultiTaskTuner(tiny_booster(), n_trials=8, cv=3, search_space=space, pruner=pruner,
                           random_state=0, refit=False).fit(X, Y)
    trials = tuner.study_.trials
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert {t.number for t in pruned} == {3, 5, 7}
    assert all(len(t.intermediate_values) == 1 for t in pruned)  # stopped after the first fold
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert all(len(t.intermediate_values) == 3 for t in complete)
    assert len(trials) == 8  # pruned trials count towards n_trials


def test_sqlite_resume(table, tmp_path):
    X, Y = table
    url = f"sqlite:///{tmp_path / 'tune.db'}"
    kw = dict(cv=2, storage=url, study_name="resume", random_state=0, refit=False)
    MultiTaskTuner(tiny_booster(), n_trials=3, **kw).fit(X, Y)
    tuner = MultiTaskTuner(tiny_booster(), n_trials=5, **kw).fit(X, Y)
    numbers = [t.number for t in tuner.study_.trials]
    assert numbers == [0, 1, 2, 3, 4]
    assert all(t.state == TrialState.COMPLETE for t in tuner.study_.trials)
    # the resumed run proposes new parameters, not a replay of the first run
    params = [json.dumps(t.params, sort_keys=True) for t in tuner.study_.trials]
    assert len(set(params)) == 5
    # enough trials already: a third run adds none
    again = MultiTaskTuner(tiny_booster(), n_trials=4, **kw).fit(X, Y)
    assert len(again.study_.trials) == 5


def test_resume_with_other_tasks_is_refused(table, tmp_path):
    X, Y = table
    url = f"sqlite:///{tmp_path / 'tune.db'}"
    MultiTaskTuner(tiny_booster(), n_trials=1, cv=2, storage=url, study_name="s",
                   refit=False).fit(X, Y)
    with pytest.raises(ValueError, match="was tuned for tasks"):
        MultiTaskTuner(tiny_booster(), n_trials=2, cv=2, storage=url, study_name="s",
                       refit=False).fit(X, Y[["default"]])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"objective": "mean"}, "objective"),
        ({"n_trials": 0}, "n_trials"),
        ({"n_trials": 2.5}, "n_trials"),
        ({"weights": {"defualt": 1.0}}, "weights: unknown tasks"),
        ({"weights": {"default": -1.0}}, "non-negative"),
        ({"search_space": {"los/num_leaves": IntDistribution(2, 8)}}, "unknown tasks"),
        ({"search_space": [1, 2]}, "search_space"),
        ({"cv": 1}, "cv"),
        ({"storage": "tune.db"}, "storage"),
    ],
)
def test_bad_parameters(table, kwargs, match):
    X, Y = table
    with pytest.raises(ValueError, match=match):
        MultiTaskTuner(tiny_booster(), **kwargs).fit(X, Y)


def test_callable_space_with_unknown_task_fails_clearly(table):
    X, Y = table
    with pytest.raises(ValueError, match="unknown tasks"):
        MultiTaskTuner(tiny_booster(), n_trials=1, cv=2,
                       search_space=lambda trial, tasks: {"nope/num_leaves": 7}).fit(X, Y)


def test_search_space_expansion_and_mapping():
    tasks = [Task("a", kind="binary"), Task("b", kind="regression", params={"num_leaves": 3})]
    space = {"*/num_leaves": IntDistribution(2, 8), "b/num_leaves": 5, "lambda_l1": 0.1}
    expanded = expand_search_space(space, tasks)
    assert expanded["a/num_leaves"] == IntDistribution(2, 8)
    assert expanded["b/num_leaves"] == 5
    est = build_estimator(
        tiny_booster(),
        tasks,
        {"a/num_leaves": 4, "b/use_siblings": False, "a/use_siblings": True,
         "sharing": "none", "n_folds": 3, "lambda_l1": 0.1, "a/sharing": "offset",
         "shared_trees:max_depth": 3},
    )
    by_name = {t.name: t for t in est.tasks}
    assert by_name["a"].params == {"num_leaves": 4}
    assert by_name["b"].params == {"num_leaves": 3}  # the task's own params are kept
    assert by_name["a"].sharing == "offset" and by_name["b"].sharing is None
    assert est.siblings == {"a": ["b"], "b": []}
    assert est.sharing == "none" and est.n_folds == 3
    assert est.sharing_params == {"shared_trees": {"max_depth": 3}}
    assert est.params == {"n_estimators": 20, "verbose": -1, "lambda_l1": 0.1}


def test_default_search_spaces():
    lgb = default_search_space("lightgbm")
    xgb = default_search_space("xgboost", n_tasks=1)
    assert "*/num_leaves" in lgb and "*/sharing" in lgb
    assert "*/max_depth" in xgb and "*/sharing" not in xgb
    assert isinstance(lgb["*/sharing"], CategoricalDistribution)
    with pytest.raises(ValueError, match="backend"):
        default_search_space("catboost")


def test_make_storage_kinds(tmp_path):
    assert make_storage(None) is None
    journal = make_storage(f"journal://{tmp_path / 'a.log'}")
    assert type(journal).__name__ == "JournalStorage"
    assert type(make_storage(str(tmp_path / "b.journal"))).__name__ == "JournalStorage"
    rdb = make_storage(f"sqlite:///{tmp_path / 'c.db'}", heartbeat_interval=5, grace_period=10)
    assert rdb.heartbeat_interval == 5 and rdb.grace_period == 10
    assert rdb.heartbeat_stale_trial_callback is not None


def write_config(
    tmp_path,
    n: int = 600,
    extra: str = "",
    tuner: str = "",
    params: str = "n_estimators = 20, verbose = -1",
    early_stopping_rounds: int = 5,
) -> str:
    """A CSV of the synthetic table and a TOML config naming it; returns the config path."""
    X, Y = make_table(n)
    pd.concat([X, Y], axis=1).assign(id=np.arange(n)).to_csv(tmp_path / "table.csv", index=False)
    config = f"""
[data]
path = "table.csv"
targets = ["default", "loss"]
drop = ["id"]

[tasks.default]
kind = "binary"
weight = 2.0

[tasks.loss]
kind = "regression"

[estimator]
n_folds = 2
early_stopping_rounds = {early_stopping_rounds}
random_state = 0
n_jobs = 1
params = {{ {params} }}

[tuner]
cv = 2
seed = 0
{tuner}

[search_space]
"*/num_leaves" = {{ int = [4, 32], log = true }}
"*/learning_rate" = {{ float = [0.05, 0.3], log = true }}
"*/sharing" = {{ choices = ["none", "offset", "stacking"] }}
"loss/lambda_l2" = 1.0
{extra}
"""
    path = tmp_path / "tune.toml"
    path.write_text(config)
    return str(path)


def test_cli_in_process(tmp_path, capsys):
    config = write_config(tmp_path)
    out = tmp_path / "best.json"
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    rc = tune_main([config, "--storage", url, "--study", "cli", "--n-trials", "3",
                    "--output", str(out)])
    assert rc == 0
    result = json.loads(out.read_text())
    assert result["trials"] == {"COMPLETE": 3}
    assert result["best_params"]["loss/lambda_l2"] == 1.0
    assert set(result["best_task_scores"]) == {"default", "loss"}
    assert json.loads(capsys.readouterr().out)["study"] == "cli"
    study = optuna.load_study(study_name="cli", storage=url)
    assert study.user_attrs["gbmtl_tasks"] == ["default", "loss"]


def test_config_errors(tmp_path):
    bad = write_config(tmp_path, extra='"x" = { int = [1] }')
    with pytest.raises(ValueError, match="needs \\[low, high\\]"):
        tune_main([bad, "--n-trials", "1"])
    bad = write_config(tmp_path, tuner='colour = "red"')
    with pytest.raises(ValueError, match="unknown \\[tuner\\] keys"):
        tune_main([bad, "--n-trials", "1"])


def test_plots(table):
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    X, Y = table
    tuner = MultiTaskTuner(tiny_booster(), n_trials=4, cv=2, random_state=0, refit=False)
    tuner.fit(X, Y)
    fig, axes = plt.subplots(2, 2)
    assert plot_optimization_history(tuner, ax=axes[0, 0]) is axes[0, 0]
    assert plot_task_scores(tuner, ax=axes[0, 1]) is axes[0, 1]
    assert plot_pareto_front(tuner, ax=axes[1, 0]) is axes[1, 0]
    assert plot_param_importances(tuner, ax=axes[1, 1]) is axes[1, 1]
    assert plot_optimization_history(tuner).figure is not fig
    plt.close("all")


def test_thin_class_is_refused_before_any_trial(table):
    X, Y = table
    Y = Y.copy()
    Y["rare"] = 0.0
    Y.iloc[[3, 10], Y.columns.get_loc("rare")] = 1.0  # 2 positives in 600 rows
    tuner = MultiTaskTuner(tiny_booster(), n_trials=2, cv=3, random_state=0)
    with pytest.raises(ValueError, match=r"task 'rare': the training part of tuning fold \d") as e:
        tuner.fit(X, Y)
    assert "cv=2" in str(e.value)
    assert not hasattr(tuner, "study_")  # refused before the study ran


def test_effective_params_drop_what_had_no_effect():
    from gbmtl.tuning import effective_params

    params = {"y/sharing": "none", "y/use_siblings": True, "z/sharing": "offset",
              "z/use_siblings": True, "w/use_siblings": False, "w/sharing": "stacking",
              "lr": 0.1}
    assert effective_params(params) == {"y/sharing": "none", "z/sharing": "offset",
                                        "z/use_siblings": True, "w/sharing": "none", "lr": 0.1}


def test_best_params_do_not_contradict_themselves(table):
    X, Y = table
    space = {"*/sharing": CategoricalDistribution(["none"]),
             "*/use_siblings": CategoricalDistribution([True])}
    tuner = MultiTaskTuner(tiny_booster(), n_trials=1, cv=2, random_state=0, refit=False,
                           search_space=space).fit(X, Y)
    assert tuner.best_params_ == {"default/sharing": "none", "loss/sharing": "none"}


def test_verbose_cli_logs_each_trial_and_fold(tmp_path, caplog):
    import logging

    config = write_config(tmp_path)
    with caplog.at_level(logging.INFO, logger="gbmtl"):
        assert tune_main([config, "--n-trials", "1", "-v"]) == 0
    text = caplog.text
    assert "rows, 5 features, tasks ['default', 'loss']" in text
    assert "trial 0 started" in text and "trial 0: fold 1/2 done" in text
    assert "trial 0 finished" in text


def test_a_failed_trial_is_reported_once_without_its_stack(tmp_path):
    import subprocess
    import sys

    config = write_config(tmp_path, extra='"*/min_child_samples" = { int = [-5, -1] }')
    cmd = [sys.executable, "-m", "gbmtl.cli", "tune", config, "--n-trials", "1"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr and run.stderr.count("Trial 0 failed with parameters") == 1
    assert run.stderr.strip().splitlines()[-1].startswith("gbmtl: error:")
    shown = subprocess.run(cmd[:3] + ["--traceback"] + cmd[3:], capture_output=True, text=True,
                           timeout=300)
    assert shown.returncode != 0 and "Traceback" in shown.stderr
