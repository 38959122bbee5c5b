"""Precision, recall, density and coverage on k-NN manifolds (Naeem et al. 2020), per label."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist

from ._utils import ALL, as_labels, concat, rows, subsample

_CHUNK = 2048
METRICS = ("precision", "recall", "density", "coverage")


def prdc(
    real: np.ndarray,
    synthetic: np.ndarray,
    *,
    real_labels=None,
    synthetic_labels=None,
    labels=None,
    n_neighbors: int = 5,
    max_cells: int | None = 5000,
    random_state: int = 0,
    overall: bool = True,
) -> pd.DataFrame:
    """Precision, recall, density and coverage of synthetic cells against real cells.

    Each real cell spans a ball to its k-th nearest real neighbour. *Precision*: share of synthetic
    cells inside some real ball (realism); *density*: how many real balls contain a synthetic cell on
    average, divided by k (≈ 1 for matching distributions); *coverage*: share of real cells whose
    ball contains a synthetic cell (diversity); *recall*: share of real cells inside some ball of the
    synthetic manifold. Per label, real and synthetic cells of that label are compared with each
    other, which exposes a dropped or collapsed label that overall values average away.

    Parameters
    ----------
    real
        Held-out real cells x features.
    synthetic
        Synthetic cells x features.
    real_labels, synthetic_labels
        Labels of the cells (both or neither).
    labels
        Labels to report (default: every label of the real cells). A label without synthetic cells
        gets recall and coverage 0 (nothing of it was generated) and no precision or density.
    n_neighbors
        k of the k-NN balls (smaller for labels with few cells).
    max_cells
        Cells per set at most, overall and per label (random subsample; the cost is quadratic).
    random_state
        Seed of the subsampling.
    overall
        Whether to compute the overall (label ``"all"``) value.

    Returns
    -------
    Tidy table with metrics ``"precision"``, ``"recall"``, ``"density"``, ``"coverage"``.

    Examples
    --------
    >>> import numpy as np, scaug
    >>> rng = np.random.default_rng(0)
    >>> t = scaug.metrics.prdc(rng.normal(size=(300, 5)), rng.normal(size=(300, 5)))
    >>> bool(t.set_index("metric")["value"]["coverage"] > 0.8)
    True
    """
    real_labels = as_labels(real_labels, len(real))
    synthetic_labels = as_labels(synthetic_labels, len(synthetic))
    rng = np.random.default_rng(random_state)
    values = {m: {} for m in METRICS}
    if overall:
        _fill(values, ALL, real, synthetic, n_neighbors, max_cells, rng)
    if real_labels is not None and synthetic_labels is not None:
        for label in pd.unique(real_labels) if labels is None else labels:
            r, s = real[real_labels == label], synthetic[synthetic_labels == label]
            _fill(values, label, r, s, n_neighbors, max_cells, rng)
    return concat([rows(m, values[m]) for m in METRICS])


def _fill(values, label, real, synthetic, n_neighbors, max_cells, rng) -> None:
    real = real[subsample(len(real), max_cells, rng)]
    synthetic = synthetic[subsample(len(synthetic), max_cells, rng)]
    for metric, value in prdc_arrays(real, synthetic, n_neighbors=n_neighbors).items():
        values[metric][label] = value


def prdc_arrays(real: np.ndarray, synthetic: np.ndarray, *, n_neighbors: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of two point sets (no subsampling)."""
    if len(real) < 2:
        return dict.fromkeys(METRICS, np.nan)
    if len(synthetic) == 0:
        return {"precision": np.nan, "recall": 0.0, "density": np.nan, "coverage": 0.0}
    k_real = min(n_neighbors, len(real) - 1)
    real_radii = kth_neighbour_distance(real, k_real)
    syn_radii = kth_neighbour_distance(synthetic, min(n_neighbors, len(synthetic) - 1))
    n_balls = np.zeros(len(synthetic))  # real balls containing each synthetic cell
    covered = np.zeros(len(real), dtype=bool)  # real balls containing a synthetic cell
    recalled = np.zeros(len(real), dtype=bool)  # real cells inside a synthetic ball
    for start in range(0, len(synthetic), _CHUNK):
        stop = min(start + _CHUNK, len(synthetic))
        dist = cdist(synthetic[start:stop], real)
        inside_real = dist <= real_radii[None, :]
        n_balls[start:stop] = inside_real.sum(axis=1)
        covered |= inside_real.any(axis=0)
        recalled |= (dist <= syn_radii[start:stop, None]).any(axis=0)
    return {
        "precision": float((n_balls > 0).mean()),
        "recall": float(recalled.mean()),
        "density": float(n_balls.sum() / (k_real * len(synthetic))),
        "coverage": float(covered.mean()),
    }


def kth_neighbour_distance(x: np.ndarray, k: int) -> np.ndarray:
    """Distance of each point to its k-th nearest other point (0 when ``k`` is 0)."""
    if k < 1:
        return np.zeros(len(x))
    out = np.empty(len(x))
    for start in range(0, len(x), _CHUNK):
        dist = cdist(x[start : start + _CHUNK], x)
        out[start : start + _CHUNK] = np.partition(dist, k, axis=1)[:, k]  # index 0 is the point itself
    return out
