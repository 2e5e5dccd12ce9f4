"""Saved models: never lose a user's file, never read outside the model, refuse every edit."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import KFold

import gbmtl
from gbmtl import MultiTaskBooster, Task
from gbmtl.persistence import MANIFEST, ArtifactError
from tests._helpers import FAST, related_tasks


@pytest.fixture(scope="module")
def data():
    return related_tasks(500, seed=3)


@pytest.fixture(scope="module")
def model(data):
    X, Y = data
    tasks = [Task("a", backend="xgboost", metric="ks", weight=3, params={"max_depth": 3}),
             Task("b", weight=np.float32(2)), Task("r", params={"num_leaves": np.int64(4)})]
    return MultiTaskBooster(tasks=tasks, params=FAST, n_folds=3, random_state=0, n_jobs=1,
                            calibration={"b": "sigmoid"}).fit(X, Y)


@pytest.fixture()
def saved(model, tmp_path):
    path = tmp_path / "model"
    model.save(path)
    return path


def _manifest(path: Path) -> dict:
    return json.loads((path / MANIFEST).read_text())


def _rewrite(path: Path, manifest: dict, fix_checksum: bool = False) -> None:
    if fix_checksum:
        from gbmtl.persistence import _canonical, _sha256

        manifest["checksum"] = _sha256(_canonical(manifest))
    (path / MANIFEST).write_text(json.dumps(manifest))


# -- saving never loses a file ------------------------------------------------------------------


def test_save_refuses_a_folder_that_merely_holds_a_manifest_json(model, tmp_path):
    app = tmp_path / "webapp"
    (app / "src").mkdir(parents=True)
    (app / MANIFEST).write_text('{"name": "my-app", "version": "1.0"}')
    (app / "index.html").write_text("<html></html>")
    (app / "src" / "app.js").write_text("console.log(1)")
    with pytest.raises(FileExistsError, match="not a gbmtl model"):
        model.save(app)
    assert json.loads((app / MANIFEST).read_text())["name"] == "my-app"
    assert (app / "index.html").exists() and (app / "src" / "app.js").exists()


def test_save_over_a_model_keeps_the_users_own_files(model, saved, data):
    (saved / "NOTES.md").write_text("validated by risk, 2026-12")
    (saved / "eval").mkdir()
    (saved / "eval" / "report.csv").write_text("auc,0.9")
    old_files = set(_manifest(saved)["files"])
    refit = clone(model).set_params(random_state=1).fit(*data)
    refit.save(saved)
    assert (saved / "NOTES.md").read_text() == "validated by risk, 2026-12"
    assert (saved / "eval" / "report.csv").exists()
    new_files = set(_manifest(saved)["files"])
    assert not (old_files - new_files) & {p.name for p in saved.iterdir()}  # old boosters gone
    X, _ = data
    pd.testing.assert_frame_equal(gbmtl.load(saved).predict(X), refit.predict(X))


def test_save_into_the_current_directory_and_into_an_empty_one(model, tmp_path, data):
    X, _ = data
    empty = tmp_path / "empty"
    empty.mkdir()
    model.save(empty)
    here = os.getcwd()
    try:
        os.chdir(empty)
        model.save(".")  # inside the model's own directory
    finally:
        os.chdir(here)
    assert sorted(p.name for p in empty.iterdir() if p.name.startswith(".")) == []
    pd.testing.assert_frame_equal(gbmtl.load(empty).predict(X), model.predict(X))


def test_interrupted_save_leaves_the_previous_model_and_is_cleaned_up_next_time(
        model, saved, data, monkeypatch):
    import gbmtl.persistence as persistence

    X, _ = data
    refit = clone(model).set_params(random_state=5).fit(*data)
    calls = {"n": 0}
    real = persistence._write_atomic

    def crash_after_two_files(target, raw):
        if target.name != persistence.PENDING and target.name != MANIFEST:
            calls["n"] += 1
            if calls["n"] > 2:
                raise KeyboardInterrupt
        return real(target, raw)

    monkeypatch.setattr(persistence, "_write_atomic", crash_after_two_files)
    with pytest.raises(KeyboardInterrupt):
        refit.save(saved)
    monkeypatch.undo()
    pd.testing.assert_frame_equal(gbmtl.load(saved).predict(X), model.predict(X))
    assert not [p for p in saved.parent.iterdir() if p.name.startswith(".")]
    refit.save(saved)
    listed = set(_manifest(saved)["files"]) | {MANIFEST}
    assert {p.name for p in saved.iterdir()} == listed  # strays of the crash removed
    pd.testing.assert_frame_equal(gbmtl.load(saved).predict(X), refit.predict(X))


# -- loading reads only its own plain files --------------------------------------------------------


@pytest.mark.parametrize("entry", ["../../outside.txt", "/etc/passwd", "../../../../etc/passwd",
                                   "sub/dir.txt", ".hidden"])
def test_load_refuses_file_entries_outside_the_directory(saved, entry):
    (saved.parent.parent / "outside.txt").write_text("secret")
    m = _manifest(saved)
    name = next(iter(m["files"]))
    m["files"][entry] = m["files"].pop(name)
    text = json.dumps(m).replace(json.dumps(name), json.dumps(entry))
    (saved / MANIFEST).write_text(text)
    m = _manifest(saved)
    _rewrite(saved, m, fix_checksum=True)  # even a consistent checksum does not help
    with pytest.raises(ArtifactError, match="not a plain name") as err:
        gbmtl.load(saved)
    assert "secret" not in str(err.value) and "exist" not in str(err.value)


def test_load_refuses_symlinked_boosters_and_manifest(saved, tmp_path):
    name = next(iter(_manifest(saved)["files"]))
    real = tmp_path / "elsewhere.bin"
    shutil.copy(saved / name, real)
    (saved / name).unlink()
    (saved / name).symlink_to(real)
    with pytest.raises(ArtifactError, match="missing or not a plain file"):
        gbmtl.load(saved)
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(saved / MANIFEST, tmp_path / "manifest_copy.json")
    (other / MANIFEST).symlink_to(tmp_path / "manifest_copy.json")
    with pytest.raises(ArtifactError, match="not a gbmtl model directory"):
        gbmtl.load(other)


@pytest.mark.parametrize("edit", [
    lambda m: m["calibrators"]["b"]["params"].__setitem__("a", 3.0),
    lambda m: m["tasks"][1].__setitem__("classes", m["tasks"][1]["classes"][::-1]),
    lambda m: m["tasks"][2]["final"] if m["tasks"][2]["final"] == "stage1"
    else m["tasks"][2]["final"].__setitem__("siblings", []),
    lambda m: m["params"].__setitem__("n_folds", 7),
])
def test_any_edit_of_the_manifest_is_refused(saved, edit):
    m = _manifest(saved)
    edit(m)
    _rewrite(saved, m)
    with pytest.raises(ArtifactError, match="checksum"):
        gbmtl.load(saved)


@pytest.mark.parametrize("content", [
    "[1, 2, 3]",
    '{"format": "gbmtl-model", "format_version": 2}',
    '{"format": "gbmtl-model", "format_version": "1"}',
    "[" * 100_000 + "]" * 100_000,
    "not json at all",
])
def test_malformed_manifests_are_one_error_type(saved, content):
    (saved / MANIFEST).write_text(content)
    with pytest.raises(ArtifactError):
        gbmtl.load(saved)


@pytest.mark.parametrize("edit, match", [
    (lambda m: m["tasks"][0].__setitem__("n_labelled", 10**13), "n_labelled"),
    (lambda m: m["calibrators"]["b"]["params"].pop("a"), "calibrator"),
    (lambda m: m.pop("tasks"), "malformed"),
    (lambda m: m["tasks"][0]["task"].__setitem__("kind", "ordinal"), "kind"),
    (lambda m: m["params"].__setitem__("bogus", 1), "unknown constructor"),
])
def test_malformed_values_fail_at_load_with_a_checksum_that_matches(saved, edit, match):
    m = _manifest(saved)
    edit(m)
    _rewrite(saved, m, fix_checksum=True)
    with pytest.raises(ArtifactError, match=match):
        gbmtl.load(saved)


def test_a_newer_format_asks_for_an_upgrade(saved):
    m = _manifest(saved)
    m["format_version"] = 99
    _rewrite(saved, m, fix_checksum=True)
    with pytest.raises(ArtifactError, match="upgrade gbmtl"):
        gbmtl.load(saved)


# -- everything a refit needs is saved ------------------------------------------------------------


def test_a_loaded_model_refits_with_its_own_tasks_and_cv(model, saved, data):
    loaded = gbmtl.load(saved)
    tasks = {t.name: t for t in loaded.tasks}
    assert tasks["a"].backend == "xgboost" and tasks["a"].metric == "ks" and tasks["a"].weight == 3
    refit = clone(loaded).fit(*data)
    assert {t.name: t.backend for t in refit.tasks_}["a"] == "xgboost"
    assert refit.get_params()["calibration"] == {"b": "sigmoid"}


def test_splitters_random_states_and_timestamp_categories_save(data, tmp_path):
    X, Y = data
    X = X.assign(day=pd.Categorical(pd.to_datetime("2026-01-01")
                                    + pd.to_timedelta(np.arange(len(X)) % 5, "D")))
    m = MultiTaskBooster(params=FAST, n_jobs=1, cv=KFold(3, shuffle=True, random_state=4),
                         random_state=np.random.RandomState(0), sharing="none").fit(X, Y)
    m.save(tmp_path / "m")
    loaded = gbmtl.load(tmp_path / "m")
    assert isinstance(loaded.cv, KFold) and loaded.cv.n_splits == 3
    assert loaded.random_state == m._fit_seed
    pd.testing.assert_frame_equal(loaded.predict(X), m.predict(X))
