"""Model-parallel fits on a local Dask cluster against the same fit in one process.

The default fit (sharing="auto") of the ``gbmtl demo`` table and of census-income (first 20,000
training rows), once locally (``n_jobs=None``: the load-aware threads) and once with
``executor="dask"`` on a ``LocalCluster`` of 2 worker processes with 1 thread each, in the same
run; the report gives wall times, the speed-up, and whether the predictions are identical. The
local fits run in a process of their own, so that nothing of the cluster's client is in their
way (a LightGBM booster loaded in one of Dask's threads once slowed every later LightGBM
training in the process, see ``gbmtl._dask._portable``).

    python -m benchmarks.dask_bench [--workers 2] [--repeats 1]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._measure import commit as current_commit
from benchmarks._measure import machine

RESULTS = Path(__file__).resolve().parent / "results"


def _tables():
    from sklearn.model_selection import train_test_split

    from gbmtl.datasets import make_fintech

    X, Y = make_fintech(n_samples=8_000, random_state=0)
    X, _, Y, _ = train_test_split(X, Y, test_size=0.25, random_state=0)
    yield "demo table (6,000 rows, 5 tasks)", X, Y
    try:
        from gbmtl.datasets import load_census_income

        Xc, Yc = load_census_income(subset="train", download_if_missing=False)
    except (FileNotFoundError, OSError):
        return
    yield ("census-income (20,000 rows, 2 tasks)", Xc.iloc[:20_000],
           Yc[["income_50k", "never_married"]].iloc[:20_000])


def _digest(predictions: pd.DataFrame) -> str:
    """A hash of every predicted value, exact to the bit (compared across processes)."""
    rows = pd.util.hash_pandas_object(predictions, index=True).to_numpy()
    return hashlib.sha1(rows.tobytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--local", type=int, help=argparse.SUPPRESS)  # table index, local fit
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    if args.local is not None:
        from gbmtl import MultiTaskBooster

        _, X, Y = list(_tables())[args.local]
        start = time.perf_counter()
        model = MultiTaskBooster(random_state=0).fit(X, Y)
        seconds = time.perf_counter() - start
        print(json.dumps({"seconds": seconds, "predict": _digest(model.predict(X))}))
        return 0
    import distributed

    from gbmtl import MultiTaskBooster

    commit = current_commit()
    cluster = distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                       processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    rows = []
    try:
        for index, (name, X, Y) in enumerate(_tables()):
            for r in range(args.repeats):
                times, preds = {}, {}
                for executor in ("local", "dask") if r % 2 == 0 else ("dask", "local"):
                    if executor == "local":
                        out = subprocess.run([sys.executable, "-m", "benchmarks.dask_bench",
                                              "--local", str(index)], check=True,
                                             capture_output=True, text=True).stdout
                        result = json.loads(out.strip().splitlines()[-1])
                        times[executor] = result["seconds"]
                        preds[executor] = result["predict"]
                        continue
                    model = MultiTaskBooster(random_state=0, executor=executor)
                    start = time.perf_counter()
                    model.fit(X, Y)
                    times[executor] = time.perf_counter() - start
                    preds[executor] = _digest(model.predict(X))
                same = preds["local"] == preds["dask"]
                rows.append({"table": name, "repeat": r, "local_s": times["local"],
                             "dask_s": times["dask"], "speedup": times["local"] / times["dask"],
                             "identical_predictions": same})
                print(json.dumps(rows[-1]), flush=True)
    finally:
        client.close()
        cluster.close()
    lines = [
        "# Model-parallel fits on a local Dask cluster", "",
        f"Date {date.today().isoformat()}; commit {commit}; {machine()}; "
        f"`python -m benchmarks.dask_bench --workers {args.workers} --repeats {args.repeats}`. "
        "Default fit (`sharing=\"auto\"`, `random_state=0`) locally, in a process of its own "
        "without a cluster (`n_jobs=None`), and "
        f"with `executor=\"dask\"` on a LocalCluster of {args.workers} worker processes x 1 "
        "thread, back to back in the same run. Speed-up = local / dask wall time.", "",
        "| table | local s | dask s | speed-up | identical predictions |", "|---|---|---|---|---|"]
    for table in dict.fromkeys(r["table"] for r in rows):
        rs = [r for r in rows if r["table"] == table]
        lines.append(f"| {table} | {np.median([r['local_s'] for r in rs]):.1f} | "
                     f"{np.median([r['dask_s'] for r in rs]):.1f} | "
                     f"{np.median([r['speedup'] for r in rs]):.2f}x | "
                     f"{all(r['identical_predictions'] for r in rs)} |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dask.json").write_text(json.dumps({"commit": commit, "machine": machine(),
                                                   "runs": rows}, indent=2))
    (RESULTS / "dask.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
