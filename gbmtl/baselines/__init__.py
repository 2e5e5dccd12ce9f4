"""Baselines that gbmtl is benchmarked against.

:class:`NeuralMultiTask` holds the neural multi-task architectures (independent networks, shared
bottom, cross-stitch, MMoE, PLE). It needs PyTorch, the ``bench`` extra
(``pip install "gbmtl[bench]"``), which is imported only when a model is fitted.
"""

from gbmtl.baselines.neural import ARCHITECTURES, NeuralMultiTask

__all__ = ["ARCHITECTURES", "NeuralMultiTask"]
