"""Data-parallel fits (``DaskMultiTaskBooster``) against a local fit of the same table.

``make_fintech`` rows, tasks fraud, default, late_payment and loss_amount, written to Parquet and
read back with ``dask.dataframe.read_parquet``, as a table too large for one machine would be;
the cluster is a ``LocalCluster`` of 2 worker processes x 1 thread. Each variant trains 100
rounds with 3 folds. The local fits (``MultiTaskBooster``, no bagging, the same rounds) run in a
process of their own, on the same 2 cores. Reports fit wall time, the ratio to the local fit of
the same sharing, and each binary task's test AUC (every fifth row held out).

    python -m benchmarks.dask_data [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np

from benchmarks._measure import commit as current_commit
from benchmarks._measure import machine

RESULTS = Path(__file__).resolve().parent / "results"
TASKS = ["fraud", "default", "late_payment", "loss_amount"]
BINARY = TASKS[:3]
ROUNDS, FOLDS = 100, 3


def _split(rows: int):
    from gbmtl.datasets import make_fintech

    X, Y = make_fintech(rows, random_state=0)
    test = np.arange(rows) % 5 == 0
    return X[~test], Y.loc[~test, TASKS], X[test], Y.loc[test, TASKS]


def _aucs(proba, Y) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    out = {}
    for t in BINARY:
        ok = Y[t].notna().to_numpy()
        out[t] = round(float(roc_auc_score(Y[t].to_numpy()[ok], np.asarray(proba[t])[ok])), 4)
    return out


def _local(rows: int, sharing: str) -> dict:
    from gbmtl import MultiTaskBooster

    X, Y, Xt, Yt = _split(rows)
    start = time.perf_counter()
    model = MultiTaskBooster(params={"n_estimators": ROUNDS}, sharing=sharing, n_folds=FOLDS,
                             bagging=False, random_state=0,
                             early_stopping_rounds=None if sharing == "none" else 50).fit(X, Y)
    seconds = time.perf_counter() - start
    proba = {t: p[:, 1] for t, p in model.predict_proba(Xt).items()}
    return {"seconds": seconds, "auc": _aucs(proba, Yt),
            "mechanisms": model.sharing_report_["mechanism"].to_dict()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--local", help=argparse.SUPPRESS)  # a sharing, fit locally
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    if args.local:
        print(json.dumps(_local(args.rows, args.local)))
        return 0
    import dask.dataframe as dd
    import distributed

    from gbmtl.dask_booster import DaskMultiTaskBooster

    commit = current_commit()
    X, Y, Xt, Yt = _split(args.rows)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        X.join(Y).to_parquet(Path(tmp) / "train.parquet", row_group_size=100_000)
        del X, Y
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        client = distributed.Client(cluster)
        try:
            for sharing in ("none", "auto"):
                out = subprocess.run([sys.executable, "-m", "benchmarks.dask_data", "--rows",
                                      str(args.rows), "--local", sharing], check=True,
                                     capture_output=True, text=True).stdout
                local = json.loads(out.strip().splitlines()[-1])
                frame = dd.read_parquet(Path(tmp) / "train.parquet", split_row_groups=True)
                start = time.perf_counter()
                model = DaskMultiTaskBooster(n_estimators=ROUNDS, sharing=sharing, n_folds=FOLDS,
                                             random_state=0)
                model.fit(frame[[c for c in frame.columns if c not in TASKS]], frame[TASKS])
                seconds = time.perf_counter() - start
                proba = model.predict_proba(dd.from_pandas(Xt, npartitions=4)).compute()
                rows.append({"sharing": sharing, "local_s": local["seconds"],
                             "dask_s": seconds, "local_auc": local["auc"],
                             "dask_auc": _aucs(proba, Yt),
                             "local_mechanisms": local["mechanisms"],
                             "dask_mechanisms": model.sharing_report_["mechanism"].to_dict()})
                print(json.dumps(rows[-1]), flush=True)
        finally:
            client.close()
            cluster.close()
    lines = [
        "# Data-parallel fits on a local Dask cluster", "",
        f"Date {date.today().isoformat()}; commit {commit}; {machine()}; "
        f"`python -m benchmarks.dask_data --rows {args.rows}`. `make_fintech({args.rows:,})`, "
        f"tasks {TASKS}, every fifth row held out for the AUCs; the training rows read from "
        "Parquet with `dask.dataframe.read_parquet`. `DaskMultiTaskBooster` on a LocalCluster "
        "of 2 worker processes x 1 thread against `MultiTaskBooster` (bagging off) in a process "
        f"of its own on the same 2 cores; {ROUNDS} rounds, {FOLDS} folds, the same sharing. The "
        "local fit with sharing early-stops on its validation part (it needs one to compare "
        "mechanisms); the data-parallel fit trains its rounds in full.", "",
        "| sharing | local fit s | data-parallel fit s | time ratio | local AUC | "
        "data-parallel AUC | mechanisms (local / data-parallel) |",
        "|---|---|---|---|---|---|---|"]
    for r in rows:
        auc = lambda a: ", ".join(f"{t} {v:.4f}" for t, v in a.items())  # noqa: E731
        lines.append(f"| {r['sharing']} | {r['local_s']:.1f} | {r['dask_s']:.1f} | "
                     f"{r['dask_s'] / r['local_s']:.2f}x | {auc(r['local_auc'])} | "
                     f"{auc(r['dask_auc'])} | {r['local_mechanisms']} / "
                     f"{r['dask_mechanisms']} |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dask_data.json").write_text(json.dumps({"commit": commit, "machine": machine(),
                                                        "rows": args.rows, "runs": rows},
                                                       indent=2))
    (RESULTS / "dask_data.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
