"""Benchmark reports: mean ± std tables over seeds in markdown, and one figure per dataset."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "COLUMNS", "frame_to_markdown", "paired_diff", "summarise", "markdown_tables", "headline", "scarce_gains",
    "plot",
]

#: Columns of the per-run table (CSV and JSON), one row per model, seed, fraction and task.
COLUMNS = [
    "dataset", "protocol", "model", "seed", "labelled_fraction", "task", "kind", "metric",
    "value", "n_train_labelled", "n_test", "fit_seconds", "predict_seconds", "status", "note",
]
LOWER_IS_BETTER = {"rmse", "mae", "logloss", "mlogloss"}
NEURAL_MODELS = ("single_mlp", "shared_bottom", "cross_stitch", "mmoe", "ple")
_KEYS = ["dataset", "labelled_fraction", "task", "metric", "model"]


def frame_to_markdown(frame: pd.DataFrame) -> str:
    """A pipe table of ``frame`` (without pandas' optional ``tabulate`` dependency)."""
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    lines = [head, "|" + "---|" * frame.shape[1]]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and seed count of each metric, with mean fit/predict seconds per model."""
    ok = runs[runs["status"] == "ok"]
    g = ok.groupby(_KEYS, sort=False)
    out = g.agg(mean=("value", "mean"), std=("value", "std"), n_seeds=("seed", "nunique"),
                fit_seconds=("fit_seconds", "mean"), predict_seconds=("predict_seconds", "mean"))
    return out.reset_index()


def _fmt(mean: float, std: float, n: int) -> str:
    if np.isnan(mean):
        return "n/a"
    return f"{mean:.4f} ± {std:.4f}" if n > 1 and not np.isnan(std) else f"{mean:.4f}"


def _best(block: pd.DataFrame, metric: str) -> float:
    return block["mean"].min() if metric in LOWER_IS_BETTER else block["mean"].max()


def markdown_tables(runs: pd.DataFrame) -> str:
    """One table per dataset and labelled fraction: models as rows, tasks as columns.

    Times are means over seeds of one fit (all tasks) and one predict of the test rows, and
    their ratio to the independent LightGBM baseline of the same runs. The best mean of each
    task is in bold.
    """
    summary = summarise(runs)
    lines = []
    for (dataset, frac), block in summary.groupby(["dataset", "labelled_fraction"], sort=False):
        tasks = list(dict.fromkeys(block["task"]))
        metrics = {t: block.loc[block["task"] == t, "metric"].iloc[0] for t in tasks}
        models = list(dict.fromkeys(block["model"]))
        base = block[block["model"] == "lightgbm"]
        base_fit = base["fit_seconds"].mean() if len(base) else np.nan
        base_pred = base["predict_seconds"].mean() if len(base) else np.nan
        n_seeds = int(block["n_seeds"].max())
        arrow = {t: "↓" if metrics[t] in LOWER_IS_BETTER else "↑" for t in tasks}
        lines.append(f"### {dataset}, labelled fraction {frac:g} ({n_seeds} seed(s))\n")
        head = ["model"] + [f"{t} ({metrics[t]} {arrow[t]})" for t in tasks]
        head += ["fit s", "fit ×lgbm", "predict s", "predict ×lgbm"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        best = {t: _best(block[block["task"] == t], metrics[t]) for t in tasks}
        for model in models:
            rows = block[block["model"] == model].set_index("task")
            cells = [model]
            for t in tasks:
                if t not in rows.index:
                    cells.append("n/a")
                    continue
                r = rows.loc[t]
                text = _fmt(r["mean"], r["std"], int(r["n_seeds"]))
                cells.append(f"**{text}**" if np.isclose(r["mean"], best[t]) else text)
            fit, pred = rows["fit_seconds"].mean(), rows["predict_seconds"].mean()
            cells += [f"{fit:.1f}", f"{fit / base_fit:.2f}", f"{pred:.2f}", f"{pred / base_pred:.2f}"]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    skipped = runs[runs["status"] != "ok"].drop_duplicates(["dataset", "model", "status", "note"])
    if len(skipped):
        lines.append("Not run:\n")
        for _, r in skipped.iterrows():
            lines.append(f"- {r['dataset']} / {r['model']}: {r['status']}: {r['note']}".rstrip(": "))
        lines.append("")
    return "\n".join(lines)


def paired_diff(runs: pd.DataFrame, model: str, base: str = "lightgbm") -> pd.DataFrame:
    """Per dataset, fraction and task: mean and std over seeds of ``model − base`` on the same
    split (the split's own variance cancels, unlike in the std of each model's metric)."""
    ok = runs[runs["status"] == "ok"]
    keys = ["dataset", "labelled_fraction", "task", "seed"]
    a = ok[ok["model"] == model].set_index(keys)["value"]
    b = ok[ok["model"] == base].set_index(keys)["value"]
    d = (a - b).dropna().rename("diff").reset_index()
    g = d.groupby(["dataset", "labelled_fraction", "task"])["diff"]
    return pd.DataFrame({"mean": g.mean(), "std": g.std(), "n": g.size()})


def _diff_text(diffs: pd.DataFrame, key) -> str:
    if key not in diffs.index:
        return "n/a"
    r = diffs.loc[key]
    std = f" ± {r['std']:.4f}" if r["n"] > 1 else ""
    return f"{r['mean']:+.4f}{std}"


def headline(runs: pd.DataFrame, fraction: float = 1.0) -> pd.DataFrame:
    """Per dataset and task: gbmtl (stacking), independent LightGBM, and the best neural model."""
    s = summarise(runs)
    s = s[np.isclose(s["labelled_fraction"], fraction)]
    diffs = paired_diff(runs, "gbmtl")
    rows = []
    for (dataset, task, metric), block in s.groupby(["dataset", "task", "metric"], sort=False):
        by = block.set_index("model")
        row = {"dataset": dataset, "task": task, "metric": metric}
        for m in ("gbmtl", "lightgbm"):
            row[m] = _fmt(by.loc[m, "mean"], by.loc[m, "std"], by.loc[m, "n_seeds"]) \
                if m in by.index else "n/a"
        neural = by[by.index.isin(NEURAL_MODELS)]
        if len(neural):
            pick = neural["mean"].idxmin() if metric in LOWER_IS_BETTER else neural["mean"].idxmax()
            r = neural.loc[pick]
            row["best neural"] = f"{pick}: {_fmt(r['mean'], r['std'], r['n_seeds'])}"
        else:
            row["best neural"] = "n/a"
        row["gbmtl − lightgbm (paired)"] = _diff_text(diffs, (dataset, block["labelled_fraction"]
                                                              .iloc[0], task))
        rows.append(row)
    return pd.DataFrame(rows)


def scarce_gains(runs: pd.DataFrame, main_task: dict[str, str]) -> pd.DataFrame:
    """Main-task metric per model (rows) and labelled fraction (columns): mean ± std and, in
    brackets, the paired difference to independent LightGBM at the same fraction and seed."""
    s = summarise(runs)
    s = s[s.apply(lambda r: main_task.get(r["dataset"]) == r["task"], axis=1)]
    diffs = {m: paired_diff(runs, m) for m in s["model"].unique() if m != "lightgbm"}
    cells: dict[tuple, dict] = {}
    for (dataset, frac), block in s.groupby(["dataset", "labelled_fraction"]):
        by = block.set_index("model")
        base = by.loc["lightgbm", "mean"] if "lightgbm" in by.index else np.nan
        for model, r in by.iterrows():
            key = (dataset, f"{r['task']} ({r['metric']})", model)
            text = _fmt(r["mean"], r["std"], r["n_seeds"])
            if model != "lightgbm" and not np.isnan(base):
                text += f" ({_diff_text(diffs[model], (dataset, frac, r['task']))})"
            cells.setdefault(key, {})[f"fraction {frac:g}"] = text
    if not cells:
        return pd.DataFrame()
    out = pd.DataFrame.from_dict(cells, orient="index").fillna("n/a")
    out = out[sorted(out.columns, key=lambda c: float(c.split()[-1]))]
    out.index = pd.MultiIndex.from_tuples(out.index, names=["dataset", "task", "model"])
    return out.reset_index()


def plot(runs: pd.DataFrame, path, main_task: dict[str, str] | None = None):
    """Metric by model (bars with ± std), or main-task metric vs labelled fraction when the runs
    hold several fractions. Returns the figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = summarise(runs)
    fractions = sorted(s["labelled_fraction"].unique())
    if len(fractions) > 1:
        main_task = main_task or {}
        s = s[s.apply(lambda r: main_task.get(r["dataset"], r["task"]) == r["task"], axis=1)]
    panels = list(s.groupby(["dataset", "task", "metric"], sort=False))
    ncols = min(3, max(1, len(panels)))
    nrows = -(-max(1, len(panels)) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.8 * nrows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, ((dataset, task, metric), block) in zip(axes.flat, panels, strict=False):
        if len(fractions) > 1:
            for model, mb in block.groupby("model", sort=False):
                mb = mb.sort_values("labelled_fraction")
                style = {"gbmtl": dict(lw=2.5, zorder=3), "lightgbm": dict(ls="--", zorder=4)}
                ax.errorbar(mb["labelled_fraction"], mb["mean"], yerr=mb["std"].fillna(0),
                            marker="o", capsize=3, label=model, **style.get(model, {}))
            ax.set_xscale("log")
            ax.set_xlabel(f"labelled fraction of {task}")
            ax.legend(fontsize=7)
        else:
            ax.barh(block["model"], block["mean"], xerr=block["std"].fillna(0), capsize=3,
                    color=["C1" if m == "gbmtl" else "C0" for m in block["model"]])
            err = block["std"].fillna(0)
            lo, hi = (block["mean"] - err).min(), (block["mean"] + err).max()
            pad = 0.1 * (hi - lo) if hi > lo else 0.01
            ax.set_xlim(lo - pad, hi + pad)
            ax.invert_yaxis()
            ax.set_xlabel(metric)
        ax.set_title(f"{dataset}: {task}", fontsize=9)
        ax.set_ylabel(metric if len(fractions) > 1 else "")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return fig
