"""Flat forests: the trees of fitted models as arrays, evaluated for a few rows by compiled code.

Scoring one transaction through the libraries costs a call per booster, and a gbmtl model holds
dozens (fold models of every mechanism a blend averages, sibling models, shared trees): most of
a row's time goes to per-call overhead, not to trees. Here the trees of the boosters that a
model averages are laid out once in one set of arrays, each booster adding into outputs of its
own, and one numba-compiled loop walks them for each row. Written by hand because no kept
library does this for both backends on current LLVM: lleaves (LightGBM only) needs an llvmlite
older than the one numba ships, and treelite's compiled models need a C compiler where they are
built.

The walk follows each library's own decision rules and adds the leaves in tree order, so a
LightGBM model's scores equal LightGBM's to the bit, and an XGBoost model's equal XGBoost's when
added into float32 from the same base margin (``Forest.add_to``):

- LightGBM (``model_to_string``): numerical splits go left when ``value <= threshold``; a NaN
  becomes 0.0 unless the split's missing type is NaN; missing values (NaN, or zero for missing
  type Zero) follow ``default_left``. Categorical splits go left when the integer category is in
  the split's bitset; NaN and negative categories go right.
- XGBoost (JSON model): values and thresholds compare in float32, left when
  ``value < threshold``, NaN follows ``default_left``; multi-output (vector-leaf) trees add a leaf
  vector. Categorical XGBoost splits are not read (those models keep the library's path).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

#: LightGBM's ``kZeroThreshold`` (1e-35 as a float32), below which a value counts as zero.
_ZERO = float(np.float32(1e-35))
#: Node kinds.
_LGB_NUM, _LGB_CAT, _XGB_NUM = 0, 1, 2


class Unsupported(ValueError):
    """A model this module does not lay out (linear trees, XGBoost categories, random forests)."""


@dataclass
class Forest:
    """Trees as arrays. ``ints`` columns: feature, left, right, kind, default_left, missing type,
    bitset start, bitset length (children ``< 0`` are leaves ``~child``). Each tree adds its
    leaf's ``width`` values, times ``scale``, to outputs ``start .. start + width``."""

    ints: np.ndarray  # (nodes, 8) int64
    threshold: np.ndarray  # (nodes,) float64
    bits: np.ndarray  # (words,) uint32
    leaves: np.ndarray  # (leaves * width,) float64, scaled
    roots: np.ndarray  # (trees, 2) int64: root node (or ~leaf), output start
    width: int
    n_outputs: int
    bias: np.ndarray  # (n_outputs,) float64, added once

    @staticmethod
    def concat(forests: list[Forest]) -> Forest:
        """One forest that adds up ``forests`` (same outputs)."""
        ints, thr, bits, leaves, roots = [], [], [], [], []
        n_nodes = n_words = n_leaves = 0
        for f in forests:
            i = f.ints.copy()
            for col in (1, 2):  # children: shift internal nodes and leaves
                child = i[:, col]
                i[:, col] = np.where(child >= 0, child + n_nodes, ~(~child + n_leaves))
            i[:, 6] += n_words
            r = f.roots.copy()
            r[:, 0] = np.where(r[:, 0] >= 0, r[:, 0] + n_nodes, ~(~r[:, 0] + n_leaves))
            ints.append(i)
            thr.append(f.threshold)
            bits.append(f.bits)
            leaves.append(f.leaves)
            roots.append(r)
            n_nodes += len(f.threshold)
            n_words += len(f.bits)
            n_leaves += len(f.leaves) // f.width
        first = forests[0]
        if any(f.width != first.width or f.n_outputs != first.n_outputs for f in forests):
            raise Unsupported("forests of different output shapes cannot be added")
        return Forest(np.concatenate(ints), np.concatenate(thr),
                      np.concatenate(bits).astype(np.uint32), np.concatenate(leaves),
                      np.concatenate(roots), first.width, first.n_outputs,
                      np.sum([f.bias for f in forests], axis=0))

    @staticmethod
    def side_by_side(forests: list[Forest]) -> Forest:
        """One forest whose outputs are ``forests``' outputs one after the other: one walk
        gives each forest's own sums (each output adds its own trees, in their order)."""
        shifted, start = [], 0
        for f in forests:
            roots = f.roots.copy()
            roots[:, 1] += start
            shifted.append(Forest(f.ints, f.threshold, f.bits, f.leaves, roots, f.width,
                                  f.n_outputs, f.bias))
            start += f.n_outputs
        total = Forest.concat([Forest(f.ints, f.threshold, f.bits, f.leaves, f.roots, f.width,
                                      start, np.zeros(start)) for f in shifted])
        total.bias = np.concatenate([f.bias for f in forests])
        return total

    def packed(self) -> tuple:
        """The arrays the walk reads, narrow: a node's feature, children and flags in int32 /
        int8 arrays (a tree's nodes then span a few cache lines; at eight int64 fields per node a
        model of 20,000 trees did not fit the caches)."""
        if getattr(self, "_packed", None) is None:
            i = self.ints
            flags = (i[:, 3] | (i[:, 4] << 2) | (i[:, 5] << 3)).astype(np.int8)
            self._packed = (i[:, 0].astype(np.int32), i[:, 1].astype(np.int32),
                            i[:, 2].astype(np.int32), flags, np.ascontiguousarray(self.threshold),
                            np.ascontiguousarray(i[:, 6:8].astype(np.int32)),
                            self.bits.astype(np.uint32), np.ascontiguousarray(self.leaves),
                            np.ascontiguousarray(self.roots.astype(np.int32)))
        return self._packed

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Raw scores ``(n, n_outputs)`` of the rows of the float64 matrix ``X``."""
        out = np.empty((len(X), self.n_outputs))
        out[:] = self.bias
        return self.add_to(X, out)

    def add_to(self, X: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out`` plus each tree's leaf values, tree by tree, in ``out``'s own type (float32
        sums as XGBoost's; the bias is not added)."""
        _walk(np.ascontiguousarray(X, dtype=np.float64), *self.packed(), self.width, out)
        return out

    def key(self) -> bytes:
        """A digest of the trees: equal forests (a model used twice in a graph) share one walk."""
        import hashlib

        h = hashlib.sha1()
        for a in (self.ints, self.threshold, self.bits, self.leaves, self.roots, self.bias):
            h.update(np.ascontiguousarray(a).tobytes())
        h.update(f"{self.width},{self.n_outputs}".encode())
        return h.digest()


