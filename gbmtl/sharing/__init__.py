"""Sharing between tasks: the mechanisms, their registry, and the per-task choice.

- ``"independent"``: one booster per task (no sharing; always fitted, the baseline);
- ``"offset"``: soft sharing, trees boosting from a GLM on the siblings' scores;
- ``"stacking"``: the siblings' out-of-fold predictions as extra columns;
- ``"shared_trees"``: hard sharing, one ensemble of multi-output trees over all tasks;
- ``"blend"``: the average of the independent model and the mechanisms a task fitted.

A new mechanism is one module with a ``Mechanism`` and its fitted ``SharingModel`` (see
:mod:`gbmtl.sharing._base`) plus its entries here.
"""

from gbmtl.sharing._base import Mechanism, MechanismFit, SharingModel
from gbmtl.sharing._blend import BlendModel
from gbmtl.sharing._independent import Independent, IndependentModel
from gbmtl.sharing._offset import Offset, OffsetModel
from gbmtl.sharing._shared_trees import SharedTrees, SharedTreesModel
from gbmtl.sharing._stacking import Stacking, StackingModel

#: Mechanism name -> the class that fits it, in the order a fit runs them.
MECHANISMS: dict[str, type] = {
    "independent": Independent,
    "offset": Offset,
    "stacking": Stacking,
    "shared_trees": SharedTrees,
}
#: Mechanism name -> its fitted model class (what a saved model is read back into).
FITTED: dict[str, type] = {
    "independent": IndependentModel,
    "offset": OffsetModel,
    "stacking": StackingModel,
    "shared_trees": SharedTreesModel,
    "blend": BlendModel,
}
#: Mechanisms that read their siblings' scores (they need a sibling to do anything).
SIBLING_MECHANISMS = ("offset", "stacking")
SHARING_NAMES = tuple(m for m in MECHANISMS if m != "independent")
#: What ``sharing`` may name: the mechanisms, and their blend (the equal-weight average of the
#: independent model and every mechanism the task fits; see :mod:`gbmtl.sharing._blend`).
CHOICES = (*SHARING_NAMES, "blend")

__all__ = ["CHOICES", "FITTED", "MECHANISMS", "Mechanism", "MechanismFit", "SHARING_NAMES",
           "SIBLING_MECHANISMS", "SharingModel"]
