"""Latency of scoring one row for all tasks: RowScorer, predict_proba, and a plain LightGBM loop.

The model is the ``gbmtl demo`` one (``make_fintech``, 8,000 rows of which 6,000 train, five
tasks, ``sharing="auto"``). Each path scores the same test rows one at a time, ``--calls`` times
after a warm-up, first on a quiet machine and then beside two busy-looping processes. The
reference is a plain loop of one LightGBM booster per task (trained on the same rows, 200
rounds) predicting a one-row NumPy array. The report gives p50 and p99 in milliseconds.

    python -m benchmarks.scoring [--calls 2000] [--burners 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np

from benchmarks._measure import busy_processes, machine
from benchmarks._measure import commit as current_commit

RESULTS = Path(__file__).resolve().parent / "results"


def _setup(bagging="auto"):
    import lightgbm as lgb
    from sklearn.model_selection import train_test_split

    from gbmtl import MultiTaskBooster, RowScorer
    from gbmtl.datasets import make_fintech

    X, Y = make_fintech(n_samples=8_000, random_state=0)
    X_tr, X_te, Y_tr, _ = train_test_split(X, Y, test_size=0.25, random_state=0)
    model = MultiTaskBooster(random_state=0, bagging=bagging).fit(X_tr, Y_tr)
    start = time.perf_counter()
    scorer = RowScorer(model)
    model.build_s = time.perf_counter() - start  # (read back by run_phase)
    # The reference: one LightGBM per task on its labelled rows, categories as codes.
    codes = X_tr.apply(lambda c: c.cat.codes if c.dtype.name == "category" else c)
    objectives = {"binary": "binary", "regression": "regression", "multiclass": "multiclass"}
    boosters = []
    for t in model.tasks_:
        known = Y_tr[t.name].notna().to_numpy()
        y = Y_tr[t.name][known]
        if t.kind == "multiclass":
            y = y.astype("category").cat.codes
        params = {"objective": objectives[t.kind], "verbosity": -1, "num_threads": 1}
        if t.kind == "multiclass":
            params["num_class"] = int(y.nunique())
        boosters.append(lgb.train(params, lgb.Dataset(codes[known].to_numpy(float),
                                                      y.to_numpy(float)), 200))
    test_codes = X_te.apply(lambda c: c.cat.codes if c.dtype.name == "category" else c)
    return model, scorer, boosters, X_te, test_codes.to_numpy(float)


def _time(fn, n: int) -> np.ndarray:
    for i in range(50):
        fn(i)
    out = np.empty(n)
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        out[i] = time.perf_counter() - start
    return out * 1e3


def run_phase(calls: int) -> dict:
    from gbmtl import RowScorer

    warnings.simplefilter("ignore")
    out = {}
    for label, bagging in (("default model", "auto"), ("bagging=False model", False)):
        model, scorer, boosters, X_te, arr = _setup(bagging)
        rows = [X_te.iloc[i].to_dict() for i in range(len(X_te))]
        frames = [X_te.iloc[[i]] for i in range(200)]
        prepared = [scorer.prepare(r) for r in rows]
        n = len(rows)
        paths = {
            f"{label}: RowScorer.predict_proba(dict)":
                lambda i, s=scorer, r=rows, n=n: s.predict_proba(r[i % n]),
            f"{label}: RowScorer.predict_proba(one-row DataFrame)":
                lambda i, s=scorer, f=frames: s.predict_proba(f[i % 200]),
            f"{label}: RowScorer.predict_proba(prepared row)":
                lambda i, s=scorer, p=prepared, n=n: s.predict_proba(p[i % n], prepared=True),
            f"{label}: MultiTaskBooster.predict_proba(one-row DataFrame)":
                lambda i, m=model, f=frames: m.predict_proba(f[i % 200]),
        }
        if bagging == "auto":
            library = RowScorer(model, compiled=False)
            paths[f"{label}: RowScorer(compiled=False).predict_proba(dict)"] = (
                lambda i, s=library, r=rows, n=n: s.predict_proba(r[i % n]))

            def loop(i, arr=arr, n=n, boosters=boosters):
                return [b.predict(arr[i % n: i % n + 1], raw_score=True) for b in boosters]

            paths["plain loop of 5 LightGBM boosters, 200 rounds (NumPy row)"] = loop
        for name, fn in paths.items():
            k = calls
            t = _time(fn, k)
            out[name] = {"p50_ms": float(np.percentile(t, 50)),
                         "p99_ms": float(np.percentile(t, 99)), "calls": k}
        trees = sum(len(f.roots) for s in scorer._stage1.values() for f in s.walk.forests)
        out[f"_model {label}"] = {"mechanisms": model.sharing_report_["mechanism"].to_dict(),
                                  "stage1_lightgbm_trees": int(trees),
                                  "RowScorer_build_s": round(model.build_s, 2)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--burners", type=int, default=2)
    parser.add_argument("--phase", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        print(json.dumps(run_phase(args.calls)))
        return 0
    commit = current_commit()
    phases = {}
    for phase in ("quiet", "loaded"):
        with busy_processes(args.burners if phase == "loaded" else 0):
            out = subprocess.run([sys.executable, "-m", "benchmarks.scoring", "--phase",
                                  "--calls", str(args.calls)], check=True, capture_output=True,
                                 text=True).stdout
        phases[phase] = json.loads(out.strip().splitlines()[-1])
        print(phase, json.dumps(phases[phase]), flush=True)
    info = {k: phases["quiet"].pop(k) for k in list(phases["quiet"]) if k.startswith("_")}
    for k in [k for k in phases["loaded"] if k.startswith("_")]:
        phases["loaded"].pop(k)
    lines = [
        "# Scoring one row for every task", "",
        f"Date {date.today().isoformat()}; commit {commit}; {machine()}; "
        f"`python -m benchmarks.scoring --calls {args.calls} --burners {args.burners}`. The "
        "`gbmtl demo` model (make_fintech, 6,000 training rows, 5 tasks, sharing=\"auto\"), as "
        "fitted by default (bagged fold models) and with `bagging=False`; "
        f"{json.dumps(info)}. Scoring held-out rows one at a time after 50 "
        "warm-up calls; \"loaded\" = beside "
        f"{args.burners} busy-looping processes. Times in milliseconds per call (all tasks).",
        "The ratios are p50 over the plain loop's p50 in the same phase.",
        "", "| path | quiet p50 | quiet p99 | loaded p50 | loaded p99 | quiet ratio | "
        "loaded ratio |", "|---|---|---|---|---|---|---|"]
    loop = next(k for k in phases["quiet"] if k.startswith("plain loop"))
    for name in phases["quiet"]:
        q, ld = phases["quiet"][name], phases["loaded"][name]
        lines.append(f"| {name} | {q['p50_ms']:.3f} | {q['p99_ms']:.3f} | {ld['p50_ms']:.3f} | "
                     f"{ld['p99_ms']:.3f} | {q['p50_ms'] / phases['quiet'][loop]['p50_ms']:.2f}x"
                     f" | {ld['p50_ms'] / phases['loaded'][loop]['p50_ms']:.2f}x |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scoring.json").write_text(json.dumps(
        {"commit": commit, "machine": machine(), "phases": phases, "model": info}, indent=2))
    (RESULTS / "scoring.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