# -- LightGBM ------------------------------------------------------------------------------------


def _numbers(texts: list[str], dtype) -> np.ndarray:
    """The space-separated numbers of several lines, as one array (one parse for all trees)."""
    joined = " ".join(t for t in texts if t)
    return np.array(joined.split(), dtype=dtype) if joined else np.zeros(0, dtype=dtype)


def from_lightgbm(booster, num_iteration: int | None = None) -> Forest:
    """The trees of a LightGBM booster (up to ``num_iteration``; all when None or <= 0).

    Read from the text model (``model_to_string``, every number at full precision), each field
    of all trees parsed at once."""
    text = booster.model_to_string(num_iteration=num_iteration or -1)
    head, _, rest = text.partition("\nTree=")
    if "average_output" in head.splitlines():
        raise Unsupported("random-forest LightGBM models average their trees")
    header = dict(line.split("=", 1) for line in head.splitlines() if "=" in line)
    per_iteration = int(header.get("num_tree_per_iteration", 1))
    rest = rest.split("\nend of trees")[0]
    keys = ("num_leaves", "num_cat", "split_feature", "threshold", "decision_type", "left_child",
            "right_child", "leaf_value", "cat_boundaries", "cat_threshold", "is_linear")
    fields: dict[str, list[str]] = {k: [] for k in keys}
    for block in rest.split("\nTree=") if rest else []:
        seen = dict.fromkeys(keys, "")
        for line in block.splitlines():
            key, sep, value = line.partition("=")
            if sep and key in seen:
                seen[key] = value
        for k in keys:
            fields[k].append(seen[k])
    if any(v not in ("", "0") for v in fields["is_linear"]):
        raise Unsupported("LightGBM linear trees")
    n_leaf = np.array(fields["num_leaves"], dtype=np.int64)
    n_trees = len(n_leaf)
    n_inner = np.maximum(n_leaf - 1, 0)
    node_off = np.concatenate([[0], np.cumsum(n_inner)[:-1]]) if n_trees else n_inner
    leaf_off = np.concatenate([[0], np.cumsum(n_leaf)[:-1]]) if n_trees else n_leaf
    tree_of = np.repeat(np.arange(n_trees), n_inner)
    feature = _numbers(fields["split_feature"], np.int64)
    threshold = _numbers(fields["threshold"], np.float64)
    decision = _numbers(fields["decision_type"], np.int64)
    node = np.zeros((len(feature), 8), dtype=np.int64)
    node[:, 0] = feature
    for col, name in ((1, "left_child"), (2, "right_child")):
        child = _numbers(fields[name], np.int64)
        node[:, col] = np.where(child >= 0, child + node_off[tree_of],
                                ~(~child + leaf_off[tree_of]))
    cat = (decision & 1).astype(bool)
    node[:, 3] = np.where(cat, _LGB_CAT, _LGB_NUM)
    node[:, 4] = (decision >> 1) & 1
    node[:, 5] = (decision >> 2) & 3
    bits = np.zeros(0, np.uint32)
    if cat.any():
        n_cat = np.array([int(v or 0) for v in fields["num_cat"]], dtype=np.int64)
        bounds = _numbers(fields["cat_boundaries"], np.int64)  # num_cat + 1 per tree with cats
        words = _numbers(fields["cat_threshold"], np.uint64).astype(np.uint32)
        has = n_cat > 0
        bound_off = np.zeros(n_trees, np.int64)
        bound_off[has] = np.concatenate([[0], np.cumsum(n_cat[has] + 1)[:-1]])
        # Each tree's bitset words follow the previous trees' (its boundaries start at 0).
        word_count = np.zeros(n_trees, np.int64)
        word_count[has] = bounds[bound_off[has] + n_cat[has]]
        word_off = np.concatenate([[0], np.cumsum(word_count)[:-1]])
        t = tree_of[cat]
        index = bound_off[t] + threshold[cat].astype(np.int64)
        node[cat, 6] = bounds[index] + word_off[t]
        node[cat, 7] = bounds[index + 1] - bounds[index]
        bits = words
    roots = np.column_stack([np.where(n_leaf > 1, node_off, ~leaf_off),
                             np.arange(n_trees) % per_iteration]).astype(np.int64)
    return Forest(node, threshold, bits, _numbers(fields["leaf_value"], np.float64),
                  roots.reshape(-1, 2), 1, per_iteration, np.zeros(per_iteration))


