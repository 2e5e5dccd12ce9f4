"""Save and load fitted models: a versioned directory, a JSON manifest, native booster files.

No pickle anywhere: loading a model never runs code from the artifact. What loading trusts and
refuses (see SECURITY.md):

- it reads ``manifest.json`` and the booster files the manifest lists, and nothing else: file
  names must be plain names inside the model directory, opened without following symbolic
  links, and each must be a regular file;
- the manifest carries a SHA-256 over its own content and each booster file one over its bytes:
  an edited value or a corrupted file is an ``ArtifactError``, never a silently different
  prediction (the checksums detect accidents and edits, they are not a signature);
- every malformed manifest, whatever is wrong with it, is an ``ArtifactError``.

Saving writes booster files under names derived from their content, then replaces the manifest
atomically, then deletes the files the previous manifest listed and the new one does not: an
interrupted save leaves the previous model loadable, and a save never deletes a file it did not
write. It refuses a directory that holds anything but a gbmtl model.

Format 2 stores, per task, its stage-1 (independent) model and its final mechanism's model, the
shared-trees ensemble once, and every constructor parameter a refit needs. Format 1 (gbmtl 0.1)
is still read.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import math
import os
import stat
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gbmtl._features import SharedFeatures
from gbmtl._version import __version__
from gbmtl.calibration import METHODS, Calibrator
from gbmtl.tasks import Task

__all__ = ["save_model", "load", "FORMAT_VERSION", "ArtifactError"]

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
PENDING = ".gbmtl-pending.json"  # files a save is writing, until its manifest is in place
#: Largest manifest and booster file read (a model of a few hundred tasks stays far below).
MAX_MANIFEST_BYTES = 64 * 2**20
MAX_FILE_BYTES = 2 * 2**30
#: Modules whose splitters a saved ``cv`` may name (rebuilt from their parameters on load).
_SPLITTER_MODULES = ("sklearn.model_selection", "gbmtl.model_selection")


class ArtifactError(ValueError):
    """A saved model directory is missing, corrupted, malformed, or from a newer gbmtl."""


# -- JSON --------------------------------------------------------------------------------------


def _to_json(value: Any) -> Any:
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
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


def _canonical(manifest: dict) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _categories_to_json(categories: dict[str, list]) -> dict:
    """Each column's categories with their type, so timestamps and the like come back as such."""
    out = {}
    for col, cats in categories.items():
        index = pd.Index(cats)
        if pd.api.types.is_datetime64_any_dtype(index):
            out[col] = {"type": "datetime", "values": [v.isoformat() for v in index]}
        elif pd.api.types.is_timedelta64_dtype(index):
            out[col] = {"type": "timedelta", "values": [str(v) for v in index]}
        else:
            values = _to_json(list(cats))
            if not all(isinstance(v, (str, int, float, bool)) for v in values):
                raise TypeError(
                    f"save: categories of column {col!r} are of a type JSON cannot hold "
                    f"({sorted({type(v).__name__ for v in values})}); cast them to text"
                )
            out[col] = {"type": "plain", "values": values}
    return out


def _categories_from_json(data: dict) -> dict[str, list]:
    out = {}
    for col, entry in data.items():
        kind, values = entry["type"], entry["values"]
        _expect(isinstance(values, list), f"features.categories[{col!r}] is not a list")
        if kind == "datetime":
            out[col] = list(pd.to_datetime(values))
        elif kind == "timedelta":
            out[col] = list(pd.to_timedelta(values))
        else:
            _expect(kind == "plain", f"features.categories[{col!r}] has an unknown type")
            out[col] = list(values)
    return out


