"""Shared trees: one boosted ensemble of multi-output trees over all tasks (hard sharing).

XGBoost's vector-leaf trees (``multi_strategy="multi_output_tree"``) split once for every task and
hold one leaf value per task output, so the tasks share the partition (the trees' parameters)
while each keeps its own leaf values. A custom objective gives every task its own loss (logistic,
softmax, squared error on the standardised target) and zero gradient and hessian where its label
is missing. Each task reads its outputs at its own number of rounds, chosen on the held-out fold.

The ensemble trains on every row that has any label. Its folds are common to all tasks and hold
out whole rows (every label of a held-out row is unseen), so a task's out-of-fold scores never
come from trees that saw that row's labels of any task. Vector-leaf trees reject categorical
columns, so categories enter as their integer codes here (for this mechanism only).

XGBoost has no SHAP values for vector-leaf trees; contributions are path attributions (Saabas):
each split on a row's path credits its feature with the change of the node value. They add up
to the raw score exactly, but unlike SHAP they are not consistent (a feature's credit depends on
where in the tree it splits).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xgboost as xgb
from scipy.special import expit, softmax

from gbmtl._context import FitContext, TaskPlan, fold_splits, model_seed, validation_split
from gbmtl._labels import EncodedTask
from gbmtl.sharing._base import MechanismFit
from gbmtl.sharing._siblings import SiblingInputs

#: Parameters of the shared ensemble. The estimator's ``params`` pass on their number of rounds
#: and learning rate (the two settings every booster shares); ``sharing_params={"shared_trees":
#: {...}}`` overrides everything.
DEFAULT_PARAMS = {"learning_rate": 0.05, "max_depth": 4, "min_child_weight": 2.0,
                  "lambda": 5.0, "subsample": 1.0, "colsample_bytree": 0.8, "max_bin": 256}
DEFAULT_ROUNDS = 1000
#: A multiclass sibling with more classes than this lends its labels to the shared ensemble only
#: if it uses the ensemble itself: every class is one more output of every tree (a 35-class grade
#: made the ensemble 18 times as costly for a binary task that gained nothing from it).
MAX_SIBLING_CLASSES = 10
_ROUNDS = ("n_estimators", "num_boost_round", "num_iterations", "num_round", "num_trees")
_RATES = ("learning_rate", "eta", "shrinkage_rate")


def ensemble_params(estimator_params: dict | None, own: dict | None) -> tuple[dict, int]:
    """The shared ensemble's XGBoost parameters and maximum number of rounds."""
    given = estimator_params or {}
    params = dict(DEFAULT_PARAMS)
    rounds = DEFAULT_ROUNDS
    for key in _ROUNDS:
        if key in given:
            rounds = int(given[key])
    for key in _RATES:
        if key in given:
            params["learning_rate"] = float(given[key])
    own = dict(own or {})
    for key in _ROUNDS:
        if key in own:
            rounds = int(own.pop(key))
    if "eta" in own:
        own["learning_rate"] = own.pop("eta")
    return {**params, **own}, rounds


def encode_codes(F: pd.DataFrame) -> np.ndarray:
    """The feature table as float32, category columns as their codes (missing: NaN)."""
    cols = []
    for name in F.columns:
        s = F[name]
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes = s.cat.codes.to_numpy().astype(np.float32)
            codes[codes < 0] = np.nan
            cols.append(codes)
        else:
            cols.append(s.to_numpy(dtype=np.float32, na_value=np.nan))
    return np.column_stack(cols) if cols else np.zeros((len(F), 0), np.float32)


@dataclass
class Output:
    """Where one task's raw scores sit among the ensemble's outputs."""

    task: str
    kind: str
    start: int
    width: int
    mean: float = 0.0  # regression targets are standardised: value = mean + scale * output
    scale: float = 1.0

    @property
    def cols(self) -> slice:
        return slice(self.start, self.start + self.width)


def _contiguous(idx: list[int]) -> bool:
    return bool(idx) and idx == list(range(idx[0], idx[-1] + 1))