# -- XGBoost -------------------------------------------------------------------------------------


def xgboost_json(booster) -> dict:
    """An XGBoost booster's JSON model (``learner``), parsed once for several forests."""
    return json.loads(booster.save_raw(raw_format="json"))["learner"]


def from_xgboost(booster, iterations: int | None = None, start: int = 0,
                 model: dict | None = None) -> Forest:
    """The trees of an XGBoost booster, iterations ``start`` up to ``iterations`` (all when None
    or 0, as XGBoost's ``iteration_range``), without its base score: the caller adds the margin
    it would pass as ``base_margin``. ``model``: its :func:`xgboost_json`, when at hand."""
    model = xgboost_json(booster) if model is None else model
    gbm = model["gradient_booster"]
    if gbm.get("name") not in ("gbtree", None) or "model" not in gbm:
        raise Unsupported(f"XGBoost booster {gbm.get('name')!r}")
    trees, info = gbm["model"]["trees"], gbm["model"]["tree_info"]
    indptr = gbm["model"].get("iteration_indptr") or list(range(len(trees) + 1))
    end = indptr[iterations] if iterations else len(trees)
    trees, info = trees[indptr[start]:end], info[indptr[start]:end]
    params = model["learner_model_param"]
    n_outputs = max(int(params.get("num_class", 0)), int(params.get("num_target", 1)), 1)
    ints, thr, leaves, roots = [], [], [], []
    n_nodes = n_leaves = 0
    width = None
    for tree, group in zip(trees, info, strict=True):
        size = int(tree["tree_param"].get("size_leaf_vector", "1") or 1)
        size = max(size, 1)
        if width is None:
            width = size
        elif width != size:
            raise Unsupported("XGBoost trees of different leaf sizes")
        if any(tree.get("split_type", [])):
            raise Unsupported("XGBoost categorical splits")
        left = np.asarray(tree["left_children"], dtype=np.int64)
        right = np.asarray(tree["right_children"], dtype=np.int64)
        is_leaf = left == -1
        # Leaves are numbered in node order; a leaf's values: split_conditions (one output) or
        # its rows of the leaf vectors (``leaf_weights`` lists leaves in node order).
        leaf_of = np.cumsum(is_leaf) - 1
        internal_of = np.cumsum(~is_leaf) - 1
        # Parsed as float32 first: XGBoost adds these float32 values, and the JSON's shortest
        # decimals read straight into float64 would be other numbers.
        if size == 1:
            values = np.asarray(tree["split_conditions"], dtype=np.float32)[is_leaf]
        elif "leaf_weights" in tree:
            values = np.asarray(tree["leaf_weights"], dtype=np.float32)
        else:
            values = np.asarray(tree["base_weights"], dtype=np.float32).reshape(
                len(left), size)[is_leaf].ravel()
        values = values.astype(np.float64)

        inner = np.flatnonzero(~is_leaf)
        node = np.zeros((len(inner), 8), dtype=np.int64)
        node[:, 0] = np.asarray(tree["split_indices"], dtype=np.int64)[inner]
        for col, child in ((1, left[inner]), (2, right[inner])):
            node[:, col] = np.where(is_leaf[child], ~(leaf_of[child] + n_leaves),
                                    internal_of[child] + n_nodes)
        node[:, 3] = _XGB_NUM
        node[:, 4] = np.asarray(tree["default_left"], dtype=np.int64)[inner]
        ints.append(node)
        thr.append(np.asarray(tree["split_conditions"], dtype=np.float32)[inner]
                   .astype(np.float64))
        roots.append((~n_leaves if is_leaf[0] else n_nodes, 0 if size > 1 else int(group)))
        leaves.append(values)
        n_nodes += len(inner)
        n_leaves += int(is_leaf.sum())
    width = width or 1
    return Forest(
        np.concatenate(ints) if ints else np.zeros((0, 8), np.int64),
        np.concatenate(thr) if thr else np.zeros(0),
        np.zeros(0, np.uint32),
        np.concatenate(leaves) if leaves else np.zeros(0),
        np.array(roots, dtype=np.int64).reshape(-1, 2), width, n_outputs, np.zeros(n_outputs))


