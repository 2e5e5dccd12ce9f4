"""Tuning benchmark on Census-Income (KDD): what joint tuning buys, and what a second worker buys.

(a) Default ``MultiTaskBooster`` parameters vs ``MultiTaskTuner`` with N trials (income > 50K and
    never married, weighted equally), both scored on a held-out test split the tuner never saw.
(b) Wall time of the same number of trials with 1 worker process (2 threads) vs 2 worker processes
    (1 thread each) sharing one study through a journal file.

Protocol: only the UCI test file is available here; its rows are split at random (seed 0) into a
train half (tuning and fitting) and a test half (scoring). Results are not comparable with papers
trained on the full UCI train file.

    python benchmarks/tuning_bench.py            # 50 trials, 20-trial worker comparison
    python benchmarks/tuning_bench.py --quick    # a few minutes: subsample, few trials

Writes ``benchmarks/results/tuning.json`` and ``tuning.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
TASKS = ["income_50k", "never_married"]
logger = logging.getLogger("tuning_bench")


def load_data(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, str]:
    """Train and test parts of Census-Income with the two tasks, and the protocol's name."""
    from gbmtl.datasets import load_census_income

    X_tr, Y_tr = load_census_income(subset="train", random_state=seed)
    X_te, Y_te = load_census_income(subset="test", random_state=seed)
    return X_tr, Y_tr[TASKS], X_te, Y_te[TASKS], str(X_tr.attrs.get("protocol", "loader"))


def booster(n_estimators: int, n_folds: int, n_jobs: int | None, seed: int):
    from gbmtl.booster import MultiTaskBooster

    return MultiTaskBooster(
        tasks={t: "binary" for t in TASKS},
        params={"n_estimators": n_estimators, "verbose": -1},
        n_folds=n_folds,
        random_state=seed,
        n_jobs=n_jobs,
    )


def default_vs_tuned(X_tr, Y_tr, X_te, Y_te, args) -> dict:
    from gbmtl.tuning import MultiTaskTuner

    base = booster(args.n_estimators, args.n_folds, None, args.seed)
    start = time.perf_counter()
    base.fit(X_tr, Y_tr)
    default_fit = time.perf_counter() - start
    default_scores = base.task_scores(X_te, Y_te)

    import optuna

    tuner = MultiTaskTuner(
        base,
        n_trials=args.trials,
        cv=args.cv,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5),
        random_state=args.seed,
        show_progress_bar=args.progress,
    )
    start = time.perf_counter()
    tuner.fit(X_tr, Y_tr)
    tune_seconds = time.perf_counter() - start
    tuned_scores = tuner.best_estimator_.task_scores(X_te, Y_te)
    states = tuner.trials_dataframe()["state"].value_counts().to_dict()
    return {
        "trials": args.trials,
        "trial_states": states,
        "default_test_scores": default_scores.round(5).to_dict(),
        "tuned_test_scores": tuned_scores.round(5).to_dict(),
        "default_test_score": round(float(default_scores.mean()), 5),
        "tuned_test_score": round(float(tuned_scores.mean()), 5),
        "tuned_cv_score": round(float(tuner.best_score_), 5),
        "default_fit_seconds": round(default_fit, 2),
        "tuning_seconds": round(tune_seconds, 2),
        "tuning_to_default_fit_time_ratio": round(tune_seconds / default_fit, 2),
        "best_params": tuner.best_params_,
    }


def _config(tmp: Path, X, Y, args, n_jobs: int) -> Path:
    table = pd.concat([X, Y], axis=1)
    table.to_csv(tmp / "train.csv", index=False)
    text = f"""
[data]
path = "train.csv"
targets = {json.dumps(TASKS)}

[estimator]
n_folds = {args.n_folds}
random_state = {args.seed}
n_jobs = {n_jobs}
params = {{ n_estimators = {args.n_estimators}, verbose = -1 }}

[tuner]
cv = {args.cv}
seed = {args.seed}
"""
    path = tmp / f"tune_{n_jobs}.toml"
    path.write_text(text)
    return path


