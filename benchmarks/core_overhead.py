"""Fit/predict time and peak memory of MultiTaskBooster against a plain loop of one LightGBM per task.

Census-income (tasks income > 50K and never married). The loop uses the same parameters, the same
20 % early-stopping split per task and the same thread count; every variant runs in its own
process (so peak memory is its own), several times in alternating order, and the report gives
medians and ratios to the loop measured in the same run.

    python -m benchmarks.core_overhead [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

from benchmarks._measure import machine, reset_peak, status_mb

RESULTS = Path(__file__).resolve().parent / "results"
TASKS = ["income_50k", "never_married"]
PARAMS = {"learning_rate": 0.1, "num_leaves": 31}
#: The plain loop, gbmtl with sharing off, and gbmtl's default (sharing="auto").
VARIANTS = ["loop", "none", "auto"]


def _load(quick: bool):
    from gbmtl.datasets import load_census_income

    Xtr, Ytr = load_census_income(subset="train")
    Xte, Yte = load_census_income(subset="test")
    if quick:
        Xtr, Ytr, Xte, Yte = Xtr.iloc[:8000], Ytr.iloc[:8000], Xte.iloc[:4000], Yte.iloc[:4000]
    return Xtr, Ytr[TASKS], Xte, Yte[TASKS], Xtr.attrs.get("protocol", "")


def _fit_loop(X, Y):
    """The baseline: one LightGBM per task, early-stopped on 20 % of its own labelled rows."""
    import lightgbm as lgb
    from sklearn.model_selection import train_test_split

    models = {}
    for i, task in enumerate(Y.columns):
        rows = Y[task].notna().to_numpy()
        y = Y[task][rows].to_numpy()
        Xf, Xv, yf, yv = train_test_split(X[rows], y, test_size=0.2, stratify=y, random_state=i)
        params = {"objective": "binary", "verbosity": -1, "deterministic": True, "seed": i,
                  **PARAMS}
        train = lgb.Dataset(Xf, yf)
        models[task] = lgb.train(params, train, 1000, valid_sets=[lgb.Dataset(Xv, yv,
                                                                               reference=train)],
                                 callbacks=[lgb.early_stopping(50, verbose=False)])
    return models


def run_variant(variant: str, quick: bool) -> dict:
    """Fit and predict one variant in this process; report times, memory and test AUCs."""
    from sklearn.metrics import roc_auc_score

    from gbmtl import MultiTaskBooster
    from gbmtl._executor import JobTimer

    Xtr, Ytr, Xte, Yte, protocol = _load(quick)
    timer = JobTimer()
    base = status_mb("VmRSS")
    reset_peak()
    start = time.perf_counter()
    if variant == "loop":
        models = _fit_loop(Xtr, Ytr)
    else:
        model = MultiTaskBooster(params=PARAMS, sharing=variant, random_state=0)
        model.fit(Xtr, Ytr, callbacks=[timer])
    fit_s = time.perf_counter() - start
    peak = status_mb("VmHWM")
    start = time.perf_counter()
    if variant == "loop":
        pred = {t: m.predict(Xte, num_iteration=m.best_iteration) for t, m in models.items()}
    else:
        proba = model.predict_proba(Xte)
        pred = {t: p[:, 1] for t, p in proba.items()}
    predict_s = time.perf_counter() - start
    aucs = {t: float(roc_auc_score(Yte[t], pred[t])) for t in TASKS}
    jobs = timer.frame()
    phases = jobs.groupby("role")["seconds"].sum().to_dict()
    counts = {k: int(v) for k, v in jobs.groupby("role").size().items()}
    chosen = ({} if variant == "loop" else model.sharing_report_["mechanism"].to_dict())
    return {"variant": variant, "fit_s": fit_s, "predict_s": predict_s,
            "fit_peak_mb": peak - base, "auc": aucs, "n_train": len(Xtr), "n_test": len(Xte),
            "protocol": protocol, "phases": phases, "phase_counts": counts, "chosen": chosen}


def _breakdown(runs: list[dict]) -> list[str]:
    """Where the default fit's time goes, by mechanism: medians over repeats, in seconds and in
    loop fits (each repeat's part divided by the same repeat's loop fit)."""
    loop = {r["repeat"]: r["fit_s"] for r in runs if r["variant"] == "loop"}
    oof = [r for r in runs if r["variant"] == "auto"]
    names = ["independent", "offset", "stacking", "shared_trees"]
    names = [n for n in names if any(n in r["phases"] for r in oof)]
    parts = {f"{n} models": [r["phases"].get(n, 0.0) for r in oof] for n in names}
    parts["everything else (predictions, GLMs, choice)"] = [
        r["fit_s"] - sum(r["phases"].values()) for r in oof]
    counts = {f"{n} models": oof[0]["phase_counts"].get(n, "") for n in names}
    lines = ["Where the default fit (`sharing=\"auto\"`) spends its time, by mechanism "
             "(medians over repeats; loops = seconds divided by the same repeat's loop fit). "
             f"Mechanisms chosen: {oof[0]['chosen']}.", "",
             "| part | models | s | loops |", "|---|---|---|---|"]
    for name, secs in parts.items():
        count = counts.get(name, "")
        loops = [sec / loop[r["repeat"]] for sec, r in zip(secs, oof, strict=True)]
        lines.append(f"| {name} | {count} | {np.median(secs):.2f} | {np.median(loops):.2f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="8k training rows, one repeat")
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.quick)))
        return 0
    repeats = 1 if args.quick else args.repeats
    runs = []
    for r in range(repeats):
        order = VARIANTS if r % 2 == 0 else VARIANTS[::-1]
        for variant in order:
            cmd = [sys.executable, "-m", "benchmarks.core_overhead", "--variant", variant]
            out = subprocess.run(cmd + (["--quick"] if args.quick else []), check=True,
                                 capture_output=True, text=True).stdout
            runs.append({**json.loads(out.strip().splitlines()[-1]), "repeat": r})
            print(f"repeat {r}: {variant:5s} fit {runs[-1]['fit_s']:.2f} s, "
                  f"predict {runs[-1]['predict_s']:.3f} s, peak +{runs[-1]['fit_peak_mb']:.0f} MB",
                  flush=True)
    summary = {}
    for variant in VARIANTS:
        rs = [r for r in runs if r["variant"] == variant]
        summary[variant] = {
            "fit_s": float(np.median([r["fit_s"] for r in rs])),
            "predict_s": float(np.median([r["predict_s"] for r in rs])),
            "fit_peak_mb": float(np.median([r["fit_peak_mb"] for r in rs])),
            "auc": {t: float(np.mean([r["auc"][t] for r in rs])) for t in TASKS},
        }
    # Ratios are paired: each repeat runs every variant back to back, and the machine's speed
    # drifts between repeats by more than the differences measured here.
    by_repeat = {(r["repeat"], r["variant"]): r for r in runs}
    for variant in ("none", "auto"):
        s = summary[variant]
        for key, field in (("fit", "fit_s"), ("predict", "predict_s"),
                           ("memory", "fit_peak_mb")):
            ratios = [by_repeat[(r, variant)][field] / by_repeat[(r, "loop")][field]
                      for r in range(repeats)]
            s[f"{key}_ratio"] = float(np.median(ratios))
            s[f"{key}_ratio_range"] = [float(min(ratios)), float(max(ratios))]
    report = {
        "date": date.today().isoformat(),
        "machine": machine(),
        "protocol": runs[0]["protocol"], "n_train": runs[0]["n_train"],
        "n_test": runs[0]["n_test"], "repeats": repeats, "quick": args.quick,
        "params": PARAMS, "summary": summary, "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    stem = "core_overhead_quick" if args.quick else "core_overhead"
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2))
    lines = [
        "# MultiTaskBooster overhead vs one LightGBM per task (census-income)",
        "",
        f"Date {report['date']}; {report['machine']}; protocol {report['protocol']}; "
        f"{report['n_train']} training rows, {report['n_test']} test rows; tasks {TASKS}; "
        f"params {PARAMS}, early stopping 50 on 20 % of each task's rows; {repeats} repeats, "
        "each running every variant in its own process, back to back. Times and memory are "
        "medians over repeats; ratios are medians of each repeat's ratio to that repeat's loop "
        "(range in brackets).",
        "",
        "| variant | fit s | fit ratio | predict s | predict ratio | peak MB (fit) | memory ratio "
        "| AUC income | AUC never married |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for variant in VARIANTS:
        s = summary[variant]

        def ratio(k, s=s):
            if k not in s:
                return "1.00x"
            low, high = s[f"{k}_range"]
            return f"{s[k]:.2f}x [{low:.2f}-{high:.2f}]"

        lines.append(
            f"| {'loop of LightGBM' if variant == 'loop' else 'gbmtl sharing=' + variant} | "
            f"{s['fit_s']:.2f} | {ratio('fit_ratio')} | {s['predict_s']:.3f} | "
            f"{ratio('predict_ratio')} | {s['fit_peak_mb']:.0f} | {ratio('memory_ratio')} | "
            f"{s['auc']['income_50k']:.4f} | {s['auc']['never_married']:.4f} |"
        )
    lines += ["", *_breakdown(runs)]
    lines.append("")
    lines.append(f"Command: `python -m benchmarks.core_overhead{' --quick' if args.quick else ''}`")
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
