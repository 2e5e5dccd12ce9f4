"""Reader of model format 1 (gbmtl 0.1): per task a plain booster and, where the task was
stacked, a stage-2 booster over the features plus its siblings' predictions.

Format 1 models map onto today's mechanisms exactly: the plain booster is the task's independent
model, a stage-2 booster is a stacking model (its sibling columns were the siblings' predictions
in the same order and layout as today's stacking tables).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gbmtl.backends import get_backend
from gbmtl.sharing import IndependentModel
from gbmtl.sharing._stacking import StackingModel
from gbmtl.sharing._trees import TreeStack
from gbmtl.tasks import Task

#: Constructor parameters of format 1 that became others (stacking -> sharing).
_RENAMED = {"stacking": "sharing"}


def _params(old: dict) -> dict:
    params = {k: v for k, v in old.items() if k != "stacking"}
    params["sharing"] = ["stacking"] if old.get("stacking", "oof") == "oof" else "none"
    return params


def read_v1(path: Path, manifest: dict, reader_cls):
    from gbmtl.persistence import assemble

    files = {info["file"]: info["sha256"] for e in manifest["tasks"]
             for info in e["models"].values()}
    store = reader_cls(path, files)
    kinds, widths, results = {}, {}, []
    for entry in manifest["tasks"]:
        task = Task.from_dict(entry["task"])
        classes = None if entry["classes"] is None else np.asarray(entry["classes"])
        kinds[task.name] = task.kind
        widths[task.name] = len(classes) if task.kind == "multiclass" else 1
    for entry in manifest["tasks"]:
        task = Task.from_dict(entry["task"])
        classes = None if entry["classes"] is None else np.asarray(entry["classes"])
        width = widths[task.name]
        backend = get_backend(task.backend)

        def booster(stage, backend=backend, width=width, entry=entry, task=task):
            raw = store.get(entry["models"][stage]["file"])
            return TreeStack([backend.load(raw, n_outputs=width, offset=False)], task.backend)

        stage1 = IndependentModel(booster("stage1"))
        siblings = list(entry["siblings"])
        final = (StackingModel(booster("stage2"), siblings, {s: widths[s] for s in siblings})
                 if siblings else stage1)
        decision = {
            "mechanism": "stacking" if siblings else "independent",
            "basis": entry.get("selection_basis", ""), "z": 1.5,
            "reason": "read from a format-1 model",
            "gains": {"stacking": [entry["sibling_gain"], entry["sibling_gain_se"]]},
        }
        results.append((task, classes, entry["n_labelled"], stage1, final, decision,
                        entry["affinity"]))
    manifest = dict(manifest, params=_params(manifest["params"]))
    return assemble(manifest, results)
