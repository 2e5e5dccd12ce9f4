"""AutoGluon-Tabular, the single-task AutoML an analyst would reach for instead of gbmtl.

One ``TabularPredictor`` per task on that task's labelled rows, GBM-family models only (LightGBM,
CatBoost, XGBoost) with 5-fold bagging, and the same time budget for every task. It runs in a
worker process of the interpreter in ``GBMTL_AUTOML_PYTHON``, else ``.venv-automl`` beside the
repository, else this one if it has AutoGluon (``pip install -e ".[automl]"``). AutoGluon pins
pandas 2, so keeping it in an environment of its own leaves gbmtl's on pandas 3::

    python3 -m venv .venv-automl
    .venv-automl/bin/pip install "torch==2.13.0" "autogluon.tabular[lightgbm,catboost,xgboost]==1.6.3"

Data cross over as Parquet files in a temporary folder.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks._models import Adapter

ROOT = Path(__file__).resolve().parents[1]
#: Seconds of AutoGluon fitting per task (its ``time_limit``).
TIME_LIMIT = 120
QUICK_TIME_LIMIT = 20


def automl_python() -> Path | None:
    """The interpreter that runs AutoGluon (see the module docstring), or None."""
    if os.environ.get("GBMTL_AUTOML_PYTHON"):
        return Path(os.environ["GBMTL_AUTOML_PYTHON"])
    own = ROOT / ".venv-automl" / "bin" / "python"
    if own.is_file():
        return own
    if importlib.util.find_spec("autogluon") is not None:
        return Path(sys.executable)
    return None


class AutoGluon(Adapter):
    """One AutoGluon predictor per task (the main task only in label-scarce runs)."""

    name = "autogluon"

    def __init__(self, tasks: list[str] | None = None, **kw):
        super().__init__(**kw)
        self.only = tasks

    def not_applicable(self, kinds, Y):
        if automl_python() is None:
            return ("skipped: AutoGluon's environment is missing (see benchmarks/_autogluon.py "
                    "for the two install commands)")
        try:
            __import__("pyarrow")
        except ImportError:
            return 'skipped: pyarrow is needed to hand data to AutoGluon (pip install "gbmtl[bench]")'
        return None

    def _run(self, spec: dict) -> dict:
        subprocess.run([str(automl_python()), str(Path(__file__).with_name(
            "_autogluon_worker.py")), json.dumps(spec)], check=True, capture_output=True)
        return json.loads((self.tmp / "result.json").read_text())

    def fit(self, X, Y, kinds):
        self.kinds = {t: k for t, k in kinds.items() if self.only is None or t in self.only}
        self.tmp = Path(tempfile.mkdtemp(prefix="gbmtl_automl_"))
        for task, kind in self.kinds.items():
            rows = Y[task].notna().to_numpy()
            train = X[rows].copy()
            train["__label__"] = Y[task][rows].to_numpy()
            train.to_parquet(self.tmp / "train.parquet")
            result = self._run({"mode": "fit", "dir": str(self.tmp), "task": task, "kind": kind,
                                "seed": self.seed, "threads": self.n_jobs,
                                "time_limit": QUICK_TIME_LIMIT if self.quick else TIME_LIMIT})
            self.notes.append(f"{task}: best {result['best']}, AutoGluon's own fit "
                              f"{result['fit_seconds']:.0f} s")

    def predict(self, X):
        X.to_parquet(self.tmp / "test.parquet")
        out = {}
        for task, kind in self.kinds.items():
            result = self._run({"mode": "predict", "dir": str(self.tmp), "task": task,
                                "kind": kind})
            self.classes[task] = np.asarray(result["classes"]) if result["classes"] else None
            pred = np.asarray(result["pred"], dtype=float)
            out[task] = pred[:, 1] if kind == "binary" else pred[:, 0] if kind == "regression" \
                else pred
        return out
