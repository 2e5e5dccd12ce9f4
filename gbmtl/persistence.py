"""Save and load fitted models: a versioned directory, a JSON manifest, native booster files.

No pickle anywhere: loading a model never runs code from the artifact. Each booster file is
stored in its library's own format with a SHA-256 in the manifest, so a corrupted or tampered
file is reported instead of silently predicting something else.

Format 2 stores, per task, its stage-1 (independent) model and its final mechanism's model (each
a list of booster files, several where the task is bagged, plus the numbers of an offset GLM),
the shared-trees ensemble once, and every constructor parameter. Format 1 (gbmtl 0.1: a plain
and an optional stacked booster per task) is still read.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gbmtl._features import SharedFeatures
from gbmtl._version import __version__
from gbmtl.calibration import Calibrator
from gbmtl.tasks import Task

__all__ = ["save_model", "load", "FORMAT_VERSION", "ArtifactError"]

FORMAT_VERSION = 2
MANIFEST = "manifest.json"


class ArtifactError(ValueError):
    """A saved model directory is missing, corrupted, or from a newer gbmtl."""


def _to_json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return [_to_json(v) for v in value.tolist()]
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, Task):
        return _to_json(value.to_dict())
    return value


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Writer:
    """Writes booster files into the new model directory and records their checksums."""

    def __init__(self, root: Path):
        self.root = root
        self.files: dict[str, str] = {}

    def put(self, raw: bytes, name: str) -> str:
        if name in self.files:
            raise ValueError(f"save: two models would share the file name {name!r}")
        (self.root / name).write_bytes(raw)
        self.files[name] = _sha256(raw)
        return name


class _Reader:
    """Reads the booster files a manifest lists, checking each one's checksum."""

    def __init__(self, root: Path, files: dict[str, str]):
        self.root = root
        self.files = files

    def get(self, name: str) -> bytes:
        if name not in self.files:
            raise ArtifactError(f"{self.root}: the manifest refers to {name!r}, which it does not "
                                "list among its files")
        file = self.root / name
        if not file.is_file():
            raise ArtifactError(f"{self.root}: model file {name} is missing")
        raw = file.read_bytes()
        if _sha256(raw) != self.files[name]:
            raise ArtifactError(f"{self.root}: model file {name} is corrupted (checksum mismatch)")
        return raw


def _params_entry(model) -> dict:
    params = model.get_params(deep=False)
    params.pop("shared_features")
    cv = params.pop("cv")
    params["cv"] = cv if cv is None or isinstance(cv, (int, np.integer)) else None
    if isinstance(params.get("random_state"), np.random.RandomState):
        params["random_state"] = None
    return _to_json(params)


