"""Multi-task benchmark: gbmtl against independent LightGBM, multi-output trees and neural MTL.

Every model is fitted on the same seeded train split with its documented defaults (no tuning
for anyone) and scored on the same test rows: ROC AUC for binary tasks, macro one-vs-rest AUC
for multiclass tasks, RMSE for regression.

    python -m benchmarks.run --dataset census_income --models gbmtl,lightgbm,mmoe --seeds 3
    python -m benchmarks.run --dataset taiwan_credit --models gbmtl,lightgbm --fractions 0.02,0.1
    python -m benchmarks.run --dataset synthetic --quick
    python -m benchmarks.run --summary        # tables over every bench_*.csv in --out

``--fractions`` runs the label-scarce protocol: the main task (``_protocols.MAIN_TASK``) keeps
its labels on that fraction of the training rows, the sibling tasks keep all of theirs.
Outputs go to ``--out`` (default ``benchmarks/results``) as ``bench_<dataset>[_scarce][_quick]``
with the suffixes ``.csv`` and ``.json`` (one row per run and task), ``.md`` (mean ± std over
seeds) and ``.png``. The data sets are read from ``GBMTL_DATA_HOME`` (or ``--data-home``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
import traceback
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._models import MODELS, NEURAL, make_adapter
from benchmarks._protocols import DATASETS, MAIN_TASK, label_scarce, load_splits
from benchmarks._report import (
    COLUMNS,
    frame_to_markdown,
    headline,
    markdown_tables,
    plot,
    scarce_gains,
)
from benchmarks._sharing_report import sharing_sections

RESULTS = Path(__file__).resolve().parent / "results"
logger = logging.getLogger("benchmarks.run")


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=DATASETS)
    p.add_argument("--models", default=",".join(MODELS),
                   help=f"comma-separated, from {', '.join(MODELS)} (default: all)")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1 (default 3)")
    p.add_argument("--first-seed", type=int, default=0,
                   help="start at this seed (seeds F .. N-1): finish a run that was cut short "
                        "into a file of its own (with --tag); the summary merges them")
    p.add_argument("--quick", action="store_true",
                   help="2,000 training rows, few rounds/epochs, one seed: a smoke test")
    p.add_argument("--fractions", default="1.0",
                   help="labelled fractions of the main task, e.g. 0.02,0.1,1.0 (default 1.0)")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--data-home", default=None, help="default: GBMTL_DATA_HOME")
    p.add_argument("--n-jobs", type=int, default=1, help="threads per model (default 1)")
    p.add_argument("--tag", default="",
                   help="suffix of the output files, to keep runs of other models apart")
    p.add_argument("--summary", action="store_true",
                   help="only rebuild bench_summary.md from the bench_*.csv files in --out")
    args = p.parse_args(argv)
    if not args.summary and args.dataset is None:
        p.error("--dataset is required (or --summary)")
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(args.models) - set(MODELS))
    if unknown:
        p.error(f"unknown models {unknown}; expected some of {', '.join(MODELS)}")
    args.fractions = sorted({float(f) for f in args.fractions.split(",")})
    if any(not 0.0 < f <= 1.0 for f in args.fractions):
        p.error("--fractions must lie in (0, 1]")
    if args.quick:
        args.seeds = 1
    return args


def _score(kind: str, y: pd.Series, pred: np.ndarray, classes) -> tuple[str, float, int]:
    """The task's metric on its labelled test rows: AUC, macro OvR AUC, or RMSE."""
    from gbmtl.metrics import get_metric

    known = y.notna().to_numpy()
    if kind == "regression":
        yt = y.to_numpy(dtype=float)[known]
        return "rmse", get_metric("rmse")(yt, np.asarray(pred)[known]), int(known.sum())
    codes = pd.Index(classes).get_indexer(y[known])
    seen = codes >= 0  # a test class never seen in training cannot be scored
    p = np.asarray(pred)[known][seen]
    name = "auc" if kind == "binary" else "auc_ovr"
    return name, get_metric(name)(codes[seen], p), int(seen.sum())


def _run_model(name, split, seed, fraction, args) -> list[dict]:
    adapter = make_adapter(name, seed, n_jobs=args.n_jobs, quick=args.quick,
                           main_task=split.main_task)
    n_lab = split.Y_train.notna().sum()
    base = dict(dataset=split.dataset, protocol=split.protocol, model=name, seed=seed,
                labelled_fraction=fraction)

    def rows_for(status, note, **extra):
        return [dict(base, task=t, kind=k, metric="", value=np.nan,
                     n_train_labelled=int(n_lab[t]), n_test=len(split.Y_test), fit_seconds=np.nan,
                     predict_seconds=np.nan, status=status, note=note, **extra)
                for t, k in split.kinds.items()]

    reason = adapter.not_applicable(split.kinds, split.Y_train)
    if reason:
        logger.info("%s / %s: %s", split.dataset, name, reason)
        status, _, note = reason.partition(": ")
        return rows_for(status, note)
    try:
        t0 = time.perf_counter()
        adapter.fit(split.X_train, split.Y_train, split.kinds)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pred = adapter.predict(split.X_test)
        predict_s = time.perf_counter() - t0
    except Exception as err:  # keep a long run going; the error is recorded with the row
        logger.error("%s / %s failed:\n%s", split.dataset, name, traceback.format_exc())
        return rows_for("error", f"{type(err).__name__}: {err}")
    rows = []
    for task, kind in split.kinds.items():
        if task not in pred:
            only = getattr(adapter, "only", None)
            status = ("skipped", "fitted on the main task only") if only and task not in only \
                else ("error", "no prediction")
            rows += [r for r in rows_for(*status) if r["task"] == task]
            continue
        metric, value, n_test = _score(kind, split.Y_test[task], pred[task],
                                       adapter.classes.get(task))
        rows.append(dict(base, task=task, kind=kind, metric=metric, value=value,
                         n_train_labelled=int(n_lab[task]), n_test=n_test, fit_seconds=fit_s,
                         predict_seconds=predict_s, status="ok", note="; ".join(adapter.notes)))
    logger.info("%s frac=%g seed=%d %-13s fit %6.1fs predict %5.2fs  %s", split.dataset, fraction,
                seed, name, fit_s, predict_s,
                "  ".join(f"{r['task']}={r['value']:.4f}" for r in rows if r["status"] == "ok"))
    return rows