class SharedData:
    """The encoded table, labels and weights every shared-trees job reads (built once)."""

    def __init__(self, ctx: FitContext, plans: list[TaskPlan]):
        self.plans = plans
        self.X = encode_codes(ctx.X)
        self.outputs: list[Output] = []
        start = 0
        for p in plans:
            out = Output(p.name, p.kind, start, p.width)
            if p.kind == "regression":
                y = p.enc.y[p.enc.labelled]
                out.mean = float(np.mean(y))
                out.scale = float(np.std(y)) or 1.0
            self.outputs.append(out)
            start += p.width
        self.n_outputs = start
        labelled = np.zeros(len(ctx.X), bool)
        for p in plans:
            labelled[p.enc.labelled] = True
        self.rows = np.flatnonzero(labelled)

    def prior(self, rows: np.ndarray) -> np.ndarray:
        """Starting raw scores per output: each task's base rate on ``rows`` (0 for targets)."""
        prior = np.zeros(self.n_outputs)
        for p, out in zip(self.plans, self.outputs, strict=True):
            y = p.enc.y[rows]
            y = y[~np.isnan(y)]
            if p.kind == "binary" and len(y):
                rate = np.clip(y.mean(), 1e-6, 1 - 1e-6)
                prior[out.start] = np.log(rate / (1 - rate))
            elif p.kind == "multiclass" and len(y):
                freq = np.bincount(y.astype(int), minlength=out.width) + 1.0
                logf = np.log(freq / freq.sum())
                prior[out.cols] = logf - logf.mean()
        return prior

    def objective(self, rows: np.ndarray):
        """The custom objective on ``rows``: each task's own loss, nothing where unlabelled."""
        # Called once per round: labels and weights are laid out once as (outputs, rows)
        # matrices (weight 0 where a label is missing), so a round is a few operations on
        # contiguous rows instead of a gather and scatter per task (10x faster measured).
        shape = (self.n_outputs, len(rows))
        Y = np.zeros(shape)
        W = np.zeros(shape)
        binary, regression, softmax_blocks = [], [], []
        for p, out in zip(self.plans, self.outputs, strict=True):
            y = p.enc.y[rows]
            m = ~np.isnan(y)
            W[out.cols] = np.where(m, 1.0 if p.weight is None else p.weight[rows], 0.0)
            if p.kind == "multiclass":
                Y[out.start + y[m].astype(int), np.flatnonzero(m)] = 1.0
                softmax_blocks.append(out.cols)
            elif p.kind == "binary":
                Y[out.start, m] = y[m]
                binary.append(out.start)
            else:
                Y[out.start, m] = (y[m] - out.mean) / out.scale
                regression.append(out.start)
        binary = slice(binary[0], binary[-1] + 1) if _contiguous(binary) else binary
        regression = slice(regression[0], regression[-1] + 1) \
            if _contiguous(regression) else regression

        def obj(predt: np.ndarray, dtrain) -> tuple[np.ndarray, np.ndarray]:
            z = np.ascontiguousarray(predt.reshape(shape[::-1]).T, dtype=np.float64)
            g = np.empty(shape)
            h = np.empty(shape)
            P = expit(z[binary])
            g[binary] = P - Y[binary]
            h[binary] = np.maximum(P * (1 - P), 1e-16)
            g[regression] = z[regression] - Y[regression]
            h[regression] = 1.0
            for cols in softmax_blocks:
                P = np.exp(z[cols] - z[cols].max(axis=0))
                P /= P.sum(axis=0)
                g[cols] = P - Y[cols]
                h[cols] = np.maximum(2 * P * (1 - P), 1e-16)
            g *= W
            h *= W
            return g.T, h.T

        return obj

    def losses(self, rows: np.ndarray, predt: np.ndarray) -> list[float]:
        """Each task's loss on its labelled ``rows`` (NaN where it has none there)."""
        predt = predt.reshape(len(rows), -1)
        out_losses = []
        for p, out in zip(self.plans, self.outputs, strict=True):
            y = p.enc.y[rows]
            m = ~np.isnan(y)
            if not m.any():
                out_losses.append(float("nan"))
                continue
            w = None if p.weight is None else p.weight[rows][m]
            z = predt[m, out.cols]
            if p.kind == "binary":
                pr = np.clip(expit(z[:, 0]), 1e-15, 1 - 1e-15)
                ll = -(y[m] * np.log(pr) + (1 - y[m]) * np.log(1 - pr))
            elif p.kind == "multiclass":
                P = softmax(z, axis=1)
                ll = -np.log(np.clip(P[np.arange(m.sum()), y[m].astype(int)], 1e-15, 1))
            else:
                ll = (z[:, 0] - (y[m] - out.mean) / out.scale) ** 2
            out_losses.append(float(np.average(ll, weights=w)))
        return out_losses


