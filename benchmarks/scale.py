"""Fit time and peak memory with rows: gbmtl's default against a plain loop of one LightGBM per task.

``make_fintech`` widened to 50 features (33 noisy copies of numeric columns), tasks fraud,
default, late_payment and loss_amount, 200 rounds at most with early stopping on 20 % of each
task's labelled rows, the same parameters for both. Every variant fits in its own process so that
its peak memory is its own; sizes run smallest first, and each size runs the loop and gbmtl back
to back, so ratios compare runs on the same machine state.

    python -m benchmarks.scale [--rows 1000000,3000000,10000000] [--variants loop,auto,binned]

``binned`` fits nothing: it measures LightGBM's binned copy of the table, for the memory table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

from benchmarks._measure import commit, machine, release_freed, reset_peak, status_mb
from gbmtl._executor import JobTimer

RESULTS = Path(__file__).resolve().parent / "results"
TASKS = ["fraud", "default", "late_payment", "loss_amount"]
PARAMS = {"learning_rate": 0.1, "num_leaves": 31, "n_estimators": 200}
VARIANTS = ("loop", "none", "auto", "binned")


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


class PhaseMemory(JobTimer):
    """Samples resident memory every 20 ms and keeps the peak of each phase: the training of
    each mechanism's models, and the work between them (out-of-fold predictions, GLMs, the
    choice), so that the report can say where a fit's memory goes."""

    def __init__(self, base_mb: float):
        super().__init__()
        self.base = base_mb
        self.phase = "setup"
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            rss = status_mb("VmRSS") - self.base
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), rss)

    def on_start(self, job) -> None:
        self.phase = f"training {job.role}"

    def on_end(self, job, seconds: float) -> None:
        super().on_end(job, seconds)
        self.phase = "between models"

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return {k: round(v) for k, v in self.peaks.items()}


def _binned_mb(X) -> float:
    """Resident memory of LightGBM's binned table of ``X`` (raw data freed), as the fit holds."""
    import lightgbm as lgb
    import numpy as np

    release_freed()
    before = status_mb("VmRSS")
    data = lgb.Dataset(X, np.zeros(len(X)), params={"verbosity": -1},
                       free_raw_data=True).construct()
    release_freed()  # the float copy of X that LightGBM bins from is freed by now
    after = status_mb("VmRSS")
    del data
    return after - before


def run_variant(variant: str, rows: int) -> dict:
    from gbmtl import MultiTaskBooster
    from gbmtl.datasets import make_fintech

    X, Y = make_fintech(rows, random_state=0, n_features=50)
    Y = Y[TASKS]
    base = status_mb("VmRSS")
    reset_peak()
    timer = PhaseMemory(base)
    start = time.perf_counter()
    chosen = {}
    if variant == "loop":
        _fit_loop(X, Y)
    elif variant == "binned":
        pass
    else:
        model = MultiTaskBooster(params=PARAMS, sharing=variant, random_state=0)
        model.fit(X, Y, callbacks=[timer])
        chosen = model.sharing_report_["mechanism"].to_dict()
    fit_s = time.perf_counter() - start
    phases = timer.stop()
    jobs = timer.frame()
    peak = status_mb("VmHWM") - base
    return {"variant": variant, "rows": rows, "commit": commit(), "fit_s": fit_s, "peak_mb": peak,
            "x_mb": X.memory_usage(deep=True).sum() / 2**20,
            "binned_mb": _binned_mb(X) if variant == "binned" else None,
            "peak_by_phase": phases if variant not in ("loop", "binned") else {},
            "by_role": (jobs.groupby("role")["seconds"].sum().to_dict() if len(jobs) else {}),
            "chosen": chosen}


def _growth(runs: list[dict]) -> list[str]:
    """Fit seconds per million rows at each size: flat means linear growth."""
    sizes = sorted({r["rows"] for r in runs})
    variants = [v for v in dict.fromkeys(r["variant"] for r in runs) if v != "binned"]
    if len(sizes) < 2:
        return []
    out = ["", "Growth with rows (fit seconds per million rows):", "",
           "| variant | " + " | ".join(f"{n:,}" for n in sizes) + " |",
           "|---|" + "---|" * len(sizes)]
    for v in variants:
        cells = []
        for n in sizes:
            r = next((x for x in runs if x["rows"] == n and x["variant"] == v), None)
            cells.append("-" if r is None else f"{r['fit_s'] / (n / 1e6):.1f}")
        out.append(f"| {v} | " + " | ".join(cells) + " |")
    return out