def _write(runs: pd.DataFrame, stem: Path) -> None:
    runs.to_csv(stem.with_suffix(".csv"), index=False)
    with open(stem.with_suffix(".json"), "w") as fh:
        json.dump(json.loads(runs.to_json(orient="records")), fh, indent=1)


def _machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.machine()}, {os.cpu_count()} cores, CPU only, Python "
            f"{platform.python_version()}, load average at the end {load:.1f}")


def _report(runs: pd.DataFrame, stem: Path, command: str, extra: pd.DataFrame | None) -> None:
    """Markdown and PNG of one output; ``extra`` rows (fraction 1.0 from the full run) are
    shown beside the label-scarce ones but not written to its CSV."""
    shown = runs if extra is None else pd.concat([extra, runs], ignore_index=True)
    protocols = sorted(set(runs["protocol"]))
    text = [f"# Benchmark {stem.name}\n", f"Date {date.today().isoformat()}; {_machine()}.\n",
            f"Command: `{command}`\n", "Protocols:\n"]
    text += [f"- {p}" for p in protocols] + [""]
    if extra is not None:
        text.append(f"Fraction 1.0 rows are taken from the full run ({len(extra)} rows).\n")
    text.append(markdown_tables(shown))
    stem.with_suffix(".md").write_text("\n".join(text))
    plot(shown, stem.with_suffix(".png"), _main_tasks(shown))


def _main_tasks(runs: pd.DataFrame) -> dict[str, str]:
    """Main task of every dataset name in ``runs`` (synthetic ones carry their correlation)."""
    out = {}
    for d in runs["dataset"].unique():
        key = "synthetic" if str(d).startswith("synthetic") else d
        out[d] = MAIN_TASK.get(key, "")
    return out


def summary(out: Path) -> Path:
    """``bench_summary.md``: headline and label-scarce tables over every full (non-quick) run."""
    files = sorted(p for p in out.glob("bench_*.csv") if not p.stem.endswith("_quick"))
    runs = pd.concat([pd.read_csv(p) for p in files], ignore_index=True) if files else None
    path = out / "bench_summary.md"
    if runs is None:
        path.write_text("# Benchmark summary\n\nNo results yet.\n")
        return path
    for p in files:  # a run cut short has its rows but no table or figure yet
        if not p.with_suffix(".png").is_file():
            _report(pd.read_csv(p), p.with_suffix(""), f"(partial run, rebuilt from {p.name})",
                    None)
    runs = runs.drop_duplicates(["dataset", "model", "seed", "labelled_fraction", "task"])
    main = _main_tasks(runs)
    text = ["# Benchmark summary\n", f"From {', '.join(p.name for p in files)}.\n",
            "## All labels (fraction 1.0)\n", frame_to_markdown(headline(runs)), ""]
    pairs = runs.loc[runs["labelled_fraction"] < 1, ["dataset", "model"]].drop_duplicates()
    gains = scarce_gains(runs.merge(pairs, on=["dataset", "model"]), main)
    if len(gains):
        text += ["## Label-scarce: main task\n", frame_to_markdown(gains), ""]
    text += sharing_sections(runs, main)
    path.write_text("\n".join(text))
    return path


def main(argv=None) -> dict[str, Path]:
    """Run one benchmark; returns the paths written (keys ``csv``, ``json``, ``md``, ``png``)."""
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stdout)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.summary:
        return {"md": summary(args.out)}
    if any(m in NEURAL for m in args.models):
        try:
            import torch

            # Measured faster than two threads on a busy two-core machine.
            torch.set_num_threads(args.n_jobs)
        except ImportError:
            logger.warning("PyTorch is not installed: the neural models are skipped")
    scarce = args.fractions != [1.0]
    stem = args.out / ("bench_" + args.dataset + ("_scarce" if scarce else "")
                       + (f"_{args.tag}" if args.tag else "") + ("_quick" if args.quick else ""))
    command = "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:])
    rows: list[dict] = []
    for seed in range(args.first_seed, args.seeds):
        for split in load_splits(args.dataset, seed, quick=args.quick, data_home=args.data_home):
            for fraction in args.fractions:
                part = label_scarce(split, fraction, seed)
                for name in args.models:
                    rows += _run_model(name, part, seed, fraction, args)
                    _write(pd.DataFrame(rows, columns=COLUMNS), stem)
    runs = pd.DataFrame(rows, columns=COLUMNS)
    extra = None
    full = args.out / ("bench_" + args.dataset + ("_quick" if args.quick else "") + ".csv")
    if scarce and 1.0 not in args.fractions and full.is_file():
        prev = pd.read_csv(full)
        extra = prev[prev["model"].isin(args.models) & (prev["seed"] < args.seeds)]
    _report(runs, stem, command, extra)
    logger.info("wrote %s.{csv,json,md,png}", stem)
    return {s: stem.with_suffix("." + s) for s in ("csv", "json", "md", "png")}


if __name__ == "__main__":
    main()