def _splitter_params(cv) -> dict | None:
    """A splitter's constructor arguments, read back from its attributes the way scikit-learn's
    own ``repr`` of splitters does (they have no ``get_params``); None if one is not stored."""
    if hasattr(cv, "get_params"):
        return cv.get_params()
    names = [p.name for p in inspect.signature(type(cv).__init__).parameters.values()
             if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if not all(hasattr(cv, n) for n in names):
        return None
    return {n: getattr(cv, n) for n in names}


def _cv_to_json(cv) -> Any:
    """``cv`` as JSON: a number, or a scikit-learn/gbmtl splitter's class and parameters."""
    if cv is None or isinstance(cv, (int, np.integer)):
        return _to_json(cv)
    name = type(cv).__name__
    module = next((m for m in _SPLITTER_MODULES
                   if getattr(importlib.import_module(m), name, None) is type(cv)), None)
    params = _splitter_params(cv)
    try:
        json.dumps(params)
    except TypeError:
        params = None
    if module is None or params is None:
        warnings.warn(
            f"save: cv={cv!r} is not saved (only scikit-learn's and gbmtl's splitters with plain "
            "parameters are); a refit of the loaded model uses the default folds",
            UserWarning, stacklevel=4)
        return None
    return {"splitter": f"{module}.{name}", "params": params}


def _cv_from_json(value) -> Any:
    if value is None or isinstance(value, int):
        return value
    _expect(isinstance(value, dict) and isinstance(value.get("splitter"), str)
            and isinstance(value.get("params"), dict), "params.cv is malformed")
    module, _, name = value["splitter"].rpartition(".")
    _expect(module in _SPLITTER_MODULES, f"params.cv names an unknown splitter {value['splitter']!r}")
    cls = getattr(importlib.import_module(module), name, None)
    _expect(isinstance(cls, type), f"params.cv names an unknown splitter {value['splitter']!r}")
    return cls(**value["params"])


def _expect(ok: bool, what: str) -> None:
    if not ok:
        raise ArtifactError(what)


# -- save ---------------------------------------------------------------------------------------


class _Writer:
    """Writes booster files into the model directory under content-derived names, recording
    each name in ``.gbmtl-pending.json`` before writing it, so that the next save knows which
    stray files of an interrupted save were its own."""

    def __init__(self, root: Path, pending: list[str]):
        self.root = root
        self.files: dict[str, str] = {}
        self.pending = list(pending)

    def put(self, raw: bytes, name: str) -> str:
        digest = _sha256(raw)
        stem, dot, suffix = name.rpartition(".")
        final = f"{stem}.{digest[:16]}.{suffix}" if dot else f"{name}.{digest[:16]}"
        if final in self.files:
            raise ValueError(f"save: two models would share the file name {final!r}")
        target = self.root / final
        if not (target.is_file() and not target.is_symlink()
                and _sha256(target.read_bytes()) == digest):
            if final not in self.pending:
                self.pending.append(final)
                _write_atomic(self.root / PENDING, json.dumps(self.pending).encode())
            _write_atomic(target, raw)
        self.files[final] = digest
        return final


def _write_atomic(target: Path, raw: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _owned_files(path: Path) -> set[str] | None:
    """The files a previous gbmtl save wrote into ``path`` (its manifest's and an interrupted
    save's), or None when ``path`` holds something that is not a gbmtl model."""
    names = {p.name for p in path.iterdir()}
    owned: set[str] = set()
    if MANIFEST in names:
        try:
            manifest = json.loads((path / MANIFEST).read_text())
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            return None
        if not isinstance(manifest, dict) or manifest.get("format") != "gbmtl-model":
            return None
        owned |= _manifest_files(manifest) | {MANIFEST}
    if PENDING in names:
        try:
            pending = json.loads((path / PENDING).read_text())
            owned |= {n for n in pending if isinstance(n, str) and _plain_name(n)} | {PENDING}
        except (OSError, UnicodeDecodeError, ValueError, TypeError, RecursionError):
            return None
    if MANIFEST not in names and PENDING not in names and names:
        return None
    return owned


def _manifest_files(manifest: dict) -> set[str]:
    files = manifest.get("files")
    if isinstance(files, dict):  # format 2
        return {n for n in files if isinstance(n, str) and _plain_name(n)}
    out = set()  # format 1
    for entry in manifest.get("tasks", []) if isinstance(manifest.get("tasks"), list) else []:
        models = entry.get("models", {}) if isinstance(entry, dict) else {}
        for info in models.values() if isinstance(models, dict) else []:
            if isinstance(info, dict) and isinstance(info.get("file"), str) \
                    and _plain_name(info["file"]):
                out.add(info["file"])
    return out


def _plain_name(name: str) -> bool:
    return (bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name
            and "\x00" not in name and not name.startswith("."))


def _params_entry(model) -> dict:
    params = model.get_params(deep=False)
    params.pop("shared_features")
    params["cv"] = _cv_to_json(params["cv"])
    if not (params["random_state"] is None or isinstance(params["random_state"],
                                                         (int, np.integer))):
        # A RandomState cannot be stored; the seed the fit drew from it reproduces the fit.
        params["random_state"] = int(model._fit_seed)
    if params["tasks"] is not None and not isinstance(params["tasks"], dict):
        params["tasks"] = [t.to_dict() if isinstance(t, Task) else t for t in params["tasks"]]
    return _to_json(params)


def _task_entries(model, store: _Writer, shared: dict) -> list[dict]:
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
    return tasks


def save_model(model, path) -> None:
    """Write ``model`` to the directory ``path`` (see the module docstring)."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model, "tasks_")
    if model.shared_.fitted_transformer_ is not None:
        raise NotImplementedError(
            "save: models with shared_features cannot be saved without pickle; save the fitted "
            "transformer yourself (e.g. with skops) and fit the booster on its output"
        )
    path = Path(path)
    if path.is_symlink():
        raise FileExistsError(f"save: {path} is a symbolic link; give the directory itself")
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"save: {path} exists and is not a directory; not overwriting it")
    owned: set[str] = set()
    if path.exists():
        found = _owned_files(path)
        if found is None:
            raise FileExistsError(
                f"save: {path} exists and holds files that are not a gbmtl model; not writing "
                "into it (give a new or empty directory, or a previous model's)"
            )
        owned = found
    # Everything JSON first: a model that cannot be described fails before any file is written.
    params = _params_entry(model)
    categories = _categories_to_json(model.shared_.categories_)
    path.mkdir(parents=True, exist_ok=True)
    store = _Writer(path, sorted(owned - {MANIFEST, PENDING}))
    shared: dict = {}
    tasks = _task_entries(model, store, shared)
    manifest = {
        "format": "gbmtl-model",
        "format_version": FORMAT_VERSION,
        "gbmtl_version": __version__,
        "estimator": "MultiTaskBooster",
        "params": params,
        "fit_seed": int(model._fit_seed),
        "feature_names_in": _to_json(model.feature_names_in_),
        "features": {"columns": model.shared_.columns_, "categories": categories},
        "tasks": _to_json(tasks),
        "shared": _to_json(shared),
        "calibrators": {k: _to_json(c.to_dict()) for k, c in model.calibrators_.items()},
        "files": store.files,
    }
    manifest["checksum"] = _sha256(_canonical(manifest))
    _write_atomic(path / MANIFEST, json.dumps(manifest, indent=1, allow_nan=True).encode())
    for name in owned - set(store.files) - {MANIFEST}:
        (path / name).unlink(missing_ok=True)
    (path / PENDING).unlink(missing_ok=True)


# -- load ---------------------------------------------------------------------------------------


class _Reader:
    """Reads the booster files a manifest lists: plain files inside the model directory, opened
    without following symbolic links, each checked against its SHA-256."""

    def __init__(self, root: Path, files: dict[str, str]):
        self.root = root
        self.files = files

    def get(self, name: str) -> bytes:
        _expect(isinstance(name, str) and name in self.files,
                f"the manifest refers to {name!r}, which it does not list among its files")
        raw = _read_plain(self.root, name, MAX_FILE_BYTES)
        if _sha256(raw) != self.files[name]:
            raise ArtifactError(f"model file {name} is corrupted (checksum mismatch)")
        return raw


def _read_plain(root: Path, name: str, limit: int) -> bytes:
    """The bytes of the regular file ``name`` directly inside ``root``; symbolic links, other
    kinds of file and names that leave the directory are refused."""
    _expect(isinstance(name, str) and _plain_name(name) or name == MANIFEST,
            f"the file name {name!r} is not a plain name inside the model directory")
    try:
        dir_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise ArtifactError(f"cannot open the model directory: {exc.strerror}") from None
    try:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
        except OSError:
            raise ArtifactError(f"model file {name} is missing or not a plain file") from None
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            _expect(stat.S_ISREG(info.st_mode), f"model file {name} is not a regular file")
            _expect(info.st_size <= limit, f"model file {name} is larger than {limit} bytes")
            return fh.read(limit + 1)
    finally:
        os.close(dir_fd)


def load(path):
    """Load a model saved with ``model.save(path)``.

    Raises
    ------
    ArtifactError
        When the directory is not a gbmtl model, a file is missing, corrupted or not a plain
        file inside it, the manifest is malformed or edited, or the format is newer than this
        gbmtl can read.
    """
    path = Path(path)
    if not path.is_dir():
        raise ArtifactError(f"{path} is not a gbmtl model directory: no such directory")
    try:
        raw = _read_plain(path, MANIFEST, MAX_MANIFEST_BYTES)
    except ArtifactError as exc:
        raise ArtifactError(f"{path} is not a gbmtl model directory ({exc})") from None
    try:
        manifest = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ArtifactError(f"{path / MANIFEST} is corrupted: {type(exc).__name__}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "gbmtl-model":
        raise ArtifactError(f"{path / MANIFEST} is not a gbmtl model manifest")
    version = manifest.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ArtifactError(f"{path / MANIFEST} is malformed: format_version must be an integer, "
                            f"got {version!r}")
    if version > FORMAT_VERSION or version < 1:
        raise ArtifactError(
            f"{path} was saved in model format {version} (gbmtl "
            f"{manifest.get('gbmtl_version')}); this gbmtl {__version__} reads formats 1 to "
            f"{FORMAT_VERSION}: upgrade gbmtl to load it"
        )
    try:
        if version == 1:
            from gbmtl._persistence_v1 import read_v1

            return read_v1(path, manifest, _Reader)
        if manifest.get("checksum") != _sha256(_canonical(manifest)):
            raise ArtifactError("its checksum does not match its content (edited or corrupted)")
        return _read_v2(path, manifest)
    except ArtifactError as exc:
        raise ArtifactError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError,
            MemoryError, OverflowError) as exc:
        raise ArtifactError(
            f"{path / MANIFEST} is malformed: {type(exc).__name__}: {exc}"[:500]
        ) from None


def _read_v2(path: Path, manifest: dict):
    from gbmtl.sharing import FITTED
    from gbmtl.sharing._shared_trees import SharedEnsemble

    files = manifest["files"]
    _expect(isinstance(files, dict) and all(isinstance(v, str) for v in files.values()),
            "files is malformed")
    store = _Reader(path, dict(files))
    shared = {name: SharedEnsemble.from_manifest(entry, store)
              for name, entry in manifest["shared"].items()}
    _expect(isinstance(manifest["tasks"], list) and manifest["tasks"], "tasks is empty")
    results = []
    for entry in manifest["tasks"]:
        task, classes, n_labelled = _task_header(entry)
        width = len(classes) if task.kind == "multiclass" else 1

        def read(e, width=width, name=task.name):
            _expect(isinstance(e, dict) and e.get("mechanism") in FITTED,
                    f"task {name!r}: unknown mechanism")
            return FITTED[e["mechanism"]].from_manifest(e, store, n_outputs=width, shared=shared)

        stage1 = read(entry["stage1"])
        final = stage1 if entry["final"] == "stage1" else read(entry["final"])
        results.append((task, classes, n_labelled, stage1, final, entry["decision"],
                        entry["affinity"]))
    return assemble(manifest, results)


def _task_header(entry: dict) -> tuple[Task, np.ndarray | None, int]:
    _expect(isinstance(entry, dict) and isinstance(entry.get("task"), dict), "a task is malformed")
    task = Task.from_dict(entry["task"])
    _expect(isinstance(task.name, str) and task.kind in ("binary", "multiclass", "regression"),
            f"task {task.name!r} has no valid kind")
    classes = entry["classes"]
    if task.kind == "regression":
        _expect(classes is None, f"task {task.name!r}: a regression task has no classes")
    else:
        _expect(isinstance(classes, list) and len(classes) >= 2
                and len(set(map(repr, classes))) == len(classes),
                f"task {task.name!r}: classes must be a list of at least two distinct values")
        _expect(task.kind == "multiclass" or len(classes) == 2,
                f"task {task.name!r}: a binary task has two classes")
        classes = np.asarray(classes)
    n = entry["n_labelled"]
    _expect(isinstance(n, int) and not isinstance(n, bool) and 0 < n < 10**12,
            f"task {task.name!r}: n_labelled must be a positive count")
    return task, classes, n


def _restore_params(params: dict) -> dict:
    from gbmtl.booster import MultiTaskBooster

    _expect(isinstance(params, dict), "params is not a mapping")
    known = set(MultiTaskBooster().get_params(deep=False))
    unknown = set(params) - known
    _expect(not unknown, f"params has unknown constructor parameters {sorted(unknown)}")
    params = dict(params)
    tasks = params.get("tasks")
    if isinstance(tasks, list):
        params["tasks"] = [Task.from_dict(t) if isinstance(t, dict) else t for t in tasks]
    params["cv"] = _cv_from_json(params.get("cv"))
    return params


def _check_calibrator(name: str, data: dict) -> Calibrator:
    _expect(isinstance(data, dict) and data.get("method") in METHODS,
            f"calibrator of {name!r} has no valid method")
    p = data.get("params")
    _expect(isinstance(p, dict), f"calibrator of {name!r} has no parameters")
    if data["method"] == "sigmoid":
        _expect(all(isinstance(p.get(k), (int, float)) and not isinstance(p.get(k), bool)
                    and math.isfinite(p[k]) for k in ("a", "b")),
                f"calibrator of {name!r} needs finite numbers a and b")
    else:
        x, y = p.get("x"), p.get("y")
        _expect(isinstance(x, list) and isinstance(y, list) and len(x) == len(y) > 0
                and all(isinstance(v, (int, float)) for v in x + y),
                f"calibrator of {name!r} needs equal lists of numbers x and y")
    return Calibrator.from_dict(data)


def assemble(manifest: dict, results: list) -> Any:
    """A fitted MultiTaskBooster from a manifest's common fields and its tasks' models."""
    from gbmtl.booster import MultiTaskBooster
    from gbmtl.sharing._choice import Decision
    from gbmtl.sharing._fit import TaskResult

    model = MultiTaskBooster(**_restore_params(manifest["params"]))
    shared = SharedFeatures(None)
    columns = manifest["features"]["columns"]
    _expect(isinstance(columns, list) and all(isinstance(c, str) for c in columns),
            "features.columns must be a list of names")
    shared.columns_ = list(columns)
    cats = manifest["features"]["categories"]
    shared.categories_ = (_categories_from_json(cats) if manifest["format_version"] >= 2
                          else dict(cats))
    _expect(set(shared.categories_) <= set(columns), "features.categories names unknown columns")
    model.shared_ = shared
    model.feature_names_in_ = np.asarray(manifest["feature_names_in"], dtype=object)
    _expect(len(model.feature_names_in_) == len(columns), "feature_names_in and columns differ")
    model.n_features_in_ = len(model.feature_names_in_)
    model._fit_seed = manifest.get("fit_seed", model.random_state)
    model.tasks_ = [r[0] for r in results]
    model.classes_ = {r[0].name: r[1] for r in results if r[1] is not None}
    model._n_labelled = {r[0].name: int(r[2]) for r in results}
    model._results = []
    for task, _, _, stage1, final, decision, affinity in results:
        d = Decision(decision["mechanism"], decision["basis"],
                     {k: tuple(v) for k, v in decision["gains"].items()},
                     float(decision["z"]), decision["reason"],
                     tuple(decision.get("information", (np.nan, np.nan))))
        _expect(isinstance(affinity, dict), f"task {task.name!r}: affinity is malformed")
        model._results.append(TaskResult(task.name, stage1, final, d, dict(affinity)))
    names = [t.name for t in model.tasks_]
    _expect(len(set(names)) == len(names), "tasks has duplicate names")
    for res in model._results:
        unknown = [s for s in res.final.siblings if s not in names]
        _expect(not unknown, f"task {res.name!r} reads unknown siblings {unknown}")
    model._build_reports()
    model.oof_predictions_ = pd.DataFrame()  # training-time state, not saved
    calibrators = manifest.get("calibrators", {})
    _expect(isinstance(calibrators, dict), "calibrators is malformed")
    unknown = [k for k in calibrators if k not in names]
    _expect(not unknown, f"calibrators name unknown tasks {unknown}")
    model.calibrators_ = {k: _check_calibrator(k, v) for k, v in calibrators.items()}
    return model