class _PerTaskStop(xgb.callback.TrainingCallback):
    """Stops once no watched task's validation loss improved for ``patience`` rounds (tasks
    that only lend their labels to the shared partition need no round count of their own)."""

    def __init__(self, history: list[list[float]], patience: int, watched: np.ndarray):
        self.history = history
        self.patience = patience
        self.watched = watched
        self.best: np.ndarray | None = None  # best loss per task so far
        self.best_round: np.ndarray | None = None

    def after_iteration(self, model, epoch, evals_log) -> bool:
        losses = np.asarray(self.history[-1], dtype=float)
        r = len(self.history) - 1
        if self.best is None:
            self.best, self.best_round = losses.copy(), np.zeros(len(losses), dtype=int)
        better = np.isfinite(losses) & ~(losses >= self.best)
        self.best[better] = losses[better]
        self.best_round[better] = r
        return bool((r - self.best_round >= self.patience)[self.watched].all())


@dataclass(eq=False)
class SharedTreesJob:
    """One shared ensemble: trained on ``rows``, early-stopped per task on ``val_rows``."""

    data: SharedData
    fold: int | None
    rows: np.ndarray
    val_rows: np.ndarray | None
    rounds: int
    seed: int
    params: dict
    patience: int | None
    watched: tuple[str, ...] = ()  # tasks whose round count early stopping waits for
    role: str = "shared_trees"
    task: str = "*"

    def train(self, ctx, n_threads: int):
        d = self.data
        prior = d.prior(self.rows)
        dtrain = xgb.DMatrix(d.X[self.rows], base_margin=np.tile(prior, (len(self.rows), 1)),
                             nthread=n_threads)
        params = {"tree_method": "hist", "multi_strategy": "multi_output_tree",
                  "num_target": d.n_outputs, "disable_default_eval_metric": 1,
                  "nthread": n_threads, "seed": self.seed, "verbosity": 0, **self.params}
        history: list[list[float]] = []
        kw = {}
        if self.val_rows is not None and self.patience:
            dval = xgb.DMatrix(d.X[self.val_rows],
                               base_margin=np.tile(prior, (len(self.val_rows), 1)),
                               nthread=n_threads)

            def metric(predt, _):
                history.append(d.losses(self.val_rows, predt))
                return "shared", 0.0

            kw = {"evals": [(dval, "val")], "custom_metric": metric,
                  "callbacks": [_PerTaskStop(history, self.patience, np.array(
                      [o.task in self.watched for o in d.outputs]))]}
        booster = xgb.train(params, dtrain, self.rounds, obj=d.objective(self.rows),
                            verbose_eval=False, **kw)
        if history:
            h = np.asarray(history, dtype=float)
            rounds = [int(np.nanargmin(c)) + 1 if np.isfinite(c).any() else len(h) for c in h.T]
        else:
            rounds = [booster.num_boosted_rounds()] * len(d.outputs)
        return booster, prior, rounds