def _memory(runs: list[dict]) -> list[str]:
    """Where the default fit's memory goes, by size: the table, its binned copy, the
    out-of-fold score arrays (float64, one column per task and mechanism that needs them), and
    the peak of each phase of the fit, all above the process after loading the data."""
    out = ["", "Where memory goes (MB): X is the feature table as loaded (before the fit); the "
           "binned table is LightGBM's bins of X with the raw data freed, as the fit keeps it "
           "(measured alone); out-of-fold arrays are float64 scores of every row for each task "
           "and each mechanism that produces them; the phases are the fit's peaks while each "
           "mechanism's models train and between models (out-of-fold predictions, sibling GLMs, "
           "the choice).", "",
           "| rows | X | binned table | out-of-fold arrays (per mechanism) | peak by phase |",
           "|---|---|---|---|---|"]
    for n in sorted({r["rows"] for r in runs}):
        fit = next((x for x in runs if x["rows"] == n and x["variant"] == "auto"), None)
        binned = next((x for x in runs if x["rows"] == n and x["variant"] == "binned"), None)
        if fit is None:
            continue
        oof = n * len(TASKS) * 8 / 2**20
        phases = ", ".join(f"{k} {v:,}" for k, v in fit["peak_by_phase"].items())
        binned_mb = "-" if binned is None else f"{binned['binned_mb']:.0f}"
        out.append(f"| {n:,} | {fit['x_mb']:.0f} | {binned_mb} | {oof:.0f} | {phases} |")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default="1000000")
    p.add_argument("--variants", default="loop,auto")
    p.add_argument("--variant", help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--keep", action="store_true",
                   help="keep the other runs of the results file (each records its commit)")
    args = p.parse_args(argv)
    sizes = [int(r) for r in args.rows.split(",")]
    if args.variant:
        print(json.dumps(run_variant(args.variant, sizes[0])))
        return 0
    variants = args.variants.split(",")
    runs = []
    kept = []
    if args.keep and (args.out / "scale.json").exists():
        kept = [r for r in json.loads((args.out / "scale.json").read_text())
                if not (r["rows"] in sizes and r["variant"] in variants)]
    for n in sizes:
        for v in variants:
            out = subprocess.run([sys.executable, "-m", "benchmarks.scale", "--variant", v,
                                  "--rows", str(n)], check=True, capture_output=True, text=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            r = runs[-1]
            print(f"{n:>10,} rows {v:5s} fit {r['fit_s']:7.1f} s  peak +{r['peak_mb']:7.0f} MB",
                  flush=True)
    runs = sorted(kept + runs, key=lambda r: (r["rows"], VARIANTS.index(r["variant"])))
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
    for r in (r for r in runs if r["variant"] != "binned"):
        loop = next((x for x in runs if x["rows"] == r["rows"] and x["variant"] == "loop"), None)
        fr = f"{r['fit_s'] / loop['fit_s']:.2f}x" if loop else "n/a"
        mr = f"{r['peak_mb'] / loop['peak_mb']:.2f}x" if loop else "n/a"
        roles = ", ".join(f"{k} {v:.1f}" for k, v in r["by_role"].items())
        lines.append(f"| {r['rows']:,} | {r['x_mb']:.0f} | {r['variant']} | {r['fit_s']:.1f} | "
                     f"{fr} | {r['peak_mb']:.0f} | {mr} | {roles or '-'} | "
                     f"{r['chosen'] or '-'} |")
    lines += _growth(runs) + _memory(runs)
    lines += ["", f"Command: `python -m benchmarks.scale --rows {args.rows} --variants "
              f"{args.variants}{' --keep' if kept else ''}` at commit {commit()}."]
    if kept:
        earlier = sorted({r.get("commit", "?") for r in kept})
        lines.append(f"Runs kept from an earlier command at commit {', '.join(earlier)}: "
                     + "; ".join(f"{r['variant']} {r['rows']:,}" for r in kept) + ".")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.md").write_text("\n".join(lines) + "\n")
    (args.out / "scale.json").write_text(json.dumps(runs, indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
