"""The per-task choice: keep the independent model unless sharing wins beyond noise.

Every candidate (each mechanism the task fitted, and their blend) is compared with the
independent model on the same held-out rows: out-of-fold scores of all the task's labelled rows
where the task is small enough to have fold models for every mechanism, else its validation rows.

1. **Do the siblings tell anything about this task?** The siblings' GLM alone (the offset's
   start, fit without the task's row: out of fold) must beat a constant prediction by more than
   ``z1`` bootstrap standard errors, ``z1`` the one-sided normal quantile of
   :data:`FALSE_PICK_RATE`. Otherwise the independent model stays: with a sibling of pure noise
   this gate alone keeps false picks at that rate, whatever the candidates would show (a blend or
   a differently built model can beat the independent one by ensemble diversity alone, which is
   not what sharing is for).
2. **Does a candidate win beyond noise?** A candidate whose gain exceeds ``z`` paired-bootstrap
   standard errors wins (the largest such gain). ``z`` is a max-T critical value: over the
   bootstrap resamples, the ``1 - FALSE_PICK_RATE`` quantile of the best candidate's standardised
   gain under noise, so comparing several correlated candidates costs no more false picks than
   one.
3. **Label-scarce tasks take the blend when it is not worse.** Out-of-fold comparisons on a few
   hundred labelled rows cannot show gains of 0.01-0.03 AUC beyond noise (their standard error is
   about 0.02), yet those are what sharing measurably gives there (``benchmarks/RESULTS.md``,
   ablation). So a task decided out of fold whose siblings passed step 1 takes the blend unless
   the blend is worse than its independent model beyond noise (gain below ``-z`` standard errors).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from gbmtl._context import TaskPlan
from gbmtl.sharing._base import MechanismFit
from gbmtl.sharing._blend import NAME as BLEND
from gbmtl.sharing._scoring import information_gain, joint_gains

#: Share of fits in which a task whose siblings carry no information still leaves its
#: independent model, at most (one-sided).
FALSE_PICK_RATE = 0.10


@dataclass
class Decision:
    mechanism: str  # the chosen mechanism ("independent" when none won)
    basis: str  # "out-of-fold", "validation" or "" (nothing to compare on)
    gains: dict[str, tuple[float, float]] = field(default_factory=dict)  # mechanism: (gain, se)
    z: float = float("nan")
    reason: str = ""
    information: tuple[float, float] = (float("nan"), float("nan"))  # siblings' GLM vs constant


def _rows(plan: TaskPlan, fits: list[MechanismFit]) -> np.ndarray | None:
    """The rows every fit has held-out scores for."""
    if plan.out_of_fold:
        if any(f.oof is None for f in fits):
            return None
        rows = plan.enc.labelled
        ok = np.ones(len(rows), bool)
        for f in fits:
            ok &= np.isfinite(f.oof[rows]).all(axis=1)
        return rows[ok]
    if plan.val_rows is None or any(f.val is None for f in fits):
        return None
    return plan.val_rows


def _held_out(plan: TaskPlan, fit: MechanismFit, rows: np.ndarray) -> np.ndarray:
    return fit.oof[rows] if plan.out_of_fold else fit.val


def decide(plan: TaskPlan, fits: dict[str, MechanismFit], seed: int,
           information: tuple[np.ndarray, np.ndarray] | None = None) -> Decision:
    """Choose the task's mechanism (see the module docstring). ``information`` holds the rows
    and held-out raw scores of the siblings' GLM alone."""
    basis = "out-of-fold" if plan.out_of_fold else "validation"
    names = [m for m in [*plan.mechanisms, BLEND] if m in fits]
    if not names:
        reason = ("no sibling predicts its own labels beyond noise "
                  f"({', '.join(plan.unskilled)})" if plan.unskilled
                  else "no sharing mechanism to compare")
        return Decision("independent", "", {}, reason=reason)
    usable = [m for m in names if _rows(plan, [fits["independent"], fits[m]]) is not None]
    rows = _rows(plan, [fits["independent"]] + [fits[m] for m in usable]) if usable else None
    gains: dict[str, tuple[float, float]] = {m: (np.nan, np.nan) for m in names}
    z = float("nan")
    if rows is not None and len(rows) >= 2:
        try:
            g, se, z = joint_gains(
                plan, rows, _held_out(plan, fits["independent"], rows),
                {m: _held_out(plan, fits[m], rows) for m in usable}, seed, FALSE_PICK_RATE)
            gains.update({m: (g[m], se[m]) for m in usable})
        except ValueError:  # e.g. a single class among the compared rows
            pass
    info = (np.nan, np.nan)
    if information is not None and len(information[0]) >= 2:
        try:
            info = information_gain(plan, *information, seed + 7)
        except ValueError:
            pass
    if plan.forced:
        return Decision(plan.forced, basis, gains, z, "forced by sharing", info)
    z1 = NormalDist().inv_cdf(1 - FALSE_PICK_RATE)
    if not (np.isfinite(info[0]) and info[0] > z1 * info[1]):
        return Decision("independent", basis, gains, z,
                        f"siblings carry no information beyond noise (their GLM alone "
                        f"{info[0]:+.4g} over a constant, se {info[1]:.3g})", info)
    winners = {m: g for m, (g, se) in gains.items() if np.isfinite(g) and g > z * se}
    if winners:
        best = max(winners, key=winners.get)
        g, se = gains[best]
        return Decision(best, basis, gains, z, f"gain {g:.4g} > {z:.2f} x se {se:.3g}", info)
    blend_g, blend_se = gains.get(BLEND, (np.nan, np.nan))
    if plan.out_of_fold and np.isfinite(blend_g) and blend_g > -z * blend_se:
        return Decision(BLEND, basis, gains, z,
                        f"label-scarce, siblings informative (GLM alone {info[0]:+.4g} over a "
                        f"constant, se {info[1]:.3g}), blend not worse beyond noise "
                        f"({blend_g:+.4g}, se {blend_se:.3g})", info)
    return Decision("independent", basis, gains, z,
                    f"no candidate gained more than {z:.2f} standard errors", info)