# -- the walk ------------------------------------------------------------------------------------


def _walk_python(X, feature, left, right, flags, threshold, cats, bits, leaves, roots, width,
                 out):  # pragma: no cover - compiled by numba below
    """The walk, for numba to compile (a plain-Python run is a reference, far too slow).
    ``flags``: missing type << 3 | default left << 2 | kind."""
    for r in range(X.shape[0]):
        for t in range(roots.shape[0]):
            node = roots[t, 0]
            while node >= 0:
                v = X[r, feature[node]]
                f = flags[node]
                kind = f & 3
                if kind == 0:
                    missing = (f >> 3) & 3
                    if np.isnan(v) and missing != 2:
                        v = 0.0
                    if (missing == 1 and -_ZERO <= v <= _ZERO) or (missing == 2 and np.isnan(v)):
                        go_left = (f >> 2) & 1 == 1
                    else:
                        go_left = v <= threshold[node]
                elif kind == 1:
                    go_left = False
                    if not np.isnan(v) and v > -1.0 and v < 2147483648.0:
                        c = int(v)
                        word = c >> 5
                        if word < cats[node, 1]:
                            go_left = ((bits[cats[node, 0] + word] >> (c & 31)) & 1) == 1
                else:
                    if np.isnan(v):
                        go_left = (f >> 2) & 1 == 1
                    else:
                        go_left = np.float32(v) < np.float32(threshold[node])
                node = left[node] if go_left else right[node]
            leaf = ~node
            start = roots[t, 1]
            for j in range(width):
                out[r, start + j] += leaves[leaf * width + j]


try:
    from numba import njit

    _walk = njit(cache=True, nogil=True)(_walk_python)
except ImportError:  # pragma: no cover - numba is a dependency; kept for odd installs
    _walk = _walk_python