class SharedEnsemble:
    """The fitted boosters (main first, then fold models), their priors and task layout."""

    def __init__(self, boosters: list[xgb.Booster], priors: list[np.ndarray],
                 outputs: list[Output], rounds: dict[str, int], columns: list[str]):
        self.boosters = boosters
        self.priors = [np.asarray(p, dtype=float) for p in priors]
        self.outputs = {o.task: o for o in outputs}
        self.rounds = dict(rounds)
        self.columns = list(columns)
        self._trees: dict[int, list] = {}

    def raw(self, F: pd.DataFrame, task: str, which: list[int]) -> np.ndarray:
        """Mean raw score of ``task`` over boosters ``which``, in the task's own units."""
        X = encode_codes(F[self.columns])
        out = self.outputs[task]
        preds = []
        for i in which:
            dm = xgb.DMatrix(X, base_margin=np.tile(self.priors[i], (len(X), 1)))
            p = self.boosters[i].predict(dm, output_margin=True,
                                         iteration_range=(0, self.rounds[task]))
            preds.append(p.reshape(len(X), -1)[:, out.cols])
        return out.mean + out.scale * np.mean(preds, axis=0)

    def contributions(self, F: pd.DataFrame, task: str, which: list[int]) -> np.ndarray:
        """Path attributions ``(n, outputs, features + 1)`` of ``task``, averaged over boosters."""
        X = encode_codes(F[self.columns])
        out = self.outputs[task]
        total = np.zeros((len(X), out.width, X.shape[1] + 1))
        for i in which:
            phi = _path_attributions(self._tree_arrays(i), X, self.rounds[task],
                                     sum(o.width for o in self.outputs.values()))[:, out.cols]
            phi[:, :, -1] += self.priors[i][out.cols]
            total += phi
        total *= out.scale / len(which)
        total[:, :, -1] += out.mean
        return total

    def feature_importance(self, which: list[int]) -> np.ndarray:
        imp = np.zeros(len(self.columns))
        for i in which:
            scores = self.boosters[i].get_score(importance_type="total_gain")
            imp += [scores.get(f"f{j}", 0.0) for j in range(len(self.columns))]
        return imp / len(which)

    def _tree_arrays(self, i: int) -> list:
        if i not in self._trees:
            model = json.loads(self.boosters[i].save_raw("json"))
            self._trees[i] = [
                (np.array(t["left_children"]), np.array(t["right_children"]),
                 np.array(t["split_indices"]), np.array(t["split_conditions"], dtype=np.float32),
                 np.array(t["default_left"]).astype(bool), np.array(t["base_weights"]))
                for t in model["learner"]["gradient_booster"]["model"]["trees"]
            ]
        return self._trees[i]

    def to_manifest(self, store) -> dict:
        files = [store.put(bytes(b.save_raw(raw_format="ubj")), f"shared_trees_{i}.ubj")
                 for i, b in enumerate(self.boosters)]
        return {"models": files, "priors": [p.tolist() for p in self.priors],
                "outputs": [vars(o) for o in self.outputs.values()], "rounds": self.rounds,
                "columns": self.columns}

    @classmethod
    def from_manifest(cls, entry: dict, store) -> SharedEnsemble:
        boosters = []
        for f in entry["models"]:
            b = xgb.Booster()
            b.load_model(bytearray(store.get(f)))
            boosters.append(b)
        return cls(boosters, entry["priors"], [Output(**o) for o in entry["outputs"]],
                   entry["rounds"], entry["columns"])


def _path_attributions(trees: list, X: np.ndarray, rounds: int, n_outputs: int) -> np.ndarray:
    """Saabas attributions of the first ``rounds`` vector-leaf trees (one tree per round).

    Written here because XGBoost computes no contributions for vector-leaf trees. Rows walk each
    tree level by level, all at once; a split credits its feature with child - parent value.
    """
    n, p = X.shape
    phi = np.zeros((n, n_outputs, p + 1))
    for left, right, feat, cond, default_left, weights in trees[:rounds]:
        w = weights.reshape(-1, n_outputs)
        node = np.zeros(n, dtype=int)
        phi[:, :, -1] += w[0]
        active = left[node] != -1
        while active.any():
            idx = np.flatnonzero(active)
            nd = node[idx]
            x = X[idx, feat[nd]]
            go_left = np.where(np.isnan(x), default_left[nd], x < cond[nd])
            child = np.where(go_left, left[nd], right[nd])
            np.add.at(phi, (idx, slice(None), feat[nd]), w[child] - w[nd])
            node[idx] = child
            active[idx] = left[child] != -1
    return phi


class SharedTreesModel:
    mechanism = "shared_trees"

    def __init__(self, ensemble: SharedEnsemble, task: str, which: list[int]):
        self.ensemble = ensemble
        self.task = task
        self.which = list(which)  # boosters this task averages (bagging) or the main one
        self.siblings: list[str] = []

    @property
    def rounds(self) -> int:
        return int(self.ensemble.rounds[self.task])

    @property
    def n_models(self) -> int:
        return len(self.which)

    def predict_raw(self, F: pd.DataFrame, inputs: SiblingInputs | None = None) -> np.ndarray:
        return self.ensemble.raw(F, self.task, self.which)

    def contributions(self, F: pd.DataFrame, inputs: SiblingInputs | None = None):
        return list(F.columns), self.ensemble.contributions(F, self.task, self.which)

    def feature_importance(self, features: list[str]) -> pd.Series:
        imp = pd.Series(self.ensemble.feature_importance(self.which), index=self.ensemble.columns)
        return imp.reindex(features, fill_value=0.0)

    def to_manifest(self, store, stem: str) -> dict:
        return {"ensemble": "shared_trees", "task": self.task, "which": self.which}

    @classmethod
    def from_manifest(cls, entry: dict, store, *, shared: dict, **_) -> SharedTreesModel:
        return cls(shared[entry["ensemble"]], entry["task"], entry["which"])


