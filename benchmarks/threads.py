"""Fit time with other CPU-bound jobs beside it: all cores, one thread, and the load-aware default.

Two workloads: the ``gbmtl demo`` fits (``make_fintech``, sharing off then ``"auto"``) and a
census-income fit with the default sharing (first 20,000 training rows, two tasks). Each runs in
its own process with ``n_jobs=-1`` (every core: the default before the load-aware policy),
``n_jobs=1``, and ``n_jobs=None`` (the load-aware default), first on a quiet machine and then with
two busy-looping processes running beside it. The report gives wall and CPU seconds and each
setting's ratio to ``n_jobs=-1`` measured in the same phase.

    python -m benchmarks.threads [--workloads demo census] [--burners 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from benchmarks._measure import busy_processes, machine
from benchmarks._measure import commit as current_commit

RESULTS = Path(__file__).resolve().parent / "results"
SETTINGS = {"-1": -1, "1": 1, "None": None}
CENSUS_ROWS = 20_000


def run_one(workload: str, n_jobs: int | None) -> dict:
    """Fit one workload in this process; wall and CPU seconds of the fits only."""
    import os
    import warnings

    from gbmtl import MultiTaskBooster

    warnings.simplefilter("ignore")
    if workload == "demo":
        from sklearn.model_selection import train_test_split

        from gbmtl.datasets import make_fintech

        X, Y = make_fintech(n_samples=8_000, random_state=0)
        X, _, Y, _ = train_test_split(X, Y, test_size=0.25, random_state=0)
        fits = [MultiTaskBooster(sharing=s, random_state=0, n_jobs=n_jobs) for s in ("none", "auto")]
    else:
        from gbmtl.datasets import load_census_income

        X, Y = load_census_income(subset="train")
        X, Y = X.iloc[:CENSUS_ROWS], Y[["income_50k", "never_married"]].iloc[:CENSUS_ROWS]
        fits = [MultiTaskBooster(random_state=0, n_jobs=n_jobs)]
    cpu0, start = os.times(), time.perf_counter()
    for model in fits:
        model.fit(X, Y)
    wall, cpu1 = time.perf_counter() - start, os.times()
    return {"wall_s": wall, "cpu_s": (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=["demo", "census"],
                        choices=["demo", "census"])
    parser.add_argument("--burners", type=int, default=2)
    parser.add_argument("--one", nargs=2, metavar=("WORKLOAD", "N_JOBS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one[0], SETTINGS[args.one[1]])))
        return 0
    commit = current_commit()
    runs = []
    for phase in ("quiet", "loaded"):
        with busy_processes(args.burners if phase == "loaded" else 0):
            for workload in args.workloads:
                for name in SETTINGS:
                    out = subprocess.run(
                        [sys.executable, "-m", "benchmarks.threads", "--one", workload, name],
                        check=True, capture_output=True, text=True).stdout
                    run = {"phase": phase, "workload": workload, "n_jobs": name,
                           **json.loads(out.strip().splitlines()[-1])}
                    runs.append(run)
                    print(f"{phase:6s} {workload:6s} n_jobs={name:4s} wall {run['wall_s']:.1f} s"
                          f" cpu {run['cpu_s']:.1f} s", flush=True)
    base = {(r["phase"], r["workload"]): r["wall_s"] for r in runs if r["n_jobs"] == "-1"}
    lines = [
        "# Fit time beside other CPU-bound jobs (thread policy)", "",
        f"Date {date.today().isoformat()}; commit {commit}; {machine()}; "
        f"`python -m benchmarks.threads --burners {args.burners}`. Workloads: `demo` = the two "
        "fits of `gbmtl demo` (8,000 rows, 6,000 for training, sharing off then \"auto\"); "
        f"`census` = census-income, first {CENSUS_ROWS:,} training rows, tasks income_50k and "
        "never_married, default sharing. \"loaded\" = with "
        f"{args.burners} busy-looping processes beside the fit. Each cell is one run in its own "
        "process; ratio = wall time / wall time of `n_jobs=-1` in the same phase (below 1 is "
        "faster). `n_jobs=-1` is what the default did before the load-aware policy; `None` is "
        "the default now.", "",
        "| phase | workload | n_jobs | wall s | CPU s | ratio to -1 |", "|---|---|---|---|---|---|"]
    for r in runs:
        ratio = r["wall_s"] / base[(r["phase"], r["workload"])]
        lines.append(f"| {r['phase']} | {r['workload']} | {r['n_jobs']} | {r['wall_s']:.1f} | "
                     f"{r['cpu_s']:.1f} | {ratio:.2f} |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "threads.json").write_text(json.dumps(
        {"date": date.today().isoformat(), "commit": commit, "machine": machine(),
         "burners": args.burners, "runs": runs}, indent=2))
    (RESULTS / "threads.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