def workers_wall_time(X_tr, Y_tr, args) -> dict:
    results = {}
    cores = os.cpu_count() or 2
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for n_workers in (1, 2):
            config = _config(tmp, X_tr, Y_tr, args, n_jobs=max(1, cores // n_workers))
            journal = tmp / f"workers_{n_workers}.log"
            command = [sys.executable, "-m", "gbmtl.tuning", str(config), "--storage",
                       f"journal://{journal}", "--study", "bench",
                       "--n-trials", str(args.worker_trials)]
            start = time.perf_counter()
            procs = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True) for _ in range(n_workers)]
            for p in procs:
                _, err = p.communicate()
                if p.returncode != 0:
                    raise RuntimeError(f"worker failed:\n{err[-2000:]}")
            results[f"{n_workers}_worker_seconds"] = round(time.perf_counter() - start, 2)
            logger.info("%d worker(s): %.1f s", n_workers, results[f"{n_workers}_worker_seconds"])
    results["trials"] = args.worker_trials
    results["threads_per_worker"] = {"1": cores, "2": max(1, cores // 2)}
    results["speedup_2_vs_1"] = round(results["1_worker_seconds"] / results["2_worker_seconds"], 2)
    return results


def write_markdown(result: dict, path: Path) -> None:
    a, b = result["default_vs_tuned"], result["workers"]
    lines = [
        "# Tuning benchmark (Census-Income KDD: income > 50K, never married)",
        "",
        f"Protocol: {result['protocol']}; train rows {result['train_rows']}, "
        f"test rows {result['test_rows']}. Scores are test AUCs (mean of the two tasks).",
        f"Machine: {result['machine']}. Command: `{result['command']}`.",
        "",
        "## Default parameters vs tuned",
        "",
        "| | " + " | ".join(TASKS) + " | mean | seconds |",
        "|---|" + "---|" * (len(TASKS) + 2),
        "| default | " + " | ".join(f"{a['default_test_scores'][t]:.4f}" for t in TASKS)
        + f" | {a['default_test_score']:.4f} | {a['default_fit_seconds']} (fit) |",
        f"| tuned ({a['trials']} trials) | "
        + " | ".join(f"{a['tuned_test_scores'][t]:.4f}" for t in TASKS)
        + f" | {a['tuned_test_score']:.4f} | {a['tuning_seconds']} (tuning + refit) |",
        "",
        f"Tuning took {a['tuning_to_default_fit_time_ratio']}x one default fit; "
        f"trial states: {a['trial_states']}.",
        "",
        "## One vs two worker processes on one study (journal file)",
        "",
        f"{b['trials']} trials: 1 worker {b['1_worker_seconds']} s, 2 workers "
        f"{b['2_worker_seconds']} s, speed-up {b['speedup_2_vs_1']}x "
        f"(threads per worker: {b['threads_per_worker']}).",
        "",
    ]
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=50)
    p.add_argument("--worker-trials", type=int, default=20)
    p.add_argument("--rows", type=int, default=None, help="subsample this many training rows")
    p.add_argument("--n-estimators", type=int, default=1000)
    p.add_argument("--n-folds", type=int, default=5)
    p.add_argument("--cv", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true",
                   help="5,000 rows, 6 trials, 4 worker trials, 200 rounds, 3 folds")
    p.add_argument("--progress", action="store_true")
    p.add_argument("--out", default=str(HERE / "results"))
    args = p.parse_args(argv)
    if args.quick:
        args.trials, args.worker_trials, args.rows = 6, 4, args.rows or 5000
        args.n_estimators, args.n_folds = 200, 3
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    X_tr, Y_tr, X_te, Y_te, protocol = load_data(args.seed)
    if args.rows is not None and args.rows < len(X_tr):
        keep = np.random.default_rng(args.seed).choice(len(X_tr), args.rows, replace=False)
        X_tr, Y_tr = X_tr.iloc[np.sort(keep)], Y_tr.iloc[np.sort(keep)]
    logger.info("train %s, test %s (%s)", X_tr.shape, X_te.shape, protocol)

    a = default_vs_tuned(X_tr, Y_tr, X_te, Y_te, args)
    logger.info("default test %.4f, tuned test %.4f (ratio %.4f)", a["default_test_score"],
                a["tuned_test_score"], a["tuned_test_score"] / a["default_test_score"])
    b = workers_wall_time(X_tr, Y_tr, args)
    result = {
        "protocol": protocol,
        "train_rows": len(X_tr),
        "test_rows": len(X_te),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": "python benchmarks/tuning_bench.py " + " ".join(argv or sys.argv[1:]),
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "progress")},
        "default_vs_tuned": a,
        "workers": b,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tuning.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    write_markdown(result, out / "tuning.md")
    print(f"tuned/default test score ratio: "
          f"{a['tuned_test_score'] / a['default_test_score']:.4f}")
    print(f"tuning time / one default fit: {a['tuning_to_default_fit_time_ratio']}")
    print(f"2 workers vs 1 worker speed-up: {b['speedup_2_vs_1']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
