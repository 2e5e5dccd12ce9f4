"""Save and load fitted models: a versioned directory, a JSON manifest, native booster files.

No pickle anywhere: loading a model never runs code from the artifact. Each booster file is
stored in its library's own format with a SHA-256 in the manifest, so a corrupted or tampered
file is reported instead of silently predicting something else.
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

from gbmtl._features import SharedFeatures
from gbmtl._labels import EncodedTask
from gbmtl._stacking import TaskFit
from gbmtl._version import __version__
from gbmtl.backends import get_backend
from gbmtl.calibration import Calibrator
from gbmtl.tasks import Task

__all__ = ["save_model", "load", "FORMAT_VERSION", "ArtifactError"]

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_PERSISTED_PARAMS = (
    "backend", "params", "stacking", "siblings", "n_folds", "early_stopping_rounds",
    "random_state", "n_jobs", "verbose", "calibration",
)


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
    return value


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_model(model, path) -> None:
    """Write ``model`` to the directory ``path`` (created; replaced atomically if it exists)."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model, "tasks_")
    if model.shared_.fitted_transformer_ is not None:
        raise NotImplementedError(
            "save: models with shared_features cannot be saved without pickle; save the fitted "
            "transformer yourself (e.g. with skops) and fit the booster on its output"
        )
    if model.cv is not None and not isinstance(model.cv, int):
        cv_note = f"{type(model.cv).__name__} (not restored; only needed to refit)"
    else:
        cv_note = model.cv
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=parent))
    try:
        tasks = []
        for i, tf in enumerate(model._fits):
            backend = get_backend(tf.task.backend)
            entry = {
                "task": tf.task.to_dict(),
                "classes": None if tf.enc.classes is None else _to_json(tf.enc.classes),
                "siblings": tf.siblings,
                "sibling_gain": tf.sibling_gain,
                "sibling_gain_se": tf.sibling_gain_se,
                "selection_basis": tf.selection_basis,
                "affinity": tf.affinity,
                "n_labelled": int(len(tf.enc.labelled)),
                "models": {},
            }
            stages = {"stage1": tf.stage1}
            if tf.siblings:
                stages["stage2"] = tf.stage2
            for stage, fitted in stages.items():
                raw = fitted.to_bytes()
                name = f"task{i}_{stage}{backend.file_suffix}"
                (tmp / name).write_bytes(raw)
                entry["models"][stage] = {"file": name, "sha256": _sha256(raw)}
            tasks.append(entry)
        manifest = {
            "format": "gbmtl-model",
            "format_version": FORMAT_VERSION,
            "gbmtl_version": __version__,
            "estimator": "MultiTaskBooster",
            "params": _to_json({k: getattr(model, k) for k in _PERSISTED_PARAMS}),
            "cv": cv_note,
            "feature_names_in": _to_json(model.feature_names_in_),
            "features": {"columns": model.shared_.columns_,
                         "categories": _to_json(model.shared_.categories_)},
            "tasks": tasks,
            "feature_importances": json.loads(model.feature_importances_.to_json(orient="split")),
            "calibrators": {k: c.to_dict() for k, c in model.calibrators_.items()},
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
    import pandas as pd

    from gbmtl.booster import MultiTaskBooster

    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise ArtifactError(f"{path} is not a gbmtl model directory: {MANIFEST} not found")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{manifest_path} is corrupted: {exc}") from None
    if manifest.get("format") != "gbmtl-model":
        raise ArtifactError(f"{manifest_path} is not a gbmtl model manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ArtifactError(
            f"{path} was saved in model format {version} (gbmtl "
            f"{manifest.get('gbmtl_version')}); this gbmtl {__version__} reads formats up to "
            f"{FORMAT_VERSION}: upgrade gbmtl to load it"
        )
    try:
        model = MultiTaskBooster(**manifest["params"])
        shared = SharedFeatures(None)
        shared.columns_ = list(manifest["features"]["columns"])
        shared.categories_ = dict(manifest["features"]["categories"])
        model.shared_ = shared
        model.feature_names_in_ = np.asarray(manifest["feature_names_in"], dtype=object)
        model.n_features_in_ = len(model.feature_names_in_)
        fits, tasks = [], []
        for entry in manifest["tasks"]:
            task = Task.from_dict(entry["task"])
            backend = get_backend(task.backend)
            classes = None if entry["classes"] is None else np.asarray(entry["classes"])
            tf = TaskFit(task=task, enc=EncodedTask(np.empty(0), np.arange(entry["n_labelled"]),
                                                    classes))
            for stage, info in entry["models"].items():
                file = path / info["file"]
                if not file.is_file():
                    raise ArtifactError(f"{path}: model file {info['file']} is missing")
                raw = file.read_bytes()
                if _sha256(raw) != info["sha256"]:
                    raise ArtifactError(
                        f"{path}: model file {info['file']} is corrupted (checksum mismatch)"
                    )
                setattr(tf, stage, backend.load(raw, len(shared.columns_)))
            tf.siblings = list(entry["siblings"])
            tf.sibling_gain = entry["sibling_gain"]
            tf.sibling_gain_se = entry["sibling_gain_se"]
            tf.selection_basis = entry.get("selection_basis", "")
            tf.affinity = dict(entry["affinity"])
            fits.append(tf)
            tasks.append(task)
    except (KeyError, TypeError) as exc:
        raise ArtifactError(f"{manifest_path} is incomplete or malformed: missing {exc}") from None
    model._set_fitted(fits, tasks, pd.RangeIndex(0))
    model.calibrators_ = {k: Calibrator.from_dict(v)
                          for k, v in manifest.get("calibrators", {}).items()}
    imp = manifest["feature_importances"]
    model.feature_importances_ = pd.DataFrame(imp["data"], index=imp["index"],
                                              columns=imp["columns"])
    return model
