"""Plots: the fidelity dashboard and its panels (scanpy conventions: ``ax``, ``show``, ``save``)."""

from ._correlation import fidelity_correlation
from ._dashboard import fidelity
from ._downsampling import downsampling
from ._imbalance import imbalance
from ._qc import fidelity_library_size, fidelity_sparsity
from ._rem import fidelity_rem
from ._scores import fidelity_scores
from ._umap import fidelity_umap

__all__ = [
    "downsampling",
    "fidelity",
    "fidelity_correlation",
    "fidelity_library_size",
    "fidelity_rem",
    "fidelity_scores",
    "fidelity_sparsity",
    "fidelity_umap",
    "imbalance",
]
