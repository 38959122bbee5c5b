"""Library sizes (total counts per cell) of each label, and drawing new ones."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def library_sizes_by_label(library_sizes: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Empirical library sizes of each label's training cells.

    Examples
    --------
    >>> import numpy as np
    >>> library_sizes_by_label(np.array([10, 20, 30]), np.array(["a", "b", "a"]))["a"]
    array([10, 30])
    """
    labels = np.asarray(labels).astype(str)
    return {lab: np.asarray(library_sizes)[labels == lab] for lab in dict.fromkeys(labels)}


def draw_library_sizes(
    library_sizes: Mapping[str, np.ndarray], labels: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Library sizes per cell, drawn from its label's empirical library sizes.

    ``library_sizes[label]`` holds one entry per training cell (or one row, when a cell's counts are
    split between groups of genes: rows are drawn whole, keeping the split of a real cell).

    Examples
    --------
    >>> import numpy as np
    >>> sizes = {"a": np.array([10.0]), "b": np.array([5.0, 7.0])}
    >>> draw_library_sizes(sizes, np.array(["a", "a"]), np.random.default_rng(0))
    array([10., 10.])
    """
    labels = np.asarray(labels).astype(str)
    first = np.asarray(next(iter(library_sizes.values())))
    out = np.empty((len(labels), *first.shape[1:]), dtype=np.float64)
    for lab in dict.fromkeys(labels):
        rows = labels == lab
        sizes = np.asarray(library_sizes[lab])
        out[rows] = sizes[rng.integers(0, len(sizes), size=int(rows.sum()))]
    return out
