"""Fit time and peak memory with rows: gbmtl's default against a plain loop of one LightGBM per task.

``make_fintech`` widened to 50 features (33 noisy copies of numeric columns), tasks fraud,
default, late_payment and loss_amount, 200 rounds at most with early stopping on 20 % of each
task's labelled rows, the same parameters for both. Every variant fits in its own process so that
its peak memory is its own; sizes run smallest first, and each size runs the loop and gbmtl back
to back, so ratios compare runs on the same machine state.

    python -m benchmarks.scale [--rows 1000000,3000000,10000000] [--variants loop,auto]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from benchmarks._measure import machine, reset_peak, status_mb

RESULTS = Path(__file__).resolve().parent / "results"
TASKS = ["fraud", "default", "late_payment", "loss_amount"]
PARAMS = {"learning_rate": 0.1, "num_leaves": 31, "n_estimators": 200}
VARIANTS = ("loop", "none", "auto")


def _fit_loop(X, Y) -> float:
    """One LightGBM per task, early-stopped on 20 % of its own labelled rows."""
    import lightgbm as lgb
    import numpy as np

    for i, task in enumerate(Y.columns):
        rows = np.flatnonzero(Y[task].notna().to_numpy())
        rng = np.random.default_rng(i)
        val = np.zeros(len(rows), bool)
        val[rng.permutation(len(rows))[: len(rows) // 5]] = True
        y = Y[task].to_numpy()[rows]
        objective = "regression" if task == "loss_amount" else "binary"
        params = {"objective": objective, "verbosity": -1, "seed": i,
                  "learning_rate": PARAMS["learning_rate"], "num_leaves": PARAMS["num_leaves"]}
        train = lgb.Dataset(X.iloc[rows[~val]], y[~val])
        lgb.train(params, train, PARAMS["n_estimators"],
                  valid_sets=[lgb.Dataset(X.iloc[rows[val]], y[val], reference=train)],
                  callbacks=[lgb.early_stopping(50, verbose=False)])
    return 0.0


def run_variant(variant: str, rows: int) -> dict:
    from gbmtl import MultiTaskBooster
    from gbmtl._executor import JobTimer
    from gbmtl.datasets import make_fintech

    X, Y = make_fintech(rows, random_state=0, n_features=50)
    Y = Y[TASKS]
    base = status_mb("VmRSS")
    reset_peak()
    timer = JobTimer()
    start = time.perf_counter()
    chosen = {}
    if variant == "loop":
        _fit_loop(X, Y)
    else:
        model = MultiTaskBooster(params=PARAMS, sharing=variant, random_state=0)
        model.fit(X, Y, callbacks=[timer])
        chosen = model.sharing_report_["mechanism"].to_dict()
    fit_s = time.perf_counter() - start
    jobs = timer.frame()
    return {"variant": variant, "rows": rows, "fit_s": fit_s,
            "peak_mb": status_mb("VmHWM") - base, "x_mb": X.memory_usage(deep=True).sum() / 2**20,
            "by_role": jobs.groupby("role")["seconds"].sum().to_dict(), "chosen": chosen}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default="1000000")
    p.add_argument("--variants", default="loop,auto")
    p.add_argument("--variant", help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    sizes = [int(r) for r in args.rows.split(",")]
    if args.variant:
        print(json.dumps(run_variant(args.variant, sizes[0])))
        return 0
    variants = args.variants.split(",")
    runs = []
    for n in sizes:
        for v in variants:
            out = subprocess.run([sys.executable, "-m", "benchmarks.scale", "--variant", v,
                                  "--rows", str(n)], check=True, capture_output=True, text=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            r = runs[-1]
            print(f"{n:>10,} rows {v:5s} fit {r['fit_s']:7.1f} s  peak +{r['peak_mb']:7.0f} MB",
                  flush=True)
    lines = [
        "# Scale: fit time and peak memory with rows, against a loop of one LightGBM per task",
        "",
        f"Date {date.today().isoformat()}; {machine()}. `make_fintech(n, random_state=0, "
        f"n_features=50)`, tasks {TASKS}, params {PARAMS}, early stopping 50 on 20 % of each "
        "task's labelled rows. Each variant in its own process; peak = the fit's own peak "
        "resident memory above the process after loading the data.",
        "",
        "| rows | X MB | variant | fit s | fit ratio | peak MB | memory ratio | time by mechanism "
        "(s) | mechanisms chosen |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        loop = next((x for x in runs if x["rows"] == r["rows"] and x["variant"] == "loop"), None)
        fr = f"{r['fit_s'] / loop['fit_s']:.2f}x" if loop else "n/a"
        mr = f"{r['peak_mb'] / loop['peak_mb']:.2f}x" if loop else "n/a"
        roles = ", ".join(f"{k} {v:.1f}" for k, v in r["by_role"].items())
        lines.append(f"| {r['rows']:,} | {r['x_mb']:.0f} | {r['variant']} | {r['fit_s']:.1f} | "
                     f"{fr} | {r['peak_mb']:.0f} | {mr} | {roles or '-'} | "
                     f"{r['chosen'] or '-'} |")
    lines += ["", f"Command: `python -m benchmarks.scale --rows {args.rows} --variants "
              f"{args.variants}`"]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.md").write_text("\n".join(lines) + "\n")
    (args.out / "scale.json").write_text(json.dumps(runs, indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
