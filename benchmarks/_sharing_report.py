"""Tables of the sharing benchmark: label-scarce gains, the ablation, all-label parity.

Every gain is paired: per seed, on the same split, against the best independent baseline of that
seed: the better of gbmtl with sharing off (``gbmtl_none``, bagged where gbmtl bags) and one plain
early-stopped LightGBM per task with gbmtl's default parameters (``lightgbm``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks._report import LOWER_IS_BETTER, frame_to_markdown, paired_diff

BASE = "best_independent"
_KEYS = ["dataset", "labelled_fraction", "task", "seed"]
MECHANISM_MODELS = ("gbmtl_offset", "gbmtl_stacking", "gbmtl_shared_trees", "gbmtl")


def with_best_independent(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` plus one ``best_independent`` row per dataset, fraction, task and seed."""
    ok = runs[(runs["status"] == "ok") & runs["model"].isin(["gbmtl_none", "lightgbm"])]
    rows = []
    for _, block in ok.groupby(_KEYS):
        lower = block["metric"].iloc[0] in LOWER_IS_BETTER
        best = block.loc[block["value"].idxmin() if lower else block["value"].idxmax()].copy()
        best["model"] = BASE
        best["note"] = f"from {best.name}"
        rows.append(best)
    return pd.concat([runs, pd.DataFrame(rows)], ignore_index=True) if rows else runs


def _paired(runs: pd.DataFrame, model: str, base: str = BASE) -> pd.DataFrame:
    """Paired gains against the best independent baseline by default."""
    return paired_diff(runs, model, base)


def _cell(diffs: pd.DataFrame, key) -> str:
    if key not in diffs.index:
        return "n/a"
    r = diffs.loc[key]
    return f"{r['mean']:+.4f} ± {r['std']:.4f} ({int(r['n'])})" if r["n"] > 1 \
        else f"{r['mean']:+.4f} (1)"


def _mean(runs, model, key, col="value") -> float:
    d, f, t = key
    sel = runs[(runs["model"] == model) & (runs["dataset"] == d) & (runs["task"] == t)
               & np.isclose(runs["labelled_fraction"], f) & (runs["status"] == "ok")]
    return float(sel[col].mean()) if len(sel) else np.nan


def scarce_table(runs: pd.DataFrame, main_task: dict[str, str]) -> pd.DataFrame:
    """Main task per dataset and fraction < 1: baseline level, gbmtl's and AutoGluon's paired
    gains, and fit seconds."""
    runs = with_best_independent(runs)
    main = runs[runs.apply(lambda r: main_task.get(r["dataset"]) == r["task"], axis=1)
                & (runs["labelled_fraction"] < 1)]
    diffs = {m: _paired(main, m) for m in ("gbmtl", "lightgbm", "autogluon")}
    vs_ag = _paired(main, "gbmtl", "autogluon")
    out = []
    for key in sorted({tuple(k) for k in main[["dataset", "labelled_fraction", "task"]]
                       .drop_duplicates().to_numpy()}):
        out.append({
            "dataset": key[0], "main task": key[2], "labelled": f"{key[1]:.0%}",
            "best independent": f"{_mean(main, BASE, key):.4f}",
            "gbmtl − best independent": _cell(diffs["gbmtl"], key),
            "AutoGluon − best independent": _cell(diffs["autogluon"], key),
            "gbmtl − AutoGluon": _cell(vs_ag, key),
            "fit s: lightgbm / gbmtl / AutoGluon": " / ".join(
                f"{_mean(main, m, key, 'fit_seconds'):.1f}"
                for m in ("lightgbm", "gbmtl", "autogluon")),
        })
    return pd.DataFrame(out)


def ablation_table(runs: pd.DataFrame, main_task: dict[str, str]) -> pd.DataFrame:
    """Each mechanism forced on, and the default choice: paired gain of the main task over the
    best independent baseline, per dataset and fraction."""
    runs = with_best_independent(runs)
    main = runs[runs.apply(lambda r: main_task.get(r["dataset"]) == r["task"], axis=1)]
    diffs = {m: _paired(main, m) for m in MECHANISM_MODELS}
    out = []
    for key in sorted({tuple(k) for k in main[["dataset", "labelled_fraction", "task"]]
                       .drop_duplicates().to_numpy()}):
        row = {"dataset": key[0], "main task": key[2], "labelled": f"{key[1]:.0%}"}
        for m in MECHANISM_MODELS:
            row[m.replace("gbmtl_", "forced ") if m != "gbmtl" else "gbmtl (auto)"] = _cell(
                diffs[m], key)
        out.append(row)
    return pd.DataFrame(out)


def parity_table(runs: pd.DataFrame) -> pd.DataFrame:
    """All labels, every task: gbmtl's paired difference to the best independent baseline, and
    whether it is within the tolerance (0.002 AUC, 0.5 % RMSE)."""
    runs = with_best_independent(runs)
    full = runs[np.isclose(runs["labelled_fraction"], 1.0)]
    diffs = _paired(full, "gbmtl")
    out = []
    for key, r in diffs.iterrows():
        metric = full[(full["dataset"] == key[0]) & (full["task"] == key[2])]["metric"].iloc[0]
        base = _mean(full, BASE, key)
        if metric in LOWER_IS_BETTER:
            ok = r["mean"] <= 0.005 * base
        else:
            ok = r["mean"] >= -0.002
        out.append({"dataset": key[0], "task": key[2], "metric": metric,
                    "best independent": f"{base:.4f}", "gbmtl": f"{_mean(full, 'gbmtl', key):.4f}",
                    "gbmtl − best independent": _cell(diffs, key),
                    "within tolerance": "yes" if ok else "**no**"})
    return pd.DataFrame(out)


def sharing_sections(runs: pd.DataFrame, main_task: dict[str, str]) -> list[str]:
    """Markdown sections for bench_summary.md."""
    text = []
    scarce = scarce_table(runs, main_task)
    if len(scarce):
        text += ["## Label-scarce main tasks: gbmtl and AutoGluon against the best independent "
                 "baseline (paired, mean ± std (seeds))\n", frame_to_markdown(scarce), ""]
    ablation = ablation_table(runs, main_task)
    if len(ablation):
        text += ["## Ablation: each mechanism forced on (main task, paired gain over the best "
                 "independent baseline)\n", frame_to_markdown(ablation), ""]
    parity = parity_table(runs)
    if len(parity):
        text += ["## All labels: every task against the best independent baseline\n",
                 frame_to_markdown(parity), ""]
    return text
