"""The torch modules behind :class:`~gbmtl.baselines.NeuralMultiTask`, and their training loop.

Every model maps ``(x_numeric float (n, p), x_codes int64 (n, c))`` to a list with one output
tensor per task, of width 1 (binary logit, standardized regression value) or ``n_classes``
(multiclass logits). This module imports torch at import time; only
:mod:`gbmtl.baselines.neural` imports it, and only when a model is fitted.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "ARCHITECTURES",
    "FeatureInput",
    "SingleTaskNets",
    "SharedBottom",
    "CrossStitch",
    "MMoE",
    "PLE",
    "build_model",
    "train_model",
]

logger = logging.getLogger("gbmtl.baselines.neural")


def mlp(in_dim: int, units: Sequence[int], dropout: float) -> tuple[nn.Module, int]:
    """A ReLU MLP (Linear, ReLU, Dropout per layer) and its output width; identity if no units."""
    layers: list[nn.Module] = []
    width = in_dim
    for n in units:
        layers += [nn.Linear(width, n), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = n
    return (nn.Sequential(*layers) if layers else nn.Identity()), width


class FeatureInput(nn.Module):
    """Concatenate numeric inputs with one embedding per categorical column.

    Row 0 of every table (the unknown category) starts at zero, so an unseen category enters the
    network as the neutral vector rather than a random one.
    """

    def __init__(self, n_numeric: int, cardinalities: Sequence[int], embedding_dims: Sequence[int]):
        super().__init__()
        self.embeddings = nn.ModuleList(
            nn.Embedding(card, dim) for card, dim in zip(cardinalities, embedding_dims, strict=True)
        )
        with torch.no_grad():
            for emb in self.embeddings:
                emb.weight[0].zero_()
        self.out_dim = n_numeric + sum(embedding_dims)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        parts = [x_num] + [emb(x_cat[:, j]) for j, emb in enumerate(self.embeddings)]
        return torch.cat(parts, dim=1)


class Head(nn.Module):
    """A task tower (MLP) followed by the linear output layer."""

    def __init__(self, in_dim: int, tower_units: Sequence[int], n_out: int, dropout: float):
        super().__init__()
        self.tower, width = mlp(in_dim, tower_units, dropout)
        self.out = nn.Linear(width, n_out)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.out(self.tower(h))


class SingleTaskNets(nn.Module):
    """One fully independent network per task (own embeddings, MLP, tower): the no-sharing baseline.

    Training the tasks jointly is equivalent to training them one by one: no parameter is shared,
    a task's loss only reaches its own column, and Adam's state is per parameter.
    """

    def __init__(self, inputs, n_outputs, hidden_units, tower_units, dropout):
        super().__init__()
        self.inputs = nn.ModuleList(FeatureInput(*inputs) for _ in n_outputs)
        self.bottoms = nn.ModuleList()
        self.heads = nn.ModuleList()
        for feat, n_out in zip(self.inputs, n_outputs, strict=True):
            bottom, width = mlp(feat.out_dim, hidden_units, dropout)
            self.bottoms.append(bottom)
            self.heads.append(Head(width, tower_units, n_out, dropout))

    def task_modules(self, t: int) -> list[nn.Module]:
        """The modules that belong to task ``t`` alone (for per-task early stopping)."""
        return [self.inputs[t], self.bottoms[t], self.heads[t]]

    def forward(self, x_num, x_cat):
        return [
            head(bottom(feat(x_num, x_cat)))
            for feat, bottom, head in zip(self.inputs, self.bottoms, self.heads, strict=True)
        ]


class SharedBottom(nn.Module):
    """Hard parameter sharing (Caruana 1997): one shared MLP, one tower per task."""

    def __init__(self, inputs, n_outputs, hidden_units, tower_units, dropout):
        super().__init__()
        self.input = FeatureInput(*inputs)
        self.bottom, width = mlp(self.input.out_dim, hidden_units, dropout)
        self.heads = nn.ModuleList(Head(width, tower_units, k, dropout) for k in n_outputs)

    def forward(self, x_num, x_cat):
        h = self.bottom(self.input(x_num, x_cat))
        return [head(h) for head in self.heads]


class CrossStitch(nn.Module):
    """Soft sharing: one MLP column per task, mixed after every layer by cross-stitch units.

    Misra et al., "Cross-stitch Networks for Multi-task Learning", CVPR 2016: after layer ``l``
    the task activations are replaced by ``h_t <- sum_s alpha[l, t, s] h_s``. Each unit is
    initialised as in the paper, 0.9 on the diagonal and the remaining 0.1 spread over the other
    tasks. The input embeddings are shared by the columns.
    """

    def __init__(self, inputs, n_outputs, hidden_units, tower_units, dropout):
        super().__init__()
        n_tasks = len(n_outputs)
        self.input = FeatureInput(*inputs)
        self.columns = nn.ModuleList()
        width = self.input.out_dim
        for units in hidden_units:
            self.columns.append(
                nn.ModuleList(mlp(width, [units], dropout)[0] for _ in range(n_tasks))
            )
            width = units
        off = 0.1 / (n_tasks - 1) if n_tasks > 1 else 0.0
        init = torch.full((n_tasks, n_tasks), off)
        init.fill_diagonal_(0.9 if n_tasks > 1 else 1.0)
        self.alpha = nn.Parameter(init.repeat(len(hidden_units), 1, 1))
        self.heads = nn.ModuleList(Head(width, tower_units, k, dropout) for k in n_outputs)

    def forward(self, x_num, x_cat):
        x = self.input(x_num, x_cat)
        hs = [x for _ in self.heads]
        for layer, column in enumerate(self.columns):
            stacked = torch.stack([f(h) for f, h in zip(column, hs, strict=True)])  # (T, n, d)
            mixed = torch.einsum("ts,snd->tnd", self.alpha[layer], stacked)
            hs = list(mixed.unbind(0))
        return [head(h) for head, h in zip(self.heads, hs, strict=True)]


def _gated_sum(gate_logits: torch.Tensor, experts: torch.Tensor) -> torch.Tensor:
    """Softmax-gated mixture: gates (n, E), experts (n, E, d) -> (n, d)."""
    weights = torch.softmax(gate_logits, dim=1).unsqueeze(-1)
    return (weights * experts).sum(dim=1)


class MMoE(nn.Module):
    """Multi-gate Mixture-of-Experts (Ma et al., KDD 2018).

    Shared experts (MLPs) on the input; each task mixes them with its own softmax gate, a linear
    map of the input, and feeds the mixture to its tower.
    """

    def __init__(self, inputs, n_outputs, expert_units, n_experts, tower_units, dropout):
        super().__init__()
        self.input = FeatureInput(*inputs)
        d_in = self.input.out_dim
        built = [mlp(d_in, expert_units, dropout) for _ in range(n_experts)]
        self.experts = nn.ModuleList(e for e, _ in built)
        width = built[0][1]
        self.gates = nn.ModuleList(nn.Linear(d_in, n_experts) for _ in n_outputs)
        self.heads = nn.ModuleList(Head(width, tower_units, k, dropout) for k in n_outputs)

    def forward(self, x_num, x_cat):
        x = self.input(x_num, x_cat)
        experts = torch.stack([e(x) for e in self.experts], dim=1)  # (n, E, d)
        return [
            head(_gated_sum(gate(x), experts))
            for gate, head in zip(self.gates, self.heads, strict=True)
        ]


class _CGCLevel(nn.Module):
    """One Customized Gate Control level of PLE: task-specific and shared experts, gated per task.

    Task ``t``'s gate mixes its own experts and the shared ones; the shared gate (all levels but
    the last) mixes every expert and feeds the shared experts of the next level.
    """

    def __init__(self, in_dim, n_tasks, n_task_experts, n_shared_experts, units, dropout, last):
        super().__init__()
        self.n_task_experts = n_task_experts
        self.task_experts = nn.ModuleList(
            nn.ModuleList(mlp(in_dim, units, dropout)[0] for _ in range(n_task_experts))
            for _ in range(n_tasks)
        )
        self.shared_experts = nn.ModuleList(
            mlp(in_dim, units, dropout)[0] for _ in range(n_shared_experts)
        )
        self.out_dim = units[-1] if units else in_dim
        self.task_gates = nn.ModuleList(
            nn.Linear(in_dim, n_task_experts + n_shared_experts) for _ in range(n_tasks)
        )
        self.shared_gate = (
            None if last else nn.Linear(in_dim, n_tasks * n_task_experts + n_shared_experts)
        )

    def forward(self, task_inputs, shared_input):
        shared = [e(shared_input) for e in self.shared_experts]
        own = [
            [e(x) for e in experts]
            for experts, x in zip(self.task_experts, task_inputs, strict=True)
        ]
        task_out = [
            _gated_sum(gate(x), torch.stack(mine + shared, dim=1))
            for gate, x, mine in zip(self.task_gates, task_inputs, own, strict=True)
        ]
        shared_out = None
        if self.shared_gate is not None:
            everything = [h for mine in own for h in mine] + shared
            shared_out = _gated_sum(self.shared_gate(shared_input), torch.stack(everything, dim=1))
        return task_out, shared_out


class PLE(nn.Module):
    """Progressive Layered Extraction (Tang et al., RecSys 2020): stacked CGC levels, then towers."""

    def __init__(
        self,
        inputs,
        n_outputs,
        expert_units,
        n_task_experts,
        n_shared_experts,
        n_levels,
        tower_units,
        dropout,
    ):
        super().__init__()
        self.input = FeatureInput(*inputs)
        n_tasks = len(n_outputs)
        self.levels = nn.ModuleList()
        width = self.input.out_dim
        for level in range(n_levels):
            cgc = _CGCLevel(
                width,
                n_tasks,
                n_task_experts,
                n_shared_experts,
                expert_units,
                dropout,
                last=level == n_levels - 1,
            )
            self.levels.append(cgc)
            width = cgc.out_dim
        self.heads = nn.ModuleList(Head(width, tower_units, k, dropout) for k in n_outputs)

    def forward(self, x_num, x_cat):
        x = self.input(x_num, x_cat)
        task_inputs, shared = [x for _ in self.heads], x
        for level in self.levels:
            task_inputs, shared = level(task_inputs, shared)
        return [head(h) for head, h in zip(self.heads, task_inputs, strict=True)]


ARCHITECTURES = ("single", "shared_bottom", "cross_stitch", "mmoe", "ple")


def build_model(architecture: str, inputs: tuple, n_outputs: Sequence[int], **p) -> nn.Module:
    """Instantiate ``architecture`` for inputs ``(n_numeric, cardinalities, embedding_dims)``.

    ``p`` holds the resolved hyper-parameters (see ``NeuralMultiTask``).
    """
    common = {"inputs": inputs, "n_outputs": list(n_outputs), "dropout": p["dropout"]}
    if architecture == "single":
        return SingleTaskNets(
            hidden_units=p["hidden_units"], tower_units=p["tower_units"], **common
        )
    if architecture == "shared_bottom":
        return SharedBottom(hidden_units=p["hidden_units"], tower_units=p["tower_units"], **common)
    if architecture == "cross_stitch":
        return CrossStitch(hidden_units=p["hidden_units"], tower_units=p["tower_units"], **common)
    if architecture == "mmoe":
        return MMoE(
            expert_units=p["expert_units"],
            n_experts=p["n_experts"],
            tower_units=p["tower_units"],
            **common,
        )
    if architecture == "ple":
        return PLE(
            expert_units=p["expert_units"],
            n_task_experts=p["n_task_experts"],
            n_shared_experts=p["n_shared_experts"],
            n_levels=p["n_levels"],
            tower_units=p["tower_units"],
            **common,
        )
    raise ValueError(f"unknown architecture {architecture!r}; expected one of {ARCHITECTURES}")


# ---------------------------------------------------------------------- training


@dataclass
class TrainResult:
    """What the training loop reports back to the estimator."""

    best_epoch: dict[str, int]
    n_epochs: int
    history: list[dict]


def _task_losses(outputs, y, kinds):
    """Per task ``(sum of losses over labelled rows, number of labelled rows)``; NaN = no label."""
    out = []
    for t, (pred, kind) in enumerate(zip(outputs, kinds, strict=True)):
        target = y[:, t]
        mask = ~torch.isnan(target)
        count = int(mask.sum())
        if count == 0:
            out.append((None, 0))
            continue
        pred, target = pred[mask], target[mask]
        if kind == "binary":
            loss = F.binary_cross_entropy_with_logits(pred[:, 0], target, reduction="sum")
        elif kind == "multiclass":
            loss = F.cross_entropy(pred, target.long(), reduction="sum")
        else:
            loss = F.mse_loss(pred[:, 0], target, reduction="sum")
        out.append((loss, count))
    return out


def _evaluate(module, data, kinds, chunk=16384) -> list[float | None]:
    """Mean loss per task over the labelled rows of ``data``; None where a task has none."""
    xn, xc, y = data
    sums = [0.0] * len(kinds)
    counts = [0] * len(kinds)
    module.eval()
    with torch.no_grad():
        for start in range(0, len(y), chunk):
            sl = slice(start, start + chunk)
            for t, (s, c) in enumerate(_task_losses(module(xn[sl], xc[sl]), y[sl], kinds)):
                if c:
                    sums[t] += float(s)
                    counts[t] += c
    return [s / c if c else None for s, c in zip(sums, counts, strict=True)]


def _snapshot(modules: Sequence[nn.Module]) -> list[dict]:
    return [copy.deepcopy(m.state_dict()) for m in modules]


def train_model(
    module: nn.Module,
    train: tuple,
    val: tuple | None,
    *,
    kinds: Sequence[str],
    names: Sequence[str],
    weights: Sequence[float],
    per_task_stopping: bool,
    learning_rate: float,
    weight_decay: float,
    batch_size: int,
    max_epochs: int,
    patience: int,
    device: str,
    seed: int,
    verbose: int = 0,
) -> TrainResult:
    """Adam on the weighted sum of per-task masked mean losses, with early stopping.

    Every mini-batch loss is ``sum_t w_t * mean(loss_t over the rows labelled for t)``; a task
    with no labelled row in a batch adds nothing. After each epoch the validation loss of each
    task (its mean over the labelled validation rows; the epoch's training loss for a task with
    no validation labels) is monitored: their weighted sum for shared models, or each task on its
    own when ``per_task_stopping`` (independent networks, whose stopped tasks are frozen). The
    weights of the best epoch are restored. Without ``val``, all ``max_epochs`` are run.
    """
    xn, xc, y = (t.to(device) for t in train)
    val = tuple(t.to(device) for t in val) if val is not None else None
    n_tasks = len(kinds)
    optimizer = torch.optim.Adam(module.parameters(), lr=learning_rate, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    has_val = (
        [bool((~torch.isnan(val[2][:, t])).any()) for t in range(n_tasks)]
        if val is not None
        else [False] * n_tasks
    )
    for t in range(n_tasks):
        if val is not None and not has_val[t]:
            logger.warning(
                "task %r has no validation labels; monitoring its training loss", names[t]
            )
    if per_task_stopping:
        groups = [[t] for t in range(n_tasks)]
        group_modules = [module.task_modules(t) for t in range(n_tasks)]
    else:
        groups = [list(range(n_tasks))]
        group_modules = [[module]]
    best = [math.inf] * len(groups)
    best_epoch = [0] * len(groups)
    best_state: list[list[dict] | None] = [None] * len(groups)
    wait = [0] * len(groups)
    active = [True] * n_tasks
    history: list[dict] = []
    level = logging.INFO if verbose else logging.DEBUG
    n = len(y)
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        module.train()
        order = torch.randperm(n, generator=generator).to(device)
        sums = [0.0] * n_tasks
        counts = [0] * n_tasks
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            terms = []
            for t, (s, c) in enumerate(_task_losses(module(xn[idx], xc[idx]), y[idx], kinds)):
                if c == 0 or weights[t] == 0 or not active[t]:
                    continue
                terms.append(weights[t] * s / c)
                sums[t] += float(s.detach())
                counts[t] += c
            if not terms:
                continue
            optimizer.zero_grad(set_to_none=True)
            torch.stack(terms).sum().backward()
            optimizer.step()
        train_loss = [s / c if c else None for s, c in zip(sums, counts, strict=True)]
        val_loss = _evaluate(module, val, kinds) if val is not None else [None] * n_tasks
        history.append(
            {
                "epoch": epoch,
                "train": dict(zip(names, train_loss, strict=True)),
                "valid": dict(zip(names, val_loss, strict=True)),
            }
        )
        logger.log(
            level, "epoch %d: train %s valid %s", epoch, history[-1]["train"], history[-1]["valid"]
        )
        if val is None:
            continue
        for g, members in enumerate(groups):
            if not any(active[t] for t in members):
                continue
            monitored = [
                weights[t] * (val_loss[t] if has_val[t] else train_loss[t])
                for t in members
                if weights[t] > 0 and (val_loss[t] if has_val[t] else train_loss[t]) is not None
            ]
            score = sum(monitored) if monitored else math.inf
            if math.isfinite(score) and score < best[g]:
                best[g], best_epoch[g], wait[g] = score, epoch, 0
                best_state[g] = _snapshot(group_modules[g])
            else:
                wait[g] += 1
                if wait[g] >= patience:
                    for t in members:
                        active[t] = False
        if not any(active):
            break
    for g, state in enumerate(best_state):
        if state is None:
            best_epoch[g] = epoch  # never validated (or never finite): keep the last weights
            continue
        for m, s in zip(group_modules[g], state, strict=True):
            m.load_state_dict(s)
    per_task = {names[t]: best_epoch[g] for g, members in enumerate(groups) for t in members}
    return TrainResult(best_epoch=per_task, n_epochs=epoch, history=history)