class SharedTrees:
    name = "shared_trees"
    uses_siblings = False

    def fit(self, ctx: FitContext, plans: list[TaskPlan],
            inputs: SiblingInputs | None = None) -> dict[str, MechanismFit]:
        # The ensemble learns from every task that these tasks may learn from.
        users = {p.name for p in plans}
        names = users | {s for p in plans for s in p.siblings}
        members = [p for p in ctx.plans if p.name in users or (
            p.name in names and not (p.kind == "multiclass"
                                     and p.n_classes > MAX_SIBLING_CLASSES))]
        data = SharedData(ctx, members)
        fit_rows, val_rows, folds, aligned = self._split(ctx, data)
        settings, max_rounds = ensemble_params(ctx.params, ctx.sharing_params.get(self.name))
        seed = model_seed(ctx.seed, 0, -1, 500)
        used = tuple(p.name for p in plans)
        main = SharedTreesJob(data, None, fit_rows, val_rows, max_rounds, seed, settings,
                              ctx.early_stopping_rounds, used)
        (booster, prior, rounds), = ctx.executor.run(ctx, [main])
        per_task = {o.task: r for o, r in zip(data.outputs, rounds, strict=True)}
        # The main ensemble holds out the first fold when the folds are aligned with its split;
        # every other fold gets an ensemble of its own, at the largest round count any task uses.
        trained = [k for k in range(len(folds)) if not (aligned and k == 0)]
        fold_rounds = max(per_task[t] for t in used)
        jobs = [SharedTreesJob(data, k, folds[k][0], None, fold_rounds,
                               model_seed(ctx.seed, 0, k, 500), settings, None) for k in trained]
        fold_results = ctx.executor.run(ctx, jobs)
        boosters = [booster] + [r[0] for r in fold_results]
        priors = [prior] + [r[1] for r in fold_results]
        ensemble = SharedEnsemble(boosters, priors, data.outputs, per_task, list(ctx.X.columns))
        booster_of_fold = {k: 1 + i for i, k in enumerate(trained)}
        if aligned:
            booster_of_fold[0] = 0
        out = {}
        for p in plans:
            o = ensemble.outputs[p.name]
            oof = np.full((len(ctx.X), p.width), np.nan)
            for k, (_, te) in enumerate(folds):
                te = np.intersect1d(te, p.enc.labelled)
                if len(te):
                    oof[te] = self._raw(ensemble, booster_of_fold[k], data.X[te], o)
            # Bagged tasks average the ensembles of every fold (the main one is the first
            # fold's when aligned); the others use the main ensemble.
            which = ([0] if aligned else []) + [1 + i for i in range(len(trained))] \
                if p.bagged else [0]
            out[p.name] = MechanismFit(SharedTreesModel(ensemble, p.name, which), oof, None)
        return out

    @staticmethod
    def _raw(ensemble: SharedEnsemble, i: int, X: np.ndarray, o: Output) -> np.ndarray:
        dm = xgb.DMatrix(X, base_margin=np.tile(ensemble.priors[i], (len(X), 1)))
        p = ensemble.boosters[i].predict(dm, output_margin=True,
                                         iteration_range=(0, ensemble.rounds[o.task]))
        return o.mean + o.scale * p.reshape(len(X), -1)[:, o.cols]

    @staticmethod
    def _split(ctx: FitContext, data: SharedData):
        """Rows the main ensemble trains on, its held-out rows, and the common folds."""
        rows = data.rows
        seed = model_seed(ctx.seed, 0, 99, 500)
        enc = EncodedTask(np.zeros(len(ctx.X)), rows, None)
        if ctx.aligned:
            folds = fold_splits(rows, None, "regression", ctx.n_folds, None, ctx.groups, seed)
            return folds[0][0], folds[0][1], folds, True
        fit_rows, val_rows = validation_split(enc, "regression", ctx.groups, seed)
        try:
            folds = fold_splits(rows, None, "regression", ctx.n_folds, ctx.cv, ctx.groups, seed)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                "sharing 'shared_trees' holds out whole rows of every task, so its folds come "
                f"from cv.split without labels, which this cv refuses ({exc}); use another "
                "splitter or leave 'shared_trees' out of sharing"
            ) from exc
        return fit_rows, val_rows, folds, False
