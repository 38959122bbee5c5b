"""Per-cell data of the fidelity dashboard: a label-stratified subsample and its QC values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._marginals import cell_qc
from ._sets import ComparisonSets

MAX_PLOT_CELLS = 1000  # per set, for the dashboard (rare labels kept whole)


def plot_subsample(labels: np.ndarray, max_cells: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of about ``max_cells`` cells, every label kept in proportion but at least 100 cells."""
    if len(labels) <= max_cells:
        return np.arange(len(labels))
    keep = []
    for label in pd.unique(labels):
        idx = np.flatnonzero(labels == label)
        n = min(len(idx), max(100, round(max_cells * len(idx) / len(labels))))
        keep.append(rng.choice(idx, size=n, replace=False))
    return np.sort(np.concatenate(keep))


def plot_cells(sets: ComparisonSets, keep_ref: np.ndarray, keep_syn: np.ndarray) -> pd.DataFrame:
    """Per-cell data of the dashboard for the chosen held-out real and synthetic cells."""
    lib_ref, zeros_ref = cell_qc(sets.matrix("reference")[keep_ref])
    lib_syn, zeros_syn = cell_qc(sets.matrix("synthetic")[keep_syn])
    return pd.DataFrame(
        {
            "origin": pd.Categorical(
                ["real"] * len(keep_ref) + ["synthetic"] * len(keep_syn), categories=["real", "synthetic"]
            ),
            "label": np.concatenate([sets.y_ref[keep_ref], sets.y_syn[keep_syn]]).astype(str),
            "rem": np.concatenate([sets.rem_ref[keep_ref], sets.rem_syn[keep_syn]]),
            "library_size": np.concatenate([lib_ref, lib_syn]),
            "sparsity": np.concatenate([zeros_ref, zeros_syn]),
        }
    )
