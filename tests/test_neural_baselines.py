"""Tests of the neural multi-task baselines (gbmtl.baselines)."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

from gbmtl.baselines import ARCHITECTURES, NeuralMultiTask
from gbmtl.tasks import Task


def test_package_imports_without_torch_and_fit_names_the_extra():
    code = (
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ImportError('No module named torch')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "import pandas as pd\n"
        "import gbmtl, gbmtl.baselines\n"
        "assert 'torch' not in sys.modules\n"
        "X = pd.DataFrame({'a': [0.0, 1.0, 2.0, 3.0]}); Y = pd.DataFrame({'y': [0, 1, 0, 1]})\n"
        "try:\n"
        "    gbmtl.baselines.NeuralMultiTask().fit(X, Y)\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "gbmtl[bench]"' in out.stdout


torch = pytest.importorskip("torch")
from gbmtl.baselines import _torch_models  # noqa: E402  (needs torch)

SMALL = {
    "hidden_units": (32, 16),
    "tower_units": (8,),
    "n_experts": 3,
    "expert_units": (16,),
    "batch_size": 128,
    "max_epochs": 15,
    "patience": 3,
}


def make_data(n=600, seed=0):
    """Mixed features and three tasks (binary, regression, multiclass) with missing labels."""
    rng = np.random.default_rng(seed)
    num = rng.normal(size=(n, 4))
    X = pd.DataFrame(num, columns=["f0", "f1", "f2", "f3"])
    X.loc[rng.random(n) < 0.1, "f3"] = np.nan
    X["sector"] = pd.Series(rng.choice(["bank", "tech", "energy", "retail"], n), dtype="str")
    X["rating"] = pd.Categorical(rng.choice(["A", "B", "C"], n))
    X["region"] = rng.choice(["north", "south", None], n).astype(object)
    effect = {"bank": -1.0, "tech": 1.0, "energy": 0.5, "retail": -0.5}
    z = 1.5 * num[:, 0] - num[:, 1] + X["sector"].map(effect).to_numpy()
    Y = pd.DataFrame(
        {
            "default": (z + 0.5 * rng.normal(size=n) > 0).astype(float),
            "loss": 100.0 + 20.0 * (z + num[:, 2]) + rng.normal(size=n),
            "grade": pd.Series(np.digitize(z, [-1.0, 0.0, 1.0])).map(dict(enumerate("abcd"))),
        }
    )
    Y["grade"] = Y["grade"].astype("str")
    Y.loc[rng.random(n) < 0.3, "default"] = np.nan
    Y.loc[rng.random(n) < 0.4, "loss"] = np.nan
    Y.loc[rng.random(n) < 0.2, "grade"] = np.nan
    return X, Y


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny networks run fastest on one thread, and timings stay stable on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_each_architecture_fits_and_predicts(data, architecture):
    X, Y = data
    model = NeuralMultiTask(architecture, random_state=0, **SMALL).fit(X, Y)
    assert [t.kind for t in model.tasks_] == ["binary", "regression", "multiclass"]
    X_new = X.iloc[:50].set_axis(np.arange(1000, 1050))
    pred = model.predict(X_new)
    assert list(pred.columns) == ["default", "loss", "grade"]
    assert pred.index.equals(X_new.index)
    assert set(pred["default"]) <= {0.0, 1.0}
    assert set(pred["grade"]) <= set("abcd")
    assert pred["grade"].dtype == Y["grade"].dtype
    assert np.isfinite(pred["loss"]).all()
    proba = model.predict_proba(X_new)
    assert set(proba) == {"default", "grade"}
    assert proba["default"].shape == (50, 2)
    assert proba["grade"].shape == (50, 4)
    assert list(model.classes_["grade"]) == list("abcd")
    for p in proba.values():
        np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert 1 <= model.n_epochs_ <= SMALL["max_epochs"]
    assert set(model.best_epoch_) == {"default", "loss", "grade"}


def test_architectures_match_the_module_registry():
    assert set(ARCHITECTURES) == set(_torch_models.ARCHITECTURES)


def test_same_seed_same_predictions_and_other_seed_differs(data):
    X, Y = data
    params = dict(SMALL, architecture="mmoe", max_epochs=4)
    a = NeuralMultiTask(random_state=7, **params).fit(X, Y).predict_proba(X)
    b = NeuralMultiTask(random_state=7, **params).fit(X, Y).predict_proba(X)
    c = NeuralMultiTask(random_state=8, **params).fit(X, Y).predict_proba(X)
    np.testing.assert_array_equal(a["default"], b["default"])
    np.testing.assert_array_equal(a["grade"], b["grade"])
    assert not np.allclose(a["default"], c["default"])


def test_global_torch_random_state_is_left_alone(data):
    X, Y = data
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    NeuralMultiTask("shared_bottom", random_state=0, **dict(SMALL, max_epochs=2)).fit(X, Y)
    torch.testing.assert_close(torch.rand(3), expected)


def test_masked_losses_ignore_the_outputs_of_unlabelled_rows():
    kinds = ["binary", "multiclass", "regression"]
    y = torch.tensor(
        [[1.0, 2.0, 0.5], [np.nan, 0.0, np.nan], [0.0, np.nan, -1.0], [np.nan, np.nan, np.nan]]
    )
    clean = [torch.zeros(4, 1), torch.zeros(4, 3), torch.zeros(4, 1)]
    garbage = [o.clone() for o in clean]
    for t, o in enumerate(garbage):
        o[torch.isnan(y[:, t])] = 1e6  # wild outputs exactly where the label is unknown
    outs = [o.requires_grad_() for o in garbage]
    losses = _torch_models._task_losses(outs, y, kinds)
    reference = _torch_models._task_losses(clean, y, kinds)
    assert [c for _, c in losses] == [2, 2, 2]
    for (got, _), (want, _) in zip(losses, reference, strict=True):
        torch.testing.assert_close(got, want)
    torch.stack([s for s, _ in losses]).sum().backward()
    for t, o in enumerate(outs):
        assert torch.all(o.grad[torch.isnan(y[:, t])] == 0)


@pytest.mark.parametrize("architecture", ["shared_bottom", "mmoe", "ple"])
def test_unlabelled_rows_with_garbage_features_do_not_change_the_update(data, architecture):
    X, Y = data
    model = NeuralMultiTask(architecture, random_state=0, **dict(SMALL, max_epochs=1)).fit(X, Y)
    enc = model._encoder
    num, cat = (torch.from_numpy(a) for a in enc.transform(X.iloc[:64]))
    y = torch.from_numpy(
        np.column_stack([model._codecs[t.name].encode(Y[t.name].iloc[:64]) for t in model.tasks_])
    )
    kinds = [t.kind for t in model.tasks_]
    extra = 16  # rows without any label and absurd inputs, appended to the batch
    num_g = torch.cat([num, torch.full((extra, num.shape[1]), 1e4)])
    cat_g = torch.cat([cat, torch.zeros((extra, cat.shape[1]), dtype=cat.dtype)])
    y_g = torch.cat([y, torch.full((extra, y.shape[1]), float("nan"))])

    def grads(xn, xc, yy):
        model.module_.zero_grad()
        terms = [s / c for s, c in _torch_models._task_losses(model.module_(xn, xc), yy, kinds)]
        torch.stack(terms).sum().backward()
        return [p.grad.clone() for p in model.module_.parameters() if p.grad is not None]

    model.module_.eval()
    for got, want in zip(grads(num_g, cat_g, y_g), grads(num, cat, y), strict=True):
        torch.testing.assert_close(got, want)


def test_single_tasks_are_independent(data):
    X, Y = data
    params = dict(SMALL, architecture="single", random_state=3)
    base = NeuralMultiTask(**params).fit(X, Y)
    Y_other = Y.copy()
    Y_other["default"] = 1.0 - Y_other["default"]  # a different first task
    other = NeuralMultiTask(**params).fit(X, Y_other)
    pd.testing.assert_series_equal(base.predict(X)["loss"], other.predict(X)["loss"])


def test_unknown_category_and_missing_values_at_predict(data):
    X, Y = data
    model = NeuralMultiTask("shared_bottom", random_state=0, **SMALL).fit(X, Y)
    X_new = X.iloc[:5].copy()
    X_new["sector"] = pd.Series(["crypto", None, "bank", "tech", "???"], dtype="str").values
    X_new["rating"] = pd.Categorical(["Z", "A", None, "B", "C"])
    X_new["f0"] = np.nan
    pred = model.predict(X_new)
    assert pred.notna().all().all()
    assert np.isfinite(model.predict_proba(X_new)["default"]).all()


def test_learns_a_learnable_problem():
    X, Y = make_data(n=3000, seed=1)
    X_test, Y_test = make_data(n=1000, seed=2)
    model = NeuralMultiTask("mmoe", random_state=0, **dict(SMALL, max_epochs=30)).fit(X, Y)
    known = Y_test["default"].notna().to_numpy()
    auc = roc_auc_score(Y_test["default"][known], model.predict_proba(X_test)["default"][known, 1])
    assert auc > 0.85
    pred = model.predict(X_test)["loss"]
    labelled = Y_test["loss"].notna()
    rmse = np.sqrt(np.mean((pred[labelled] - Y_test["loss"][labelled]) ** 2))
    assert rmse < 0.6 * Y_test["loss"].std()  # de-standardized back to the target's scale


def test_tasks_argument_weights_eval_set_and_no_validation(data):
    X, Y = data
    tasks = [Task("default", kind="binary", weight=2.0), Task("loss", kind="regression")]
    model = NeuralMultiTask(
        "cross_stitch", tasks=tasks, random_state=0, **dict(SMALL, max_epochs=3)
    ).fit(X, Y, eval_set=(X.iloc[:100], Y.iloc[:100]))
    assert list(model.predict(X).columns) == ["default", "loss"]
    model = NeuralMultiTask(
        tasks={"grade": "multiclass"},
        validation_fraction=0.0,
        random_state=0,
        **dict(SMALL, max_epochs=3),
    ).fit(X, Y)
    assert model.n_epochs_ == 3 and model.best_epoch_ == {"grade": 3}


def test_clone_pickle_and_params_untouched(data):
    X, Y = data
    model = NeuralMultiTask("ple", random_state=0, **dict(SMALL, max_epochs=2))
    before = model.get_params()
    model.fit(X, Y)
    assert model.get_params() == before
    assert clone(model).get_params() == before
    restored = pickle.loads(pickle.dumps(model))
    pd.testing.assert_frame_equal(restored.predict(X), model.predict(X))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"architecture": "transformer"}, "unknown architecture 'transformer'"),
        ({"dropout": 1.5}, "dropout"),
        ({"hidden_units": (32, 0)}, "hidden_units"),
        ({"patience": 0}, "patience"),
        ({"numeric_transform": "log"}, "numeric_transform"),
        ({"device": "not-a-device"}, "device"),
    ],
)
def test_bad_parameters_are_named(data, params, message):
    X, Y = data
    with pytest.raises(ValueError, match=message):
        NeuralMultiTask(**params).fit(X, Y)


def test_bad_inputs_are_named(data):
    X, Y = data
    empty = Y.assign(loss=np.nan)
    with pytest.raises(ValueError, match="'loss': every label is missing"):
        NeuralMultiTask(**SMALL).fit(X, empty)
    with pytest.raises(ValueError, match="rows"):
        NeuralMultiTask(**SMALL).fit(X.iloc[:10], Y)
    with pytest.raises(NotFittedError):
        NeuralMultiTask().predict(X)
    model = NeuralMultiTask("shared_bottom", **dict(SMALL, max_epochs=1)).fit(X, Y)
    with pytest.raises(ValueError, match="missing columns.*sector"):
        model.predict(X.drop(columns="sector"))