def save_model(model, path) -> None:
    """Write ``model`` to the directory ``path`` (created; replaced atomically if it exists)."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model, "tasks_")
    if model.shared_.fitted_transformer_ is not None:
        raise NotImplementedError(
            "save: models with shared_features cannot be saved without pickle; save the fitted "
            "transformer yourself (e.g. with skops) and fit the booster on its output"
        )
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=parent))
    try:
        store = _Writer(tmp)
        shared = {}
        tasks = []
        for i, (res, t) in enumerate(zip(model._results, model.tasks_, strict=True)):
            stage1 = res.stage1.to_manifest(store, f"task{i}_independent")
            if res.final is res.stage1:
                final: Any = "stage1"
            else:
                final = {"mechanism": res.final.mechanism,
                         **res.final.to_manifest(store, f"task{i}_{res.final.mechanism}")}
                ensemble = getattr(res.final, "ensemble", None)
                if ensemble is not None and "shared_trees" not in shared:
                    shared["shared_trees"] = ensemble.to_manifest(store)
            d = res.decision
            tasks.append({
                "task": t.to_dict(),
                "classes": None if t.name not in model.classes_ else model.classes_[t.name],
                "n_labelled": int(model._n_labelled[t.name]),
                "stage1": {"mechanism": "independent", **stage1},
                "final": final,
                "decision": {"mechanism": d.mechanism, "basis": d.basis, "z": d.z,
                             "reason": d.reason, "gains": {k: list(v) for k, v in d.gains.items()},
                             "information": list(d.information)},
                "affinity": res.affinity,
            })
        manifest = {
            "format": "gbmtl-model",
            "format_version": FORMAT_VERSION,
            "gbmtl_version": __version__,
            "estimator": "MultiTaskBooster",
            "params": _params_entry(model),
            "feature_names_in": _to_json(model.feature_names_in_),
            "features": {"columns": model.shared_.columns_,
                         "categories": _to_json(model.shared_.categories_)},
            "tasks": _to_json(tasks),
            "shared": _to_json(shared),
            "calibrators": {k: c.to_dict() for k, c in model.calibrators_.items()},
            "files": store.files,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, allow_nan=True))
        if path.exists():
            if not (path / MANIFEST).exists():
                raise FileExistsError(
                    f"save: {path} exists and is not a gbmtl model directory; not overwriting it"
                )
            backup = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=parent))
            os.replace(path, backup / "model")
            os.replace(tmp, path)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def load(path):
    """Load a model saved with ``model.save(path)``.

    Raises
    ------
    ArtifactError
        When the directory is not a gbmtl model, a file is missing or corrupted, or the format
        is newer than this gbmtl can read.
    """
    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise ArtifactError(f"{path} is not a gbmtl model directory: {MANIFEST} not found")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{manifest_path} is corrupted: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "gbmtl-model":
        raise ArtifactError(f"{manifest_path} is not a gbmtl model manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ArtifactError(
            f"{path} was saved in model format {version} (gbmtl "
            f"{manifest.get('gbmtl_version')}); this gbmtl {__version__} reads formats up to "
            f"{FORMAT_VERSION}: upgrade gbmtl to load it"
        )
    try:
        if version == 1:
            from gbmtl._persistence_v1 import read_v1

            return read_v1(path, manifest, _Reader)
        return _read_v2(path, manifest)
    except (KeyError, TypeError, IndexError) as exc:
        raise ArtifactError(f"{manifest_path} is incomplete or malformed: {exc!r}") from None


def _read_v2(path: Path, manifest: dict):
    from gbmtl.sharing import FITTED
    from gbmtl.sharing._shared_trees import SharedEnsemble

    store = _Reader(path, dict(manifest["files"]))
    shared = {name: SharedEnsemble.from_manifest(entry, store)
              for name, entry in manifest["shared"].items()}
    results = []
    for entry in manifest["tasks"]:
        task = Task.from_dict(entry["task"])
        classes = None if entry["classes"] is None else np.asarray(entry["classes"])
        width = len(classes) if task.kind == "multiclass" else 1

        def read(e, width=width):
            return FITTED[e["mechanism"]].from_manifest(e, store, n_outputs=width, shared=shared)

        stage1 = read(entry["stage1"])
        final = stage1 if entry["final"] == "stage1" else read(entry["final"])
        results.append((task, classes, entry["n_labelled"], stage1, final, entry["decision"],
                        entry["affinity"]))
    return assemble(manifest, results)


def assemble(manifest: dict, results: list) -> Any:
    """A fitted MultiTaskBooster from a manifest's common fields and its tasks' models."""
    from gbmtl.booster import MultiTaskBooster
    from gbmtl.sharing._choice import Decision
    from gbmtl.sharing._fit import TaskResult

    model = MultiTaskBooster(**manifest["params"])
    shared = SharedFeatures(None)
    shared.columns_ = list(manifest["features"]["columns"])
    shared.categories_ = dict(manifest["features"]["categories"])
    model.shared_ = shared
    model.feature_names_in_ = np.asarray(manifest["feature_names_in"], dtype=object)
    model.n_features_in_ = len(model.feature_names_in_)
    model.tasks_ = [r[0] for r in results]
    model.classes_ = {r[0].name: r[1] for r in results if r[1] is not None}
    model._n_labelled = {r[0].name: int(r[2]) for r in results}
    model._results = []
    for task, _, _, stage1, final, decision, affinity in results:
        d = Decision(decision["mechanism"], decision["basis"],
                     {k: tuple(v) for k, v in decision["gains"].items()},
                     float(decision["z"]), decision["reason"],
                     tuple(decision.get("information", (np.nan, np.nan))))
        model._results.append(TaskResult(task.name, stage1, final, d, dict(affinity)))
    model._build_reports()
    model.oof_predictions_ = pd.DataFrame()  # training-time state, not saved
    model.calibrators_ = {k: Calibrator.from_dict(v)
                          for k, v in manifest.get("calibrators", {}).items()}
    return model
