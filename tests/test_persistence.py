"""save/load: native formats, JSON manifest, identical predictions, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import gbmtl
from gbmtl import MultiTaskBooster, Task
from gbmtl.persistence import FORMAT_VERSION, ArtifactError
from tests._helpers import FAST, related_tasks


def _with_grade(X, Y):
    grade = np.where(X["f0"] > 0.5, "high", np.where(X["f0"] < -0.5, "low", "mid"))
    return Y.assign(grade=pd.array(grade, dtype="string"))


@pytest.fixture(scope="module")
def data():
    X, Y = related_tasks(800, seed=2)
    return X, _with_grade(X, Y)


@pytest.mark.parametrize("backend", ["lightgbm", "xgboost"])
def test_roundtrip_identical_predictions(tmp_path, data, backend):
    X, Y = data
    tasks = [Task("a"), Task("b", backend="xgboost"), Task("r"), Task("grade")]
    m = MultiTaskBooster(tasks=tasks, backend=backend, params={"n_estimators": 40},
                         random_state=0, n_folds=3).fit(X, Y)
    m.save(tmp_path / "model")
    loaded = gbmtl.load(tmp_path / "model")
    pd.testing.assert_frame_equal(m.predict(X), loaded.predict(X))
    for task, proba in m.predict_proba(X).items():
        np.testing.assert_array_equal(proba, loaded.predict_proba(X)[task])
    pd.testing.assert_frame_equal(m.evaluate(X, Y), loaded.evaluate(X, Y))
    pd.testing.assert_frame_equal(m.task_affinity_, loaded.task_affinity_)
    assert [t.to_dict() for t in m.tasks_] == [t.to_dict() for t in loaded.tasks_]


def test_artifact_has_no_pickle(tmp_path, data):
    X, Y = data
    MultiTaskBooster(params=FAST, random_state=0, n_folds=3).fit(X, Y).save(tmp_path / "m")
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert "manifest.json" in files
    assert all(f.endswith((".json", ".txt", ".ubj")) for f in files)
    for f in (tmp_path / "m").iterdir():
        assert not f.read_bytes().startswith(b"\x80")  # pickle protocol marker
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION


@pytest.fixture()
def saved(tmp_path, data):
    X, Y = data
    MultiTaskBooster(params=FAST, sharing="none", random_state=0).fit(X, Y).save(tmp_path / "m")
    return tmp_path / "m"


def test_corrupted_model_file(saved):
    model_file = next(p for p in saved.iterdir() if p.suffix == ".txt")
    model_file.write_bytes(model_file.read_bytes()[:-10] + b"0000000000")
    with pytest.raises(ArtifactError, match="corrupted"):
        gbmtl.load(saved)


def test_missing_model_file(saved):
    next(p for p in saved.iterdir() if p.suffix == ".txt").unlink()
    with pytest.raises(ArtifactError, match="missing"):
        gbmtl.load(saved)


def test_corrupted_manifest(saved):
    (saved / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="corrupted"):
        gbmtl.load(saved)


def test_newer_format(saved):
    manifest = json.loads((saved / "manifest.json").read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    (saved / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="upgrade gbmtl"):
        gbmtl.load(saved)


def test_not_a_model_directory(tmp_path):
    with pytest.raises(ArtifactError, match="not a gbmtl model directory"):
        gbmtl.load(tmp_path)


def test_save_refuses_to_overwrite_other_directories(tmp_path, data):
    X, Y = data
    m = MultiTaskBooster(params=FAST, sharing="none", random_state=0).fit(X, Y)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("important")
    with pytest.raises(FileExistsError, match="holds files that are not a gbmtl model"):
        m.save(tmp_path / "notes")
    assert (tmp_path / "notes" / "keep.txt").read_text() == "important"
    m.save(tmp_path / "model")
    m.save(tmp_path / "model")  # replacing an earlier save is fine
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "notes"]


def test_shared_features_cannot_be_saved_without_pickle(tmp_path, data):
    from sklearn.preprocessing import StandardScaler

    X, Y = data
    m = MultiTaskBooster(params=FAST, sharing="none", random_state=0,
                         shared_features=StandardScaler()).fit(X.drop(columns="segment"), Y)
    with pytest.raises(NotImplementedError, match="shared_features"):
        m.save(tmp_path / "m")
